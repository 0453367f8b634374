//! A deterministic fuzz harness for Ignite 3, run by `cargo test` like `fuzz.rs` is for Ignite 2:
//!
//! - rows: valid BinaryTuples of every SQL type (1-, 2- and 4-byte offset tables, nulls, empty
//!   strings and byte arrays, DECIMALs with negative scales and long magnitudes, every TIME
//!   width) decode to the values they hold, then mutated ones go through `push_tuple`;
//! - wire: `SQL_EXEC` answers and `NEXT_PAGE` pages as a server writes them (MessagePack) go
//!   through the cursor's own parsing (`parse_exec_answer`, `parse_next_page`) and their rows
//!   through the decoder; fewer, whole frames (response header included) through a real
//!   `SqlCursor` on a fake server.
//!
//! Every input must end in `Ok` or `Err`: no panic, no endless loop, and no unbounded allocation
//! (a counting allocator records the largest single request; a 4 GB declared length must not
//! reach it). `FUZZ_ITERATIONS` bounds the run.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread;
use std::time::Duration;

use common::counting::{largest_allocation, Counting};
use common::Rng;
use ignite_core::decode::{AlignedBuf, Column, ColumnBuilder, DecodeOptions};
use ignite_core::ignite3::msgpack::MsgWriter;
use ignite_core::ignite3::sql::{parse_exec_answer, parse_next_page, ColumnMeta};
use ignite_core::ignite3::sql_type::{SqlType, TupleColumn};
use ignite_core::ignite3::test_support::{frame, opening_answers};
use ignite_core::ignite3::tuple::push_tuple;
use ignite_core::ignite3::{execute, Connection, Page, SqlOptions};
use ignite_core::{ConnectionConfig, Error, Result, ScalarKind};

// ---- the allocation bound ----

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// No input here is over a few hundred KB: an allocation of more than this trusted a declared
/// length (a 4 GB one would be far past it) before its bytes were there.
const PARSE_ALLOCATION_BOUND: usize = 4 << 20;

/// A connection reserves up to 64 MB for a frame before its bytes arrive
/// (`ignite3::connection`'s `UNTRUSTED_RESERVE`), whatever length the frame declares.
const FRAME_ALLOCATION_BOUND: usize = 64 << 20;

fn assert_allocations_below(bound: usize) {
    let largest = largest_allocation();
    assert!(
        largest <= bound,
        "an input made this thread allocate {largest} bytes at once"
    );
}

// ---- inputs ----

/// Inputs per mutation test: env `FUZZ_ITERATIONS`, 200000 by default (the file then runs in
/// about 5 s in release on 2 cores; the fake-server test takes a twentieth of it).
fn iterations() -> usize {
    common::fuzz_iterations(200_000)
}

/// One value of a row, with what the decoder must make of it.
#[derive(Clone, Debug)]
enum Value {
    Null,
    Bool(bool),
    /// Any integer type; written in its fewest bytes, as Ignite does.
    Int(i64),
    Float(f32),
    Double(f64),
    /// scale, two's complement big-endian unscaled value, the exact text ("": not checked)
    Decimal(i16, Vec<u8>, &'static str),
    /// year, month, day, days since the epoch
    Date(i32, u32, u32, i64),
    /// hour, minute, second, nanoseconds, bytes (4: ms, 5: µs, 6: ns precision)
    Time(u64, u64, u64, u64, usize),
    /// a date and a time
    DateTime(Box<Value>, Box<Value>),
    /// seconds, nanoseconds (written in 8 bytes when 0)
    Timestamp(i64, i32),
    /// canonical bytes
    Uuid([u8; 16]),
    Str(String),
    Bytes(Vec<u8>),
}

/// The columns of the seed rows: one of every SQL type.
const TYPES: [SqlType; 16] = [
    SqlType::Boolean,
    SqlType::Int8,
    SqlType::Int16,
    SqlType::Int32,
    SqlType::Int64,
    SqlType::Float,
    SqlType::Double,
    SqlType::Decimal,
    SqlType::Date,
    SqlType::Time,
    SqlType::DateTime,
    SqlType::Timestamp,
    SqlType::Uuid,
    SqlType::String,
    SqlType::Bytes,
    SqlType::Null,
];

/// Ignite 3's `ColumnType` id of each of [`TYPES`] (what result metadata says).
const TYPE_IDS: [i32; 16] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 0];

