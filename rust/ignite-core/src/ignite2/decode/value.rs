//! One Ignite 2 binary value (a type code and its body) into a column builder: the kind of column
//! each type code fills, handles and wrapped objects followed to their targets, and the short
//! path for a primitive of its column's own kind.

use crate::decode::column_builder::{ColumnBuilder, DecodeOptions};
use crate::decode::value_kind::ValueKind;
use crate::error::{Error, Result};
use crate::ignite2::decode::budget::Budget;
use crate::ignite2::decode::object::push_object;
use crate::ignite2::format::decimal::read_decimal;
use crate::ignite2::format::metadata::TypeResolver;
use crate::ignite2::format::values::{
    handle_target, read_timestamp_nanos, wrapped_span, MAX_DEPTH,
};
use crate::ignite2::protocol::{type_code as tc, type_code_name};
use crate::ignite2::wire::Reader;
use crate::kinds::{PrimKind, ScalarKind};

/// The kind of column that values of `code` fill (`options` picks the form of decimals); `None`
/// for codes this version does not decode. The common codes are tested first, in a few
/// well-predicted compares; the others in a function of their own.
#[inline(always)]
pub fn value_kind(code: u8, options: DecodeOptions) -> Option<ValueKind> {
    match code {
        tc::STRING => Some(ValueKind::Text),
        tc::OBJECT => Some(ValueKind::Struct),
        tc::BYTE..=tc::BOOL => {
            PrimKind::from_code(code).map(|k| ValueKind::Scalar(ScalarKind::Prim(k)))
        }
        tc::BYTE_ARR..=tc::BOOL_ARR => PrimKind::from_array_code(code).map(ValueKind::PrimArray),
        _ => other_value_kind(code, options),
    }
}

fn other_value_kind(code: u8, options: DecodeOptions) -> Option<ValueKind> {
    Some(match code {
        tc::DECIMAL if options.decimal_as_string => ValueKind::DecimalText,
        tc::UUID
        | tc::DATE
        | tc::TIMESTAMP
        | tc::TIME
        | tc::ENUM
        | tc::BINARY_ENUM
        | tc::DECIMAL => ValueKind::Scalar(ScalarKind::from_code(code)?),
        // a count of full values of any kind each: lists
        tc::STRING_ARR
        | tc::UUID_ARR
        | tc::DATE_ARR
        | tc::DECIMAL_ARR
        | tc::TIMESTAMP_ARR
        | tc::TIME_ARR
        | tc::OBJ_ARR
        | tc::ENUM_ARR
        | tc::COLLECTION => ValueKind::List(type_code_name(code)),
        tc::MAP => ValueKind::Map,
        _ => return None,
    })
}

/// Appends a primitive of the column's own kind (a double field's double, say) without the
/// general path's checks and dispatch, and returns the position past it; `None` (nothing
/// appended) for anything else, which takes the general path. Object fields take this way for
/// nearly every value of a table of numbers, keys for nearly every key.
#[inline(always)]
pub fn push_own_scalar(column: &mut ColumnBuilder, buf: &[u8], pos: usize) -> Option<usize> {
    let slot = column.prim_slot()?;
    let kind = slot.kind();
    if *buf.get(pos)? != kind.code() {
        return None;
    }
    let end = pos + 1 + kind.size();
    slot.push(buf.get(pos + 1..end)?);
    Some(end)
}

/// Appends a string to a column of strings without the general path's dispatch, and returns
/// the position past it; `None` (nothing read or spent) for anything else, or a length that the
/// general path must name as wrong. Spends `units` besides a unit a byte. Text fields take this
/// way for nearly every value.
#[inline(always)]
fn push_own_text(
    column: &mut ColumnBuilder,
    buf: &[u8],
    pos: usize,
    units: usize,
    budget: &mut Budget,
) -> Option<Result<usize>> {
    if *buf.get(pos)? != tc::STRING {
        return None;
    }
    let slot = column.text_slot()?;
    let len = i32::from_le_bytes(buf.get(pos + 1..pos + 5)?.try_into().ok()?);
    let start = pos + 5;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let text = buf.get(start..end)?;
    Some(
        budget
            .spend(units + text.len())
            .and_then(|()| slot.push(text))
            .map(|()| end),
    )
}

/// Decodes an object's field at `pos` into `column`, the short paths first, inline (an object's
/// fields are most of the values a page holds): a primitive of the column's own kind costs no
/// unit (its row paid for its footer entry), a string of a text column the unit and depth check
/// that [`push_value_within`] would have, and anything else takes that.
#[inline(always)]
pub(crate) fn push_field(
    column: &mut ColumnBuilder,
    buf: &[u8],
    pos: usize,
    types: &mut dyn TypeResolver,
    depth: u32,
    budget: &mut Budget,
) -> Result<()> {
    if push_own_scalar(column, buf, pos).is_some() {
        return Ok(());
    }
    if depth <= MAX_DEPTH {
        if let Some(pushed) = push_own_text(column, buf, pos, 1, budget) {
            return pushed.map(drop);
        }
    }
    push_value_within(column, buf, pos, types, depth, budget).map(drop)
}

