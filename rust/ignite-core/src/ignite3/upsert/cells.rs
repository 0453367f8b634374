//! One value of a row, first as its given column holds it, then as its table column's type
//! holds it: dates, times, UUIDs and decimals are made from the integers, pairs, bytes, floats
//! and strings that carry them, checked against the column (range, length, precision, NULLs) and
//! encoded as a BinaryTuple element.

use crate::calendar::{truncate_nanos, NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::decimal::{self, ParseDecimalError};
use crate::error::{Error, Result};
use crate::ignite3::codes::column_type;
use crate::ignite3::sql_type::SqlType;
use crate::ignite3::tuple::writer::{
    put_date, put_datetime, put_decimal, put_double, put_instant, put_int, put_time, put_uuid,
    put_varlen,
};
use crate::kinds::{PrimKind, SqlArg, WriteColumn};

use super::schema::SchemaColumn;
use super::UpsertColumn;

/// One value of a row: first as its given column holds it (`Source::raw`), then as its table
/// column's type holds it (`Source::cell`: dates, times, UUIDs and decimals are made from the
/// integers, pairs, bytes, floats and strings that carry them).
#[derive(Debug, Clone, Copy)]
pub(super) enum Cell<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f32),
    Double(f64),
    /// UTF-8 text (padding removed).
    Text(&'a [u8]),
    Bytes(&'a [u8]),
    /// DATE: days since 1970-01-01.
    Date(i64),
    /// TIME: nanoseconds since midnight.
    Time(i64),
    /// TIMESTAMP: wall-clock seconds since 1970-01-01T00:00, and nanoseconds.
    DateTime {
        seconds: i64,
        nanos: i32,
    },
    /// TIMESTAMP WITH LOCAL TIME ZONE: seconds since the epoch, and nanoseconds.
    Instant {
        seconds: i64,
        nanos: i32,
    },
    /// UUID, canonical order.
    Uuid(&'a [u8; 16]),
    /// DECIMAL at its column's scale.
    Decimal {
        unscaled: i128,
        scale: i32,
    },
}

/// A given column matched to its table column.
pub(super) struct Source<'a> {
    pub(super) column: UpsertColumn<'a>,
    pub(super) sql: &'a SchemaColumn,
}

impl Cell<'_> {
    /// The value as an SQL argument (for looking a written row up by key).
    pub(super) fn as_arg(&self) -> SqlArg {
        match *self {
            Cell::Null => SqlArg::Null,
            Cell::Bool(v) => SqlArg::Bool(v),
            Cell::Int(v) => SqlArg::Long(v),
            Cell::Float(v) => SqlArg::Double(v as f64),
            Cell::Double(v) => SqlArg::Double(v),
            Cell::Text(b) => SqlArg::String(String::from_utf8_lossy(b).into_owned()),
            Cell::Bytes(b) => SqlArg::Bytes(b.to_vec()),
            Cell::Date(days) => SqlArg::Date(days),
            Cell::Time(nanos) => SqlArg::Time(nanos),
            Cell::DateTime { seconds, nanos } => SqlArg::DateTime { seconds, nanos },
            Cell::Instant { seconds, nanos } => SqlArg::Instant { seconds, nanos },
            Cell::Uuid(b) => SqlArg::Uuid(*b),
            Cell::Decimal { unscaled, scale } => SqlArg::Decimal { unscaled, scale },
        }
    }
}

/// The most fractional digits of a second Ignite 3.1 keeps, whatever the column's precision:
/// TIME(9) and TIMESTAMP(9) columns read back, compare and take SQL arguments in milliseconds
/// (seen on 3.1.0). Written values are cut to them, so that SQL finds a key where it looks.
const KEPT_FRACTION_DIGITS: i32 = 3;

/// Fractional digits of a second a temporal column keeps.
fn kept_digits(sql: &SchemaColumn) -> i32 {
    sql.precision.min(KEPT_FRACTION_DIGITS)
}