fn time_bytes(h: u64, m: u64, s: u64, nanos: u64, len: usize) -> Vec<u8> {
    let (fraction_bits, fraction) = match len {
        4 => (10, nanos / 1_000_000),
        5 => (20, nanos / 1_000),
        _ => (30, nanos),
    };
    let packed = (h << (fraction_bits + 12)) | (m << (fraction_bits + 6)) | (s << fraction_bits);
    (packed | fraction).to_le_bytes()[..len].to_vec()
}

fn date_bytes(y: i32, m: u32, d: u32) -> Vec<u8> {
    let packed = (y << 9) | ((m as i32) << 5) | d as i32;
    packed.to_le_bytes()[..3].to_vec()
}

/// The element bytes Ignite 3's `BinaryTupleBuilder` writes for `value`.
fn element(value: &Value) -> Vec<u8> {
    match value {
        Value::Null => Vec::new(),
        Value::Bool(v) => vec![*v as u8],
        Value::Int(v) => {
            if let Ok(b) = i8::try_from(*v) {
                vec![b as u8]
            } else if let Ok(s) = i16::try_from(*v) {
                s.to_le_bytes().to_vec()
            } else if let Ok(i) = i32::try_from(*v) {
                i.to_le_bytes().to_vec()
            } else {
                v.to_le_bytes().to_vec()
            }
        }
        Value::Float(v) => v.to_le_bytes().to_vec(),
        Value::Double(v) if (*v as f32) as f64 == *v => (*v as f32).to_le_bytes().to_vec(),
        Value::Double(v) => v.to_le_bytes().to_vec(),
        Value::Decimal(scale, unscaled, _) => {
            let mut out = scale.to_le_bytes().to_vec();
            out.extend_from_slice(unscaled);
            out
        }
        Value::Date(y, m, d, _) => date_bytes(*y, *m, *d),
        Value::Time(h, m, s, n, len) => time_bytes(*h, *m, *s, *n, *len),
        Value::DateTime(date, time) => {
            let mut out = element(date);
            out.extend(element(time));
            out
        }
        Value::Timestamp(seconds, 0) => seconds.to_le_bytes().to_vec(),
        Value::Timestamp(seconds, nanos) => {
            let mut out = seconds.to_le_bytes().to_vec();
            out.extend_from_slice(&nanos.to_le_bytes());
            out
        }
        Value::Uuid(canonical) => {
            // two Java longs (most significant first), each little-endian
            let mut out = Vec::with_capacity(16);
            for half in canonical.chunks_exact(8) {
                out.extend(half.iter().rev());
            }
            out
        }
        Value::Str(s) => varlen(s.as_bytes()),
        Value::Bytes(b) => varlen(b),
    }
}

/// A string or byte array, led by the 0x80 mark when empty or when it starts with 0x80.
fn varlen(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 1);
    if bytes.first().is_none_or(|&b| b == 0x80) {
        out.push(0x80);
    }
    out.extend_from_slice(bytes);
    out
}

/// A BinaryTuple of `values` with offset entries `entry` bytes wide (1, 2 or 4; widened when the
/// values do not fit).
fn tuple(values: &[Value], entry: usize) -> Vec<u8> {
    let elements: Vec<Vec<u8>> = values.iter().map(element).collect();
    let total: usize = elements.iter().map(Vec::len).sum();
    let entry: usize = match entry {
        1 if total <= 0xff => 1,
        1 | 2 if total <= 0xffff => 2,
        _ => 4,
    };
    let mut out = vec![entry.trailing_zeros() as u8];
    let mut end = 0usize;
    for e in &elements {
        end += e.len();
        out.extend_from_slice(&(end as u32).to_le_bytes()[..entry]);
    }
    for e in &elements {
        out.extend_from_slice(e);
    }
    out
}

