//! One BinaryTuple (Ignite 3's row format, laid out in [`super`]) into one row of column
//! builders: the shared builders Ignite 2's objects fill too.

use crate::calendar::{days_from_civil, MILLIS_PER_DAY, NANOS_PER_DAY};
use crate::decimal;
use crate::decode::column_builder::ColumnBuilder;
use crate::error::{Error, Result};
use crate::ignite3::sql_type::{SqlType, TupleColumn};
use crate::ignite3::tuple::{ENTRY_SIZE_BITS, VARLEN_EMPTY_BYTE};
use crate::kinds::{PrimKind, ScalarKind};

/// Appends the row `tuple`, whose elements are of `types` in order, to `builders` (one per
/// element). Bytes that do not follow the format are a protocol error, never a panic.
pub fn push_tuple(
    tuple: &[u8],
    columns: &[TupleColumn],
    builders: &mut [ColumnBuilder],
) -> Result<()> {
    debug_assert_eq!(columns.len(), builders.len());
    let Some(&header) = tuple.first() else {
        return Err(corrupt("a row has no header"));
    };
    let entry_size = 1usize << (header & ENTRY_SIZE_BITS);
    if entry_size == 8 {
        return Err(corrupt("a row's offset entries are 8 bytes wide"));
    }
    let entries = 1;
    let values_at = columns
        .len()
        .checked_mul(entry_size)
        .map(|n| entries + n)
        .filter(|&at| at <= tuple.len())
        .ok_or_else(|| corrupt("a row is shorter than its offset table"))?;
    let values = &tuple[values_at..];
    let mut begin = 0usize;
    for (index, (column, builder)) in columns.iter().zip(builders.iter_mut()).enumerate() {
        let end = offset(tuple, entries + index * entry_size, entry_size);
        if end < begin || end > values.len() {
            return Err(corrupt("a row's offset table points outside the row"));
        }
        let value = &values[begin..end];
        begin = end;
        if value.is_empty() {
            builder.push_null();
        } else {
            push_element(builder, *column, value)?;
        }
    }
    Ok(())
}

#[inline(always)]
fn offset(tuple: &[u8], at: usize, entry_size: usize) -> usize {
    match entry_size {
        1 => tuple[at] as usize,
        2 => u16::from_le_bytes([tuple[at], tuple[at + 1]]) as usize,
        _ => u32::from_le_bytes([tuple[at], tuple[at + 1], tuple[at + 2], tuple[at + 3]]) as usize,
    }
}