/// Decodes the value at `pos` into `column` and returns the position just past it, within a
/// [`Budget`] of its own sized for all of `buf`. `depth` bounds nesting against hostile input.
pub fn push_value(
    column: &mut ColumnBuilder,
    buf: &[u8],
    pos: usize,
    types: &mut dyn TypeResolver,
    depth: u32,
) -> Result<usize> {
    let mut budget = Budget::for_page(buf.len());
    push_value_within(column, buf, pos, types, depth, &mut budget)
}

/// As [`push_value`], spending from `budget` (a page's): every value costs a unit, and every
/// byte its text or array copies one more.
pub fn push_value_within(
    column: &mut ColumnBuilder,
    buf: &[u8],
    pos: usize,
    types: &mut dyn TypeResolver,
    depth: u32,
    budget: &mut Budget,
) -> Result<usize> {
    if depth > MAX_DEPTH {
        return Err(Error::protocol(format!(
            "values nested deeper than {MAX_DEPTH} levels"
        )));
    }
    budget.spend(1)?;
    if let Some(end) = push_own_scalar(column, buf, pos) {
        return Ok(end);
    }
    if let Some(end) = push_own_text(column, buf, pos, 0, budget) {
        return end;
    }
    if buf.get(pos) == Some(&tc::OBJECT) && column.holds_structs() {
        // an object into a column of objects (a scan's values): without the kind dispatch
        return column.push_struct(|s| push_object(s, buf, pos, types, depth, budget));
    }
    let mut r = Reader::at(buf, pos)?;
    let code = r.u8()?;
    match code {
        tc::NULL => {
            column.push_null();
            return Ok(pos + 1);
        }
        tc::HANDLE => {
            // decoded again in full: a child shared by two fields becomes two copies
            let target = handle_target(buf, pos)?;
            push_value_within(column, buf, target, types, depth + 1, budget)?;
            return Ok(pos + 5);
        }
        tc::WRAPPED => {
            let (inner, end) = wrapped_span(buf, pos)?;
            push_value_within(column, buf, inner, types, depth + 1, budget)?;
            return Ok(end);
        }
        _ => {}
    }
    let Some(kind) = value_kind(code, column.options()) else {
        return Err(column.unsupported(type_code_name(code), code));
    };
    // The kind first: a value of the wrong kind is a conflict, whatever its bytes.
    column.expect(kind)?;
    match kind {
        ValueKind::Scalar(kind) => push_scalar(column, kind, &mut r)?,
        ValueKind::Text => {
            let n = r.len(1)?;
            budget.spend(n)?;
            column.push_string(r.take(n)?)?;
        }
        ValueKind::DecimalText => {
            let text = read_decimal(&mut r)?.to_decimal_string();
            budget.spend(text.len())?;
            column.push_decimal_string(&text)?
        }
        ValueKind::PrimArray(kind) => {
            let n = r.len(kind.size())?;
            budget.spend(n * kind.size())?;
            column.push_prim_array(kind, r.take(n * kind.size())?)?;
        }
        ValueKind::List(name) => {
            if code == tc::OBJ_ARR || code == tc::ENUM_ARR {
                r.i32()?; // element type id; each element carries its own
            }
            let n = r.len(1)?;
            if code == tc::COLLECTION {
                r.u8()?; // collection kind: ArrayList, HashSet, ... all become lists
            }
            let mut p = r.pos();
            column.push_list(name, |elements| {
                for _ in 0..n {
                    p = push_value_within(elements, buf, p, types, depth + 1, budget)?;
                }
                Ok(())
            })?;
            return Ok(p);
        }
        ValueKind::Map => {
            let n = r.len(2)?;
            r.u8()?; // map kind: HashMap or LinkedHashMap
            let mut p = r.pos();
            column.push_map(|keys, values| {
                for _ in 0..n {
                    p = push_value_within(keys, buf, p, types, depth + 1, budget)?;
                    p = push_value_within(values, buf, p, types, depth + 1, budget)?;
                }
                Ok(())
            })?;
            return Ok(p);
        }
        ValueKind::Struct => {
            return column.push_struct(|s| push_object(s, buf, pos, types, depth, budget))
        }
    }
    Ok(r.pos())
}

/// Reads one scalar's body (after its type code) and appends it.
#[inline]
fn push_scalar(column: &mut ColumnBuilder, kind: ScalarKind, r: &mut Reader<'_>) -> Result<()> {
    match kind {
        ScalarKind::Prim(_) | ScalarKind::SignedByte => {
            column.push_scalar(kind, r.take(kind.size())?)
        }
        ScalarKind::Uuid => column.push_scalar(kind, &r.uuid()?),
        ScalarKind::Date | ScalarKind::Time | ScalarKind::TimeNanos => {
            column.push_scalar(kind, &r.i64()?.to_le_bytes())
        }
        ScalarKind::Timestamp => column.push_scalar(kind, &read_timestamp_nanos(r)?.to_le_bytes()),
        ScalarKind::Decimal => column.push_scalar(kind, &read_decimal(r)?.to_f64().to_le_bytes()),
        ScalarKind::Enum { .. } => {
            let type_id = r.i32()?;
            let ordinal = r.i32()?;
            column.push_scalar(ScalarKind::Enum { type_id }, &ordinal.to_le_bytes())
        }
    }
}