/// The seed rows: every type, nulls, empties, extremes; each is one value per [`TYPES`] column.
fn seed_rows() -> Vec<Vec<Value>> {
    use Value::*;
    let uuid: [u8; 16] = std::array::from_fn(|i| (i as u8) * 17);
    let date = |y, m, d, days| Box::new(Date(y, m, d, days));
    vec![
        vec![
            Bool(true),
            Int(-128),
            Int(-32768),
            Int(i32::MIN as i64),
            Int(i64::MIN),
            Float(-1.5),
            Double(0.1),
            // -1234.5678: unscaled -12345678 = 0xFF439EB2
            Decimal(4, vec![0xFF, 0x43, 0x9E, 0xB2], "-1234.5678"),
            Date(2024, 2, 29, 19_782),
            Time(23, 59, 58, 123_456_789, 6),
            DateTime(date(1970, 1, 1, 0), Box::new(Time(0, 0, 1, 500_000_000, 4))),
            Timestamp(1_700_000_000, 123_456_789),
            Uuid(uuid),
            Str("héllo".into()),
            Bytes(vec![0x80, 1, 2]),
            Null,
        ],
        vec![
            Bool(false),
            Int(127),
            Int(300),
            Int(70_000),
            Int(5_000_000_000),
            Float(f32::MAX),
            Double(-2.5), // a float holds it: 4 bytes
            // 12 * 10^3 (negative scale)
            Decimal(-3, vec![0x0C], "1.2E+4"),
            Date(-1, 1, 1, -719_893),
            Time(12, 0, 1, 500_000_000, 4),
            DateTime(date(2000, 3, 1, 11_017), Box::new(Time(1, 2, 3, 4_000, 5))),
            Timestamp(-1, 0),
            Uuid([0xff; 16]),
            Str(String::new()),
            Bytes(Vec::new()),
            Null,
        ],
        vec![
            Null, Null, Null, Null, Null, Null, Null, Null, Null, Null, Null, Null, Null, Null,
            Null, Null,
        ],
        vec![
            Bool(true),
            Int(0),
            Int(-1),
            Int(i32::MAX as i64),
            Int(i64::MAX),
            Float(0.0),
            Double(f64::MAX),
            // 2^127 as a 17-byte magnitude (a leading zero keeps it positive), scale 0
            Decimal(
                0,
                {
                    let mut b = vec![0x00, 0x80];
                    b.extend([0u8; 15]);
                    b
                },
                "170141183460469231731687303715884105728",
            ),
            Date(9999, 12, 31, 2_932_896),
            Time(0, 0, 0, 999_999, 5),
            DateTime(date(2261, 1, 1, 106_286), Box::new(Time(0, 0, 0, 1, 6))),
            Timestamp(0, 999_999_999),
            Uuid([0; 16]),
            Str("x".repeat(40)),
            Bytes((0..=255u8).collect()),
            Null,
        ],
        // a long negative magnitude with a negative scale (-0x7e0101...01 * 10^40)
        {
            let mut row = vec![Null; TYPES.len()];
            let mut unscaled = vec![0x81u8];
            unscaled.extend([0xfe; 299]);
            row[7] = Decimal(-40, unscaled, "");
            row
        },
    ]
}

/// Builders as the Ignite 3 client makes them: each declared with its type's kind.
fn builders(types: &[SqlType], options: DecodeOptions) -> Vec<ColumnBuilder> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let kind = t.value_kind(options).ok().flatten();
            ColumnBuilder::with_options(format!("c{i}"), 4, options).declare(kind)
        })
        .collect()
}

fn decode_rows(rows: &[Vec<u8>], types: &[SqlType], options: DecodeOptions) -> Result<Vec<Column>> {
    let mut builders = builders(types, options);
    let columns: Vec<TupleColumn> = types.iter().map(|&t| t.into()).collect();
    for row in rows {
        push_tuple(row, &columns, &mut builders)?;
    }
    builders.into_iter().map(|b| b.finish(None)).collect()
}

// ---- reading decoded values back ----

fn present(validity: &Option<AlignedBuf>, row: usize) -> bool {
    validity.as_ref().is_none_or(|v| v.as_slice()[row] != 0)
}

/// Row `row` of a fixed-width column, `None` when null.
fn scalar(column: &Column, row: usize) -> Option<(ScalarKind, &[u8])> {
    let Column::Scalar {
        kind,
        values,
        validity,
        ..
    } = column
    else {
        panic!("not a scalar column: {column:?}")
    };
    let size = kind.size();
    present(validity, row).then(|| (*kind, &values.as_slice()[row * size..(row + 1) * size]))
}

fn i64_at(column: &Column, row: usize) -> Option<i64> {
    scalar(column, row).map(|(kind, b)| match kind.size() {
        1 => b[0] as i8 as i64,
        2 => i16::from_le_bytes(b.try_into().unwrap()) as i64,
        4 => i32::from_le_bytes(b.try_into().unwrap()) as i64,
        _ => i64::from_le_bytes(b.try_into().unwrap()),
    })
}

/// Row `row` of a string or byte-array column, `None` when null.
fn bytes_at(column: &Column, row: usize) -> Option<&[u8]> {
    match column {
        Column::Strings {
            offsets,
            large: false,
            data,
            validity,
            ..
        } => present(validity, row).then(|| {
            let at = |i: usize| {
                i32::from_le_bytes(offsets.as_slice()[4 * i..4 * i + 4].try_into().unwrap())
                    as usize
            };
            &data.as_slice()[at(row)..at(row + 1)]
        }),
        Column::VarArray {
            values,
            offsets,
            validity,
            ..
        } => present(validity, row).then(|| {
            let at = |i: usize| {
                i64::from_le_bytes(offsets.as_slice()[i * 8..i * 8 + 8].try_into().unwrap())
                    as usize
            };
            &values.as_slice()[at(row)..at(row + 1)]
        }),
        Column::FixedArray {
            values,
            width,
            validity,
            ..
        } => present(validity, row).then(|| &values.as_slice()[row * width..(row + 1) * width]),
        other => panic!("not a string or array column: {other:?}"),
    }
}