/// One present value of `sql_type`.
#[inline(always)]
fn push_element(builder: &mut ColumnBuilder, column: TupleColumn, value: &[u8]) -> Result<()> {
    let sql_type = column.sql_type;
    let bad_length = || corrupt_value(builder, sql_type, value.len());
    match sql_type {
        SqlType::Int64 => {
            let v = int(value, 8).ok_or_else(bad_length)?;
            push_prim(builder, PrimKind::I64, &v.to_le_bytes())
        }
        SqlType::Int32 => {
            let v = int(value, 4).ok_or_else(bad_length)? as i32;
            push_prim(builder, PrimKind::I32, &v.to_le_bytes())
        }
        SqlType::Int16 => {
            let v = int(value, 2).ok_or_else(bad_length)? as i16;
            push_prim(builder, PrimKind::I16, &v.to_le_bytes())
        }
        SqlType::Int8 if value.len() == 1 => builder.push_scalar(ScalarKind::SignedByte, value),
        SqlType::Boolean if value.len() == 1 => push_prim(builder, PrimKind::Bool, value),
        SqlType::Double => match value.len() {
            8 => push_prim(builder, PrimKind::F64, value),
            4 => {
                let v = f32::from_le_bytes(value.try_into().unwrap()) as f64;
                push_prim(builder, PrimKind::F64, &v.to_le_bytes())
            }
            _ => Err(bad_length()),
        },
        SqlType::Float if value.len() == 4 => push_prim(builder, PrimKind::F32, value),
        SqlType::Bytes => builder.push_prim_array(PrimKind::I8, without_empty_mark(value)),
        SqlType::String => builder.push_string(without_empty_mark(value)),
        SqlType::Uuid if value.len() == 16 => {
            // Java's two longs, each little-endian; canonical order is both big-endian.
            let mut canonical = [0u8; 16];
            for (half, out) in value.chunks_exact(8).zip(canonical.chunks_exact_mut(8)) {
                for (i, byte) in half.iter().rev().enumerate() {
                    out[i] = *byte;
                }
            }
            builder.push_scalar(ScalarKind::Uuid, &canonical)
        }
        SqlType::Date if value.len() == 3 => {
            let days = days(value).ok_or_else(|| corrupt_value(builder, sql_type, 3))?;
            builder.push_scalar(ScalarKind::Date, &(days * MILLIS_PER_DAY).to_le_bytes())
        }
        SqlType::Time if (4..=6).contains(&value.len()) => {
            let nanos = time_nanos(value).ok_or_else(bad_length)?;
            builder.push_scalar(ScalarKind::TimeNanos, &nanos.to_le_bytes())
        }
        SqlType::DateTime if (7..=9).contains(&value.len()) => {
            let days = days(&value[..3]).ok_or_else(bad_length)?;
            let time = time_nanos(&value[3..]).ok_or_else(bad_length)?;
            let nanos = days
                .checked_mul(NANOS_PER_DAY)
                .and_then(|n| n.checked_add(time))
                .ok_or_else(|| out_of_range(builder))?;
            builder.push_scalar(ScalarKind::Timestamp, &nanos.to_le_bytes())
        }
        SqlType::Timestamp if value.len() == 8 || value.len() == 12 => {
            let seconds = i64::from_le_bytes(value[..8].try_into().unwrap());
            let nanos = match value.len() {
                12 => i32::from_le_bytes(value[8..].try_into().unwrap()) as i64,
                _ => 0,
            };
            let total = seconds
                .checked_mul(1_000_000_000)
                .and_then(|n| n.checked_add(nanos))
                .ok_or_else(|| out_of_range(builder))?;
            builder.push_scalar(ScalarKind::Timestamp, &total.to_le_bytes())
        }
        SqlType::Decimal if value.len() > 2 => {
            // longer than Ignite 3 writes (32,767 digits): hostile, and quadratic to convert
            if value.len() - 2 > decimal::MAX_READ_BYTES {
                return Err(corrupt(&format!(
                    "column '{}' has a DECIMAL of {} bytes, longer than 32767 digits take",
                    builder.path(),
                    value.len() - 2
                )));
            }
            let scale = i16::from_le_bytes([value[0], value[1]]) as i64;
            if builder.options().decimal_as_string {
                let (negative, magnitude) = decimal::from_twos_complement(&value[2..]);
                let at_least = column.scale.map_or(scale, i64::from);
                let text = decimal::to_text_at_least(negative, scale, &magnitude, at_least);
                builder.push_decimal_string(&text)
            } else {
                let nearest = decimal::twos_complement_to_f64(&value[2..], scale);
                builder.push_scalar(ScalarKind::Decimal, &nearest.to_le_bytes())
            }
        }
        SqlType::Null | SqlType::Period | SqlType::Duration => {
            // a value in a NULL column, or an interval: say which, as the column's kind would
            sql_type.value_kind(builder.options())?;
            Err(bad_length())
        }
        _ => Err(bad_length()),
    }
}

/// A primitive of `kind` from its little-endian bytes, on the builder's short path when the
/// column already holds that kind.
#[inline(always)]
fn push_prim(builder: &mut ColumnBuilder, kind: PrimKind, bytes: &[u8]) -> Result<()> {
    if let Some(slot) = builder.prim_slot() {
        if slot.kind() == kind {
            slot.push(bytes);
            return Ok(());
        }
    }
    builder.push_scalar(ScalarKind::Prim(kind), bytes)
}

/// A little-endian integer of 1, 2, 4 or 8 bytes, sign-extended; `None` for another length or
/// one wider than the column (`max` bytes).
#[inline(always)]
fn int(value: &[u8], max: usize) -> Option<i64> {
    if value.len() > max {
        return None;
    }
    Some(match value.len() {
        1 => value[0] as i8 as i64,
        2 => i16::from_le_bytes([value[0], value[1]]) as i64,
        4 => i32::from_le_bytes(value.try_into().ok()?) as i64,
        8 => i64::from_le_bytes(value.try_into().ok()?),
        _ => return None,
    })
}

fn without_empty_mark(value: &[u8]) -> &[u8] {
    match value.first() {
        Some(&VARLEN_EMPTY_BYTE) => &value[1..],
        _ => value,
    }
}

/// Days since 1970-01-01 of a 3-byte date (`year << 9 | month << 5 | day`, the year signed);
/// `None` for a month or day that no calendar has.
fn days(value: &[u8]) -> Option<i64> {
    let packed = u16::from_le_bytes([value[0], value[1]]) as i32 | ((value[2] as i8 as i32) << 16);
    let (year, month, day) = (packed >> 9, (packed >> 5) & 15, packed & 31);
    if !(1..=12).contains(&month) || day == 0 {
        return None;
    }
    Some(days_from_civil(year as i64, month as i64, day as i64))
}