/// The dates SQL's DATE and TIMESTAMP types hold in Ignite 3: 0001-01-01 to 9999-12-31.
const FIRST_DAY: i64 = -719_162;
const LAST_DAY: i64 = 2_932_896;
/// The instants TIMESTAMP WITH LOCAL TIME ZONE holds: those dates in every zone (18 hours in from
/// both ends; the server refuses the rest, "Value is out of allowed range").
const FIRST_INSTANT: i64 = FIRST_DAY * 86_400 + 18 * 3600;
const LAST_INSTANT: i64 = (LAST_DAY + 1) * 86_400 - 18 * 3600 - 1;

impl<'a> Source<'a> {
    /// Row `row`'s value as the given column holds it.
    pub(super) fn raw(&self, row: usize) -> Cell<'a> {
        if self.column.nulls.is_some_and(|n| n[row] != 0) {
            return Cell::Null;
        }
        match self.column.values {
            WriteColumn::Scalar { kind, data } => {
                let n = kind.size();
                let b = &data[row * n..(row + 1) * n];
                match kind {
                    PrimKind::Bool => Cell::Bool(b[0] != 0),
                    PrimKind::I8 => Cell::Int(b[0] as i8 as i64),
                    PrimKind::I16 => Cell::Int(i16::from_le_bytes([b[0], b[1]]) as i64),
                    PrimKind::Char => Cell::Int(u16::from_le_bytes([b[0], b[1]]) as i64),
                    PrimKind::I32 => Cell::Int(i32::from_le_bytes(b.try_into().unwrap()) as i64),
                    PrimKind::I64 => Cell::Int(i64::from_le_bytes(b.try_into().unwrap())),
                    PrimKind::F32 => Cell::Float(f32::from_le_bytes(b.try_into().unwrap())),
                    PrimKind::F64 => Cell::Double(f64::from_le_bytes(b.try_into().unwrap())),
                }
            }
            WriteColumn::FixedArray { kind, data, width } => {
                let n = kind.size() * width;
                Cell::Bytes(&data[row * n..(row + 1) * n])
            }
            WriteColumn::Strings { data, width } => {
                let cell = &data[row * width..(row + 1) * width];
                let len = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                Cell::Text(&cell[..len])
            }
        }
    }

    /// Row `row`'s value as its table column holds it; an error says why the value cannot be
    /// one (a time beyond a day, a decimal with too many digits, ...). Fractions of a second
    /// are cut to what the column keeps (see [`KEPT_FRACTION_DIGITS`]).
    pub(super) fn cell(&self, row: usize) -> Result<Cell<'a>> {
        use column_type as t;
        let sql = self.sql;
        let fail = |why: String| {
            Err(Error::InvalidArgument(format!(
                "column '{}', row {row}: {why}",
                sql.name
            )))
        };
        let in_range = |days: i64| (FIRST_DAY..=LAST_DAY).contains(&days);
        let raw = self.raw(row);
        match (raw, sql.type_id) {
            (Cell::Null, _) => Ok(Cell::Null),
            (Cell::Int(days), t::DATE) if in_range(days) => Ok(Cell::Date(days)),
            (Cell::Int(_), t::DATE) => fail("the date is outside 0001-01-01..9999-12-31".into()),
            (Cell::Int(nanos), t::TIME) if (0..NANOS_PER_DAY).contains(&nanos) => Ok(Cell::Time(
                nanos - nanos % NANOS_PER_SECOND
                    + truncate_nanos(nanos % NANOS_PER_SECOND, kept_digits(sql)),
            )),
            (Cell::Int(nanos), t::TIME) => fail(format!(
                "a time of day of {nanos} ns is not within 00:00..24:00"
            )),
            (Cell::Bytes(b), t::DATETIME | t::TIMESTAMP) => {
                let seconds = i64::from_le_bytes(b[..8].try_into().unwrap());
                let nanos = i64::from_le_bytes(b[8..16].try_into().unwrap());
                if !(0..NANOS_PER_SECOND).contains(&nanos) {
                    return fail(format!("{nanos} nanoseconds on top of a second"));
                }
                if sql.type_id == t::DATETIME && !in_range(seconds.div_euclid(86_400)) {
                    return fail("the time is outside 0001-01-01..9999-12-31".into());
                }
                if sql.type_id == t::TIMESTAMP && !(FIRST_INSTANT..=LAST_INSTANT).contains(&seconds)
                {
                    return fail(
                        "the instant is outside 0001-01-01T18:00Z..9999-12-31T05:59:59Z".into(),
                    );
                }
                let nanos = truncate_nanos(nanos, kept_digits(sql)) as i32;
                Ok(if sql.type_id == t::DATETIME {
                    Cell::DateTime { seconds, nanos }
                } else {
                    Cell::Instant { seconds, nanos }
                })
            }
            (Cell::Bytes(b), t::UUID) => Ok(Cell::Uuid(b.try_into().unwrap())),
            (Cell::Int(_) | Cell::Float(_) | Cell::Double(_) | Cell::Text(_), t::DECIMAL) => {
                let parsed = match raw {
                    Cell::Int(v) => v.to_string(),
                    // `{:e}`: the shortest digits that read back as the same float
                    Cell::Float(v) if v.is_finite() => format!("{v:e}"),
                    Cell::Double(v) if v.is_finite() => format!("{v:e}"),
                    Cell::Text(b) => String::from_utf8_lossy(b).into_owned(),
                    _ => String::from("NaN"),
                };
                match decimal::parse_unscaled(&parsed, sql.scale) {
                    Ok(unscaled)
                        if sql.precision <= 0
                            || decimal::digit_count(unscaled) <= sql.precision as u32 =>
                    {
                        Ok(Cell::Decimal {
                            unscaled,
                            scale: sql.scale,
                        })
                    }
                    Ok(_) | Err(ParseDecimalError::TooManyDigits) => fail(format!(
                        "{parsed} does not fit DECIMAL({}, {}){}",
                        sql.precision,
                        sql.scale,
                        if sql.precision as u32 > decimal::MAX_WRITE_DIGITS {
                            " as this writer writes it (38 digits at most)"
                        } else {
                            ""
                        }
                    )),
                    Err(ParseDecimalError::NotANumber) => {
                        fail(format!("'{parsed}' is not a decimal number"))
                    }
                }
            }
            (other, _) => Ok(other),
        }
    }

    /// Row `row`'s value as its table column holds it, once `Plan::check_values` has passed.
    pub(super) fn checked_cell(&self, row: usize) -> Cell<'a> {
        self.cell(row)
            .expect("every value was checked before any was sent")
    }

    /// Whether the column's kind can fill its SQL type at all (values are checked per row).
    pub(super) fn kind_fits(&self) -> bool {
        use column_type as t;
        match (self.column.values, self.sql.type_id) {
            (WriteColumn::Scalar { kind, .. }, t) => matches!(
                (kind, t),
                (PrimKind::Bool, t::BOOLEAN)
                    | (
                        PrimKind::I8
                            | PrimKind::I16
                            | PrimKind::I32
                            | PrimKind::I64
                            | PrimKind::Char,
                        t::INT8 | t::INT16 | t::INT32 | t::INT64
                    )
                    | (PrimKind::F32, t::FLOAT | t::DOUBLE)
                    | (PrimKind::F64, t::DOUBLE)
                    // days since 1970-01-01; nanoseconds since midnight
                    | (PrimKind::I64, t::DATE | t::TIME)
                    | (
                        PrimKind::I8
                            | PrimKind::I16
                            | PrimKind::I32
                            | PrimKind::I64
                            | PrimKind::F32
                            | PrimKind::F64,
                        t::DECIMAL
                    )
            ),
            (WriteColumn::FixedArray { kind, .. }, t::BYTE_ARRAY) => kind == PrimKind::I8,
            (WriteColumn::Strings { .. }, t::STRING | t::DECIMAL) => true,
            // (seconds, nanoseconds) per row
            (WriteColumn::FixedArray { kind, width, .. }, t::DATETIME | t::TIMESTAMP) => {
                kind == PrimKind::I64 && width == 2
            }
            (WriteColumn::FixedArray { kind, width, .. }, t::UUID) => {
                kind == PrimKind::I8 && width == 16
            }
            _ => false,
        }
    }

    /// Refuses a value its SQL column cannot hold exactly.
    pub(super) fn check(&self, row: usize, cell: Cell) -> Result<()> {
        let sql = self.sql;
        let fail = |why: String| {
            Err(Error::InvalidArgument(format!(
                "column '{}', row {row}: {why}",
                sql.name
            )))
        };
        match cell {
            Cell::Null if sql.key_index >= 0 => fail("a key column cannot be NULL".into()),
            Cell::Null if !sql.nullable => fail("the column is NOT NULL".into()),
            Cell::Int(v) => {
                let (lo, hi) = match sql.type_id {
                    column_type::INT8 => (i8::MIN as i64, i8::MAX as i64),
                    column_type::INT16 => (i16::MIN as i64, i16::MAX as i64),
                    column_type::INT32 => (i32::MIN as i64, i32::MAX as i64),
                    _ => (i64::MIN, i64::MAX),
                };
                if v < lo || v > hi {
                    return fail(format!("{v} does not fit {}", sql_type_name(sql.type_id)));
                }
                Ok(())
            }
            Cell::Text(text) => match std::str::from_utf8(text) {
                Err(_) => fail("not valid UTF-8".into()),
                Ok(s) if sql.precision > 0 && s.chars().count() > sql.precision as usize => {
                    fail(format!(
                        "{} characters, VARCHAR({})",
                        s.chars().count(),
                        sql.precision
                    ))
                }
                Ok(_) => Ok(()),
            },
            Cell::Bytes(b) if sql.precision > 0 && b.len() > sql.precision as usize => {
                fail(format!("{} bytes, VARBINARY({})", b.len(), sql.precision))
            }
            _ => Ok(()),
        }
    }
}