fn scalar_or_text_present(column: &Column, row: usize) -> bool {
    match column {
        Column::Strings { .. } => bytes_at(column, row).is_some(),
        _ => scalar(column, row).is_some(),
    }
}

fn time_nanos(value: &Value) -> i64 {
    let Value::Time(h, m, s, n, len) = value else {
        unreachable!()
    };
    let n = match len {
        4 => n / 1_000_000 * 1_000_000,
        5 => n / 1_000 * 1_000,
        _ => *n,
    };
    (((h * 60 + m) * 60 + s) * 1_000_000_000 + n) as i64
}

/// Checks that row `row` of `column` holds `value`.
fn check(column: &Column, row: usize, value: &Value, decimal_as_string: bool) {
    const NANOS_PER_DAY: i64 = 86_400_000_000_000;
    let at = format!("row {row}, {value:?}");
    match value {
        Value::Null => match column {
            Column::Null { .. } => {}
            Column::Strings { validity, .. }
            | Column::VarArray { validity, .. }
            | Column::FixedArray { validity, .. }
            | Column::Scalar { validity, .. } => assert!(!present(validity, row), "{at}"),
            other => panic!("{at}: {other:?}"),
        },
        Value::Bool(v) => assert_eq!(scalar(column, row).unwrap().1, [*v as u8], "{at}"),
        Value::Int(v) => assert_eq!(i64_at(column, row), Some(*v), "{at}"),
        Value::Float(v) => {
            assert_eq!(scalar(column, row).unwrap().1, v.to_le_bytes(), "{at}")
        }
        Value::Double(v) => {
            assert_eq!(scalar(column, row).unwrap().1, v.to_le_bytes(), "{at}")
        }
        Value::Decimal(_, _, "") => assert!(scalar_or_text_present(column, row), "{at}"),
        Value::Decimal(_, _, text) if decimal_as_string => {
            assert_eq!(bytes_at(column, row), Some(text.as_bytes()), "{at}")
        }
        Value::Decimal(_, _, text) => {
            let nearest: f64 = text.parse().unwrap();
            assert_eq!(
                scalar(column, row).unwrap(),
                (ScalarKind::Decimal, &nearest.to_le_bytes()[..]),
                "{at}"
            )
        }
        Value::Date(_, _, _, days) => {
            assert_eq!(i64_at(column, row), Some(days * 86_400_000), "{at}")
        }
        Value::Time(..) => assert_eq!(i64_at(column, row), Some(time_nanos(value)), "{at}"),
        Value::DateTime(date, time) => {
            let Value::Date(_, _, _, days) = **date else {
                unreachable!()
            };
            let expected = days * NANOS_PER_DAY + time_nanos(time);
            assert_eq!(i64_at(column, row), Some(expected), "{at}")
        }
        Value::Timestamp(seconds, nanos) => assert_eq!(
            i64_at(column, row),
            Some(seconds * 1_000_000_000 + *nanos as i64),
            "{at}"
        ),
        Value::Uuid(canonical) => {
            assert_eq!(
                scalar(column, row).unwrap(),
                (ScalarKind::Uuid, &canonical[..]),
                "{at}"
            )
        }
        Value::Str(s) => assert_eq!(bytes_at(column, row), Some(s.as_bytes()), "{at}"),
        Value::Bytes(b) => assert_eq!(bytes_at(column, row), Some(&b[..]), "{at}"),
    }
}

// ---- mutations ----

/// Extreme values written over lengths and offsets, as the bytes they are (LE and BE alike).
const EXTREMES: [u32; 9] = [
    0,
    1,
    0xff,
    0x80,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_fff0,
];

/// MessagePack markers of every length-carrying kind, and of no kind (0xc1).
const MARKERS: [u8; 12] = [
    0xc4, 0xc5, 0xc6, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xc9, 0xc1,
];