/// Nanoseconds since midnight of a 4-, 5- or 6-byte time: hour, minute, second and a fraction
/// of milli-, micro- or nanoseconds, packed from the top.
fn time_nanos(value: &[u8]) -> Option<i64> {
    let mut bits = [0u8; 8];
    bits[..value.len()].copy_from_slice(value);
    let packed = u64::from_le_bytes(bits);
    let (fraction_bits, nanos_per_unit) = match value.len() {
        4 => (10, 1_000_000),
        5 => (20, 1_000),
        6 => (30, 1),
        _ => return None,
    };
    let fraction = (packed & ((1 << fraction_bits) - 1)) as i64;
    let rest = packed >> fraction_bits;
    let (second, minute, hour) = (
        (rest & 63) as i64,
        ((rest >> 6) & 63) as i64,
        ((rest >> 12) & 31) as i64,
    );
    if second > 59 || minute > 59 || hour > 23 || fraction * nanos_per_unit >= 1_000_000_000 {
        return None;
    }
    Some(((hour * 60 + minute) * 60 + second) * 1_000_000_000 + fraction * nanos_per_unit)
}

fn corrupt(what: &str) -> Error {
    Error::protocol(format!("Ignite 3 row: {what}"))
}

fn corrupt_value(builder: &ColumnBuilder, sql_type: SqlType, len: usize) -> Error {
    Error::protocol(format!(
        "Ignite 3 row: column '{}' has a {} value of {len} bytes, which is not one",
        builder.path(),
        sql_type.name()
    ))
}

fn out_of_range(builder: &ColumnBuilder) -> Error {
    Error::Schema(format!(
        "column '{}' holds a timestamp outside what datetime64[ns] holds (years 1678 to 2261)",
        builder.path()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::column::Column;

    /// A tuple of one-byte offset entries from the elements' bytes.
    fn tuple(elements: &[&[u8]]) -> Vec<u8> {
        let mut out = vec![0u8];
        let mut end = 0;
        for e in elements {
            end += e.len();
            out.push(end as u8);
        }
        for e in elements {
            out.extend_from_slice(e);
        }
        out
    }

    fn decode(types: &[SqlType], rows: &[Vec<u8>]) -> Result<Vec<Column>> {
        let mut builders: Vec<ColumnBuilder> = (0..types.len())
            .map(|i| ColumnBuilder::new(format!("c{i}")))
            .collect();
        let columns: Vec<TupleColumn> = types.iter().map(|&t| t.into()).collect();
        for row in rows {
            push_tuple(row, &columns, &mut builders)?;
        }
        builders.into_iter().map(|b| b.finish(None)).collect()
    }

    #[test]
    fn dates_and_times_match_java() {
        // 2024-02-29: (2024 << 9) | (2 << 5) | 29
        let packed: i32 = (2024 << 9) | (2 << 5) | 29;
        let date = [packed as u8, (packed >> 8) as u8, (packed >> 16) as u8];
        assert_eq!(days(&date), Some(19_782));
        let bc: i32 = (-1 << 9) | (1 << 5) | 1; // year -1, January 1st
        assert_eq!(
            days(&[bc as u8, (bc >> 8) as u8, (bc >> 16) as u8]),
            Some(days_from_civil(-1, 1, 1))
        );
        // 23:59:58.123456789 at nanosecond precision (6 bytes)
        let t: u64 = (23 << 42) | (59 << 36) | (58 << 30) | 123_456_789;
        assert_eq!(time_nanos(&t.to_le_bytes()[..6]), Some(86_398_123_456_789));
        // 12:00:01.5 at millisecond precision (4 bytes)
        let t: u64 = (12 << 22) | (1 << 10) | 500;
        assert_eq!(time_nanos(&t.to_le_bytes()[..4]), Some(43_201_500_000_000));
    }

    #[test]
    fn integers_are_sign_extended_from_their_short_form() {
        let rows = vec![
            tuple(&[&[0xFF], &[0x34, 0x12]]),
            tuple(&[&[], &(-70_000i32).to_le_bytes()]),
        ];
        let columns = decode(&[SqlType::Int64, SqlType::Int32], &rows).unwrap();
        assert_eq!(columns[0].len(), 2);
        assert!(decode(&[SqlType::Int16], &[tuple(&[&7i32.to_le_bytes()])]).is_err());
        // wider than SMALLINT
    }

    #[test]
    fn hostile_rows_are_protocol_errors() {
        let types = [SqlType::Int64, SqlType::String];
        for row in [
            vec![],
            vec![0u8],
            vec![3u8, 0, 0],
            vec![0u8, 5, 2, 1, 1, 1, 1, 1],
            vec![0u8, 1, 9, 7],
        ] {
            assert!(matches!(decode(&types, &[row]), Err(Error::Protocol(_))));
        }
        // not UTF-8
        assert!(decode(&[SqlType::String], &[tuple(&[&[0xC3, 0x28]])]).is_err());
        // a date with month 13
        let bad: i32 = (2024 << 9) | (13 << 5) | 1;
        assert!(decode(
            &[SqlType::Date],
            &[tuple(&[&[bad as u8, (bad >> 8) as u8, (bad >> 16) as u8]])]
        )
        .is_err());
    }
}