/// Appends `cell` as a BinaryTuple element of the column's type, in the widths Java's
/// `BinaryTupleBuilder` picks (NULL is a zero-length element).
#[inline]
pub(super) fn encode(cell: Cell, out: &mut Vec<u8>) {
    match cell {
        Cell::Null => {}
        Cell::Bool(v) => out.push(v as u8),
        Cell::Int(v) => put_int(out, v),
        // REAL, or a float32 into DOUBLE: exactly a float, so 4 bytes either way (as Java).
        Cell::Float(v) => out.extend_from_slice(&v.to_le_bytes()),
        Cell::Double(v) => put_double(out, v),
        Cell::Text(b) | Cell::Bytes(b) => put_varlen(out, b),
        Cell::Date(days) => put_date(out, days),
        Cell::Time(nanos) => put_time(out, nanos),
        Cell::DateTime { seconds, nanos } => put_datetime(out, seconds, nanos),
        Cell::Instant { seconds, nanos } => put_instant(out, seconds, nanos),
        Cell::Uuid(b) => put_uuid(out, b),
        Cell::Decimal { unscaled, scale } => put_decimal(out, unscaled, scale),
    }
}

/// "BIGINT", "VARCHAR", ... for messages.
pub(super) fn sql_type_name(type_id: i32) -> &'static str {
    SqlType::from_id(type_id).map_or("a type this writer does not know", SqlType::name)
}

pub(super) fn kind_name(values: &WriteColumn) -> &'static str {
    match *values {
        WriteColumn::Scalar { kind, .. } => kind.name(),
        WriteColumn::FixedArray { kind, .. } => kind.array_name(),
        WriteColumn::Strings { .. } => "string",
    }
}