/// One mutation of `input`; `other` is another valid input to splice from.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8]) {
    if input.is_empty() {
        input.extend_from_slice(&other[..rng.below(other.len())]);
        return;
    }
    match rng.below(8) {
        0 => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 => {
            // the header byte: offset widths 8 (invalid), flag bits
            input[0] = rng.next() as u8;
        }
        2 if input.len() >= 4 => {
            // an extreme length or offset, either byte order, at any place
            let i = rng.below(input.len() - 3);
            let v = EXTREMES[rng.below(EXTREMES.len())];
            let bytes = if rng.below(2) == 0 {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            };
            input[i..i + 4].copy_from_slice(&bytes);
        }
        3 => {
            let cut = rng.below(input.len());
            input.truncate(cut);
        }
        4 => {
            // splice: a piece of another input over, or into, this one
            let a = rng.below(other.len());
            let n = rng.below(64).min(other.len() - a);
            let b = rng.below(input.len());
            if rng.below(2) == 0 {
                let n = n.min(input.len() - b);
                input[b..b + n].copy_from_slice(&other[a..a + n]);
            } else {
                input.splice(b..b, other[a..a + n].iter().copied());
            }
        }
        5 => {
            // a long run of 0xff
            let at = rng.below(input.len());
            let n = 1 + rng.below(64);
            let end = (at + n).min(input.len());
            input[at..end].fill(0xff);
            if rng.below(2) == 0 {
                input.splice(at..at, std::iter::repeat_n(0xff, n));
            }
        }
        6 => {
            // a MessagePack marker with a 4 GB (or other extreme) length after it
            let at = rng.below(input.len());
            input[at] = MARKERS[rng.below(MARKERS.len())];
            let v = EXTREMES[rng.below(EXTREMES.len())].to_be_bytes();
            let end = (at + 5).min(input.len());
            input[at + 1..end].copy_from_slice(&v[..end - at - 1]);
        }
        _ => rng.copy_region(input),
    }
}

fn mutated(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut input = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        mutate(rng, &mut input, other);
    }
    input
}

/// Runs `f`, failing the test on a panic; true when `f` ended in `Ok`.
fn never_panics<T>(what: &str, input: &[u8], f: impl FnOnce() -> Result<T>) -> bool {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result.is_ok(),
        Err(_) => panic!("{what} panicked on {input:02x?}"),
    }
}

const OPTIONS: [DecodeOptions; 2] = [
    DecodeOptions {
        decimal_as_string: false,
    },
    DecodeOptions {
        decimal_as_string: true,
    },
];

// ---- rows ----

#[test]
fn seed_rows_decode_to_their_values() {
    let rows = seed_rows();
    for entry in [1, 2, 4] {
        // the 1-byte table holds rows of at most 255 value bytes; larger rows widen it
        let tuples: Vec<Vec<u8>> = rows.iter().map(|r| tuple(r, entry)).collect();
        if entry == 4 {
            assert!(tuples.iter().all(|t| t[0] == 2));
        }
        for options in OPTIONS {
            let columns = decode_rows(&tuples, &TYPES, options)
                .unwrap_or_else(|e| panic!("{entry}-byte offsets: {e}"));
            for (row, values) in rows.iter().enumerate() {
                for (column, value) in columns.iter().zip(values) {
                    check(column, row, value, options.decimal_as_string);
                }
            }
        }
    }
    // a row of over 64 KB takes 4-byte offsets whatever is asked
    let big = vec![Value::Bytes(vec![7; 70_000]), Value::Str("end".into())];
    let t = tuple(&big, 1);
    assert_eq!(t[0], 2);
    let columns = decode_rows(&[t], &[SqlType::Bytes, SqlType::String], OPTIONS[0]).unwrap();
    check(&columns[0], 0, &big[0], false);
    check(&columns[1], 0, &big[1], false);
}

/// The longest DECIMAL Ignite 3 writes (32767 digits) decodes, and quickly.
#[test]
fn the_longest_decimal_decodes() {
    let mut magnitude = vec![0x7f];
    magnitude.extend(std::iter::repeat_n(0xff, 13_606));
    let value = Value::Decimal(-5, magnitude, "");
    let started = std::time::Instant::now();
    let columns = decode_rows(&[tuple(&[value], 4)], &[SqlType::Decimal], OPTIONS[1]).unwrap();
    let text = bytes_at(&columns[0], 0).unwrap();
    // 2^108855 - 1 (32769 digits) * 10^5: "4.1704...E+32773"
    assert!(
        text.starts_with(b"4.1704") && text.ends_with(b"E+32773"),
        "{:?}",
        &text[..8]
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Values that no valid row holds are typed errors.
#[test]
fn invalid_values_are_typed_errors() {
    let bad: Vec<(SqlType, Vec<u8>)> = vec![
        (SqlType::Int16, vec![1, 2, 3, 4]),
        (SqlType::Int32, vec![1, 2, 3]),
        (SqlType::Boolean, vec![1, 0]),
        (SqlType::Float, vec![0; 8]),
        (SqlType::Double, vec![0; 5]),
        (SqlType::Decimal, vec![0, 0]),
        // longer than 32767 digits: its text would take minutes to make
        (SqlType::Decimal, vec![0x7f; 2 + 13_609]),
        (SqlType::Date, date_bytes(2024, 13, 1)),
        (SqlType::Date, date_bytes(2024, 1, 0)),
        (SqlType::Time, time_bytes(24, 0, 0, 0, 6)),
        (SqlType::Time, time_bytes(0, 60, 0, 0, 5)),
        (SqlType::Time, vec![0; 7]),
        (SqlType::DateTime, vec![0; 6]),
        (SqlType::Timestamp, vec![0; 10]),
        (SqlType::Timestamp, i64::MAX.to_le_bytes().to_vec()),
        (SqlType::Uuid, vec![0; 15]),
        (SqlType::String, vec![0xc3, 0x28]),
        (SqlType::Null, vec![1]),
        (SqlType::Period, vec![1]),
        (SqlType::Duration, vec![1]),
    ];
    for (sql_type, value) in bad {
        let mut row = vec![2u8];
        row.extend_from_slice(&(value.len() as u32).to_le_bytes());
        row.extend_from_slice(&value);
        let result = decode_rows(&[row], &[sql_type], OPTIONS[0]);
        assert!(
            matches!(
                result,
                Err(Error::Protocol(_) | Error::Schema(_) | Error::UnsupportedType(_))
            ),
            "{sql_type:?} {value:?}: {result:?}"
        );
    }
}

#[test]
fn mutated_rows_never_panic() {
    let iterations = iterations();
    let seeds: Vec<Vec<u8>> = seed_rows()
        .iter()
        .flat_map(|r| [tuple(r, 1), tuple(r, 2), tuple(r, 4)])
        .collect();
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let (mut ok, mut errors) = (0usize, 0usize);
    for iteration in 0..iterations {
        let seed = &seeds[iteration % seeds.len()];
        let other = &seeds[rng.below(seeds.len())];
        let row = mutated(&mut rng, seed, other);
        // now and then the row read as other types than it was written with
        let mut types = TYPES.to_vec();
        if rng.below(4) == 0 {
            for t in types.iter_mut() {
                *t = SqlType::from_id(rng.below(19) as i32).unwrap_or(SqlType::Bytes);
            }
        }
        let options = OPTIONS[iteration % 2];
        // the row twice: after a valid first row, the builders hold kinds and lengths
        let rows = [seed.clone(), row.clone()];
        if never_panics("push_tuple", &row, || decode_rows(&rows, &types, options)) {
            ok += 1;
        } else {
            errors += 1;
        }
    }
    eprintln!("fuzz rows: {iterations} inputs, {ok} decoded, {errors} rejected with an error");
    assert!(
        errors > iterations / 10,
        "the mutations should break many rows"
    );
    assert_allocations_below(PARSE_ALLOCATION_BOUND);
}

// ---- wire ----

/// The response header (request id, flags, observable timestamp) the server puts before an answer.
fn response_header(request_id: i64, out: &mut Vec<u8>) {
    MsgWriter::new(out).int(request_id).int(0).int(1_000);
}

fn column_metas(out: &mut Vec<u8>) {
    let mut w = MsgWriter::new(out);
    w.int(TYPES.len() as i64);
    for (i, id) in TYPE_IDS.iter().enumerate() {
        // 6 fields and the origin flag; the first column with an origin (3 more fields)
        let fields = if i == 0 { 9 } else { 6 };
        w.int(fields)
            .str(&format!("COL_{i}"))
            .bool(true)
            .int(*id as i64)
            .int(if *id == 8 { 4 } else { 0 })
            .int(if *id == 8 { 30 } else { 9 });
        if i == 0 {
            w.bool(true).str("ORIG").str("PUBLIC").str("T");
        } else {
            w.bool(false);
        }
    }
}

fn rows_msgpack(rows: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut w = MsgWriter::new(out);
    w.int(rows.len() as i64);
    for row in rows {
        w.bin(row);
    }
}

/// An `SQL_EXEC` answer to request `id` (header included): a cursor, every type's column, rows.
fn exec_answer(id: i64, rows: &[Vec<u8>], has_more: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    response_header(id, &mut out);
    let start = out.len();
    let mut w = MsgWriter::new(&mut out);
    if has_more {
        w.int(77);
    } else {
        w.nil();
    }
    w.bool(true).bool(has_more).bool(false).int(-1);
    column_metas(&mut out);
    rows_msgpack(rows, &mut out);
    (out, start)
}

/// A `NEXT_PAGE` answer to request `id` (header included).
fn next_page(id: i64, rows: &[Vec<u8>], has_more: bool) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    response_header(id, &mut out);
    let start = out.len();
    rows_msgpack(rows, &mut out);
    MsgWriter::new(&mut out).bool(has_more);
    (out, start)
}

fn seed_tuples() -> Vec<Vec<u8>> {
    seed_rows()
        .iter()
        .enumerate()
        .map(|(i, r)| tuple(r, [1, 2, 4][i % 3]))
        .collect()
}

/// Decodes a page's rows as the Ignite 3 client does: types from the metadata, refused when one
/// has no column kind.
fn decode_page(columns: &[ColumnMeta], page: &Page, options: DecodeOptions) -> Result<usize> {
    let types = columns
        .iter()
        .map(|c| {
            let t = SqlType::from_id(c.type_id)?;
            t.value_kind(options).map(|_| t)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut builders = builders(&types, options);
    // at each column's scale, as the client decodes
    let columns: Vec<TupleColumn> = types
        .iter()
        .zip(columns)
        .map(|(&sql_type, meta)| TupleColumn {
            sql_type,
            scale: Some(meta.scale),
        })
        .collect();
    for row in page.rows() {
        push_tuple(row, &columns, &mut builders)?;
    }
    Ok(page.len())
}

#[test]
fn seed_answers_parse_to_their_rows() {
    let tuples = seed_tuples();
    let (frame, start) = exec_answer(1, &tuples, true);
    let (columns, page, has_more) = parse_exec_answer(frame, start).unwrap();
    assert!(has_more);
    assert_eq!(columns.len(), TYPES.len());
    let names: Vec<&str> = columns.iter().map(ColumnMeta::type_name).collect();
    assert_eq!(&names[..4], ["BOOLEAN", "TINYINT", "SMALLINT", "INTEGER"]);
    assert_eq!(
        &names[10..15],
        [
            "TIMESTAMP",
            "TIMESTAMP WITH LOCAL TIME ZONE",
            "UUID",
            "VARCHAR",
            "VARBINARY"
        ]
    );
    let page = page.expect("a row set");
    assert_eq!(page.rows().collect::<Vec<_>>(), tuples);
    assert_eq!(
        decode_page(&columns, &page, OPTIONS[1]).unwrap(),
        tuples.len()
    );

    let (frame, start) = next_page(2, &tuples[1..], false);
    let (page, has_more) = parse_next_page(frame, start).unwrap();
    assert!(!has_more);
    assert_eq!(page.rows().collect::<Vec<_>>(), tuples[1..]);
}

/// 4 GB declared lengths in the places a page's lengths go: errors, and nothing allocated.
#[test]
fn huge_declared_lengths_allocate_nothing() {
    let tuples = seed_tuples();
    let (frame, start) = exec_answer(1, &tuples, false);
    let mut cases = Vec::new();
    for marker in [0xc6u8, 0xdb, 0xdd, 0xdf, 0xc9] {
        for at in start..frame.len() {
            let mut input = frame.clone();
            input.truncate(at);
            input.push(marker);
            input.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
            input.extend_from_slice(&frame[at..(at + 8).min(frame.len())]);
            cases.push(input);
        }
    }
    // a row count of i32::MAX, and one past i32
    for count in [0xd2u8, 0xce] {
        let (mut page, start) = next_page(2, &[], false);
        page.truncate(start);
        page.extend_from_slice(&[count, 0x7f, 0xff, 0xff, 0xff, 0xc4, 1, 0]);
        cases.push(page);
    }
    for input in cases {
        let _ = never_panics("parse_exec_answer", &input, || {
            parse_exec_answer(input.clone(), start)
        });
        let _ = never_panics("parse_next_page", &input, || {
            parse_next_page(input.clone(), start)
        });
    }
    assert_allocations_below(PARSE_ALLOCATION_BOUND);
}

#[test]
fn mutated_answers_never_panic() {
    let iterations = iterations();
    let tuples = seed_tuples();
    let seeds = [
        exec_answer(1, &tuples, true),
        exec_answer(1, &tuples[..1], false),
        exec_answer(1, &[], false),
        next_page(2, &tuples, true),
        next_page(2, &tuples[2..], false),
    ];
    let page_columns = seeds_columns();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut ok, mut errors) = (0usize, 0usize);
    for iteration in 0..iterations {
        let (seed, start) = &seeds[iteration % seeds.len()];
        let other = &seeds[rng.below(seeds.len())].0;
        let input = mutated(&mut rng, seed, other);
        let options = OPTIONS[iteration % 2];
        let outcome = if iteration % seeds.len() < 3 {
            never_panics("an SQL_EXEC answer", &input, || {
                let (columns, page, _) = parse_exec_answer(input.clone(), *start)?;
                match page {
                    Some(page) => decode_page(&columns, &page, options),
                    None => Ok(0),
                }
            })
        } else {
            never_panics("a NEXT_PAGE answer", &input, || {
                let (page, _) = parse_next_page(input.clone(), *start)?;
                decode_page(&page_columns, &page, options)
            })
        };
        if outcome {
            ok += 1;
        } else {
            errors += 1;
        }
    }
    eprintln!("fuzz answers: {iterations} inputs, {ok} parsed, {errors} rejected with an error");
    assert!(
        errors > iterations / 10,
        "the mutations should break many answers"
    );
    assert_allocations_below(PARSE_ALLOCATION_BOUND);
}

/// The columns of the seed answers, for pages that come without them.
fn seeds_columns() -> Vec<ColumnMeta> {
    let (frame, start) = exec_answer(1, &[], false);
    parse_exec_answer(frame, start).unwrap().0
}

// ---- whole frames through a real cursor ----

/// A fake server: for each connection it answers the handshake, then writes the next bytes the
/// test sends it (whole mutated frames), closes its writing side and drains until the client goes.
fn fake_server() -> (String, std::sync::mpsc::Sender<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    thread::spawn(move || {
        for (stream, replies) in listener.incoming().zip(rx) {
            let Ok(mut s) = stream else { return };
            let _ = s.write_all(&opening_answers());
            let _ = s.write_all(&replies);
            let _ = s.shutdown(Shutdown::Write);
            let mut sink = [0u8; 4096];
            while matches!(s.read(&mut sink), Ok(n) if n > 0) {}
        }
    });
    (address, tx)
}

/// Mutated `SQL_EXEC` and `NEXT_PAGE` frames (headers, flags and lengths included) through
/// `execute` and `SqlCursor::next_page_into` on a fake server. Fewer inputs than the others: each
/// is a connection.
#[test]
fn mutated_frames_through_the_cursor_end_in_errors() {
    let iterations = (iterations() / 20).max(50);
    let tuples = seed_tuples();
    // requests 2, 3 and 4: the first after the heartbeat of opening
    let exec = frame(&exec_answer(2, &tuples, true).0);
    let page = frame(&next_page(3, &tuples[1..], true).0);
    let last = frame(&next_page(4, &tuples[..1], false).0);
    let valid: Vec<u8> = [exec.clone(), page.clone(), last.clone()].concat();
    let (address, server) = fake_server();
    let config = ConnectionConfig {
        addresses: vec![address],
        connect_timeout: Duration::from_secs(5),
        read_timeout: Some(Duration::from_secs(5)),
        ..ConnectionConfig::default()
    };
    let run = |config: &ConnectionConfig| -> Result<usize> {
        let mut conn = Connection::open(config)?;
        let mut cursor = execute(&mut conn, "SELECT *", &[], &SqlOptions::default())?;
        let mut page = Page::default();
        let mut rows = 0;
        while cursor.next_page_into(&mut conn, &mut page)? {
            rows += decode_page(cursor.columns(), &page, OPTIONS[0])?;
        }
        Ok(rows)
    };
    server.send(valid.clone()).unwrap();
    assert_eq!(run(&config).unwrap(), 2 * tuples.len());

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut errors) = (0usize, 0usize);
    for _ in 0..iterations {
        // one of the three frames mutated, the others as they were
        let mut frames = [exec.clone(), page.clone(), last.clone()];
        let which = rng.below(3);
        let other = frames[rng.below(3)].clone();
        frames[which] = mutated(&mut rng, &frames[which], &other);
        let replies = frames.concat();
        server.send(replies.clone()).unwrap();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&config)));
        match outcome {
            Ok(Ok(_)) => ok += 1,
            // the server closed after its bytes: waiting out the read timeout is a hang
            Ok(Err(Error::Timeout(e))) => panic!("the cursor hung ({e}) on {replies:02x?}"),
            Ok(Err(_)) => errors += 1,
            Err(_) => panic!("the cursor panicked on {replies:02x?}"),
        }
    }
    eprintln!("fuzz frames: {iterations} inputs, {ok} read, {errors} rejected with an error");
    assert!(errors > iterations / 10);
    assert_allocations_below(FRAME_ALLOCATION_BOUND);
}
