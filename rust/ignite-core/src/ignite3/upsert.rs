//! Columns into an Ignite 3 table through the data streamer (`STREAMER_BATCH_SEND`): each row
//! becomes a BinaryTuple in the schema's column order, goes to its partition (the colocation hash
//! of its key, computed here exactly as Ignite computes it, because the server trusts the
//! partition it is given), and partitions' batches are upserted with several requests in flight.
//!
//! Why the streamer and not SQL `INSERT`: it skips the SQL engine (no parse, plan or per-row
//! argument tuple), and its semantics are an upsert, as Ignite 2's put-all: an existing key is
//! overwritten. Each batch is one implicit transaction on its partition: a failed batch stores
//! none of its rows, so the rows acknowledged before a failure are exactly the rows stored.
//!
//! Facts used (Ignite 3.1.0): `ClientStreamerBatchSendRequest`, `ClientSchemasGetRequest` /
//! `ClientTableCommon.writeSchema`, `HashCalculator`, `HashUtils` (murmur3 x64 128 folded to 32
//! bits), `ColocationUtils`, and the Java client's `Math.abs(hash % partitions)`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::calendar::{
    civil_from_days, truncate_nanos, TimeOfDay, NANOS_PER_DAY, NANOS_PER_SECOND,
};
use crate::decimal::{self, ParseDecimalError};
use crate::error::{Error, Result};
use crate::ignite3::cluster;
use crate::ignite3::codes::{column_type, op};
use crate::ignite3::connection::Connection;
use crate::ignite3::msgpack::{MsgReader, MsgWriter};
use crate::ignite3::sql::{self, SqlOptions};
use crate::ignite3::sql_type::SqlType;
use crate::ignite3::transaction;
use crate::ignite3::tuple::writer::{
    put_date, put_datetime, put_decimal, put_double, put_instant, put_int, put_time, put_uuid,
    put_varlen,
};
use crate::kinds::WriteColumn;
use crate::kinds::{PrimKind, SqlArg};

/// Bytes of rows per streamer request (a few MB, as Ignite 2's put-all).
const CHUNK_BYTES: usize = 4 << 20;
/// Requests sent before waiting for the oldest answer.
const IN_FLIGHT: usize = 4;
/// How long a just-created table's partitions may take to get primaries.
const PLACEMENT_WAIT: Duration = Duration::from_secs(10);
/// How long written rows may take to become visible to reads (seen: up to 2 s).
const VISIBILITY_WAIT: Duration = Duration::from_secs(30);
/// MessagePack ext type of a bit set (`ClientMsgPackType.BITMASK`).
const EXT_BITMASK: u8 = 8;

/// A column of a table's schema, as `SCHEMAS_GET` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaColumn {
    pub name: String,
    /// A `codes::column_type` id.
    pub type_id: i32,
    /// Position in the primary key; -1 for a value column.
    pub key_index: i32,
    pub nullable: bool,
    /// Position among the colocation columns; -1 when not one.
    pub colocation_index: i32,
    pub scale: i32,
    /// Temporal types: fractional digits; DECIMAL: digits. VARCHAR/VARBINARY: the most
    /// characters/bytes, once [`upsert_columns`] has set it (`SCHEMAS_GET` gives 0).
    pub precision: i32,
}

/// A table's latest schema: its version and its columns in storage order.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    pub version: i32,
    pub columns: Vec<SchemaColumn>,
}

/// The latest schema of table `table_id` (`SCHEMAS_GET` without versions).
pub fn latest_schema(conn: &mut Connection, table_id: i32) -> Result<TableSchema> {
    let (buf, start) = conn.request(op::SCHEMAS_GET, |w| {
        w.int(table_id as i64).nil();
    })?;
    let mut r = MsgReader::at(&buf, start)?;
    if r.count()? != 1 {
        return Err(Error::protocol(
            "SCHEMAS_GET did not answer with one schema",
        ));
    }
    let version = r.i32()?;
    if r.try_nil()? {
        return Err(Error::protocol(format!(
            "the server has no schema {version} of table {table_id}"
        )));
    }
    let count = r.count()?;
    let mut columns = Vec::with_capacity(count.min(r.remaining()));
    for i in 0..count {
        let fields = r.count()?;
        if fields < 7 {
            return Err(Error::protocol(format!(
                "schema column {i} has {fields} fields, fewer than the 7 every column has"
            )));
        }
        columns.push(SchemaColumn {
            name: r.str()?.to_string(),
            type_id: r.i32()?,
            key_index: r.i32()?,
            nullable: r.bool()?,
            colocation_index: r.i32()?,
            scale: r.i32()?,
            precision: r.i32()?,
        });
        for _ in 7..fields {
            r.skip()?;
        }
    }
    Ok(TableSchema { version, columns })
}

/// VARCHAR and VARBINARY lengths into `precision`: `SCHEMAS_GET` leaves them out (0), SQL's
/// column metadata has them.
fn set_lengths(conn: &mut Connection, table: &str, schema: &mut TableSchema) -> Result<()> {
    let query = format!("SELECT * FROM {table} LIMIT 0");
    let cursor = sql::execute(conn, &query, &[], &SqlOptions::default())?;
    for meta in cursor.columns() {
        if let Some(column) = schema.columns.iter_mut().find(|c| c.name == meta.name) {
            if matches!(
                column.type_id,
                column_type::STRING | column_type::BYTE_ARRAY
            ) {
                column.precision = meta.precision;
            }
        }
    }
    cursor.close(conn)
}

/// A column to write: the table column it fills, its values, and optionally which rows are NULL
/// (one byte per row, nonzero = NULL; numpy's mask of a masked array).
#[derive(Debug, Clone, Copy)]
pub struct UpsertColumn<'a> {
    pub name: &'a str,
    pub values: WriteColumn<'a>,
    pub nulls: Option<&'a [u8]>,
}

/// One value of a row: first as its given column holds it (`Source::raw`), then as its table
/// column's type holds it (`Source::cell`: dates, times, UUIDs and decimals are made from the
/// integers, pairs, bytes, floats and strings that carry them).
#[derive(Debug, Clone, Copy)]
enum Cell<'a> {
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
struct Source<'a> {
    column: UpsertColumn<'a>,
    sql: &'a SchemaColumn,
}

impl Cell<'_> {
    /// The value as an SQL argument (for looking a written row up by key).
    fn as_arg(&self) -> SqlArg {
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
    fn raw(&self, row: usize) -> Cell<'a> {
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
    fn cell(&self, row: usize) -> Result<Cell<'a>> {
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
    fn checked_cell(&self, row: usize) -> Cell<'a> {
        self.cell(row)
            .expect("every value was checked before any was sent")
    }

    /// Whether the column's kind can fill its SQL type at all (values are checked per row).
    fn kind_fits(&self) -> bool {
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
    fn check(&self, row: usize, cell: Cell) -> Result<()> {
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
fn encode(cell: Cell, out: &mut Vec<u8>) {
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

/// Ignite's `HashUtils`: murmur3 x64 128 of `data` with both halves seeded by `seed`, summed.
fn murmur3_64(data: &[u8], seed: u64) -> u64 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    fn fmix(mut h: u64) -> u64 {
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
    let (mut h1, mut h2) = (seed, seed);
    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let k1 = u64::from_le_bytes(block[..8].try_into().unwrap());
        let k2 = u64::from_le_bytes(block[8..].try_into().unwrap());
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let word = |bytes: &[u8]| {
        bytes
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64)
    };
    if tail.len() > 8 {
        h2 ^= word(&tail[8..])
            .wrapping_mul(C2)
            .rotate_left(33)
            .wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= word(&tail[..tail.len().min(8)])
            .wrapping_mul(C1)
            .rotate_left(31)
            .wrapping_mul(C2);
    }
    h1 ^= data.len() as u64;
    h2 ^= data.len() as u64;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1.wrapping_add(h2)
}

/// `HashUtils.hash32`: the 64-bit hash folded. A fixed-width value hashes as its little-endian
/// bytes; an `int` seed is sign-extended (`hash32(int, int)`), a byte array's is zero.
fn hash32(data: &[u8], seed: i32) -> i32 {
    let h = murmur3_64(data, seed as i64 as u64);
    (h ^ (h >> 32)) as i32
}

/// `HashCalculator.hashValue` of a value of SQL type `type_id` (`ColocationUtils.append`).
/// Temporal values come already cut to the column's precision, decimals at its scale.
fn value_hash(cell: Cell, type_id: i32) -> i32 {
    let int = |v: i64, seed: i32| hash32(&(v as i32).to_le_bytes(), seed);
    let long = |v: i64, seed: i32| hash32(&v.to_le_bytes(), seed);
    // hashDate: the day seeded by the month seeded by the year
    let date = |days: i64| {
        let (year, month, day) = civil_from_days(days);
        int(day, int(month, int(year, 0)))
    };
    // hashTime: hour, minute, second, then the nanoseconds, each seeding the next
    let time = |nanos: i64| {
        let t = TimeOfDay::from_nanos(nanos).expect("a checked time of day");
        int(t.nano, int(t.second, int(t.minute, int(t.hour, 0))))
    };
    match (cell, type_id) {
        (Cell::Null, _) => hash32(&[0], 0),
        (Cell::Bool(v), _) => hash32(&[v as u8], 0),
        (Cell::Int(v), column_type::INT8) => hash32(&(v as i8).to_le_bytes(), 0),
        (Cell::Int(v), column_type::INT16) => hash32(&(v as i16).to_le_bytes(), 0),
        (Cell::Int(v), column_type::INT32) => int(v, 0),
        (Cell::Int(v), _) => long(v, 0),
        (Cell::Float(v), column_type::FLOAT) => hash32(&v.to_bits().to_le_bytes(), 0),
        (Cell::Float(v), _) => hash32(&(v as f64).to_bits().to_le_bytes(), 0),
        (Cell::Double(v), _) => hash32(&v.to_bits().to_le_bytes(), 0),
        (Cell::Text(b) | Cell::Bytes(b), _) => hash32(b, 0),
        (Cell::Date(days), _) => date(days),
        (Cell::Time(nanos), _) => time(nanos),
        // hashDateTime: HashUtils.combine(hashDate, hashTime)
        (Cell::DateTime { seconds, nanos }, _) => combine(
            date(seconds.div_euclid(86_400)),
            time(seconds.rem_euclid(86_400) * NANOS_PER_SECOND + nanos as i64),
        ),
        // hashTimestamp: the nanoseconds seeded by the seconds' hash
        (Cell::Instant { seconds, nanos }, _) => int(nanos as i64, long(seconds, 0)),
        // hashUuid: the low long seeded by the high long's hash
        (Cell::Uuid(b), _) => {
            let half = |h: &[u8]| i64::from_be_bytes(h.try_into().unwrap());
            long(half(&b[8..]), long(half(&b[..8]), 0))
        }
        // hashDecimal: the bytes of the unscaled value at the column's scale
        (Cell::Decimal { unscaled, .. }, _) => hash32(&decimal::to_twos_complement(unscaled), 0),
    }
}

/// `HashCalculator.combine`: the running hash hashed as an int, seeded by the value's hash.
fn combine(hash: i32, value_hash: i32) -> i32 {
    hash32(&hash.to_le_bytes(), value_hash)
}

/// The partition of a colocation hash (the Java client's `Math.abs(hash % partitions)`).
fn partition_of(hash: i32, partitions: usize) -> usize {
    (hash % partitions as i32).unsigned_abs() as usize
}

/// Writes the rows of `columns` into `table` (SQL name) with the data streamer: an upsert, so an
/// existing key's row is replaced (columns not given take their defaults). Every column is
/// checked against the table's schema, and every value against its column, before any row is
/// sent. Returns the rows written. A failure part-way says how many rows were stored: those of
/// the batches acknowledged before it (a batch is stored whole or not at all).
pub fn upsert_columns(
    conn: &mut Connection,
    table: &str,
    columns: &[UpsertColumn],
) -> Result<usize> {
    let info = cluster::table(conn, table)?
        .ok_or_else(|| Error::CacheNotFound(format!("table {table} does not exist")))?;
    let mut schema = latest_schema(conn, info.id)?;
    set_lengths(conn, table, &mut schema)?;
    let partitions = cluster::partition_primaries(conn, info.id, PLACEMENT_WAIT)?.partition_count();
    let plan = Plan::new(&schema, columns)?;
    plan.check_values()?;
    let rows = plan.rows;

    // Rows grouped by partition, each group in the given order (so that a repeated key's last
    // row wins: one request per partition is in flight at a time).
    let row_partitions: Vec<u32> = (0..rows)
        .map(|row| partition_of(plan.colocation_hash(row), partitions) as u32)
        .collect();
    let mut by_partition: Vec<Vec<u32>> = vec![Vec::new(); partitions];
    for (row, &p) in row_partitions.iter().enumerate() {
        by_partition[p as usize].push(row as u32);
    }
    let rows_per_request = (CHUNK_BYTES / plan.max_row_bytes()).max(1);
    // Requests taken round-robin over the partitions, so that the ones in flight differ.
    let mut requests: Vec<(usize, &[u32])> = Vec::new();
    let mut chunks: Vec<_> = by_partition
        .iter()
        .map(|rows| rows.chunks(rows_per_request))
        .collect();
    loop {
        let before = requests.len();
        for (p, chunk) in chunks.iter_mut().enumerate() {
            if let Some(rows) = chunk.next() {
                requests.push((p, rows));
            }
        }
        if requests.len() == before {
            break;
        }
    }

    let mut stream = Stream {
        conn,
        table,
        in_flight: VecDeque::new(),
        stored: 0,
        total: rows,
    };
    let mut tuple = TupleScratch::default();
    for (partition, batch) in requests {
        while stream.in_flight.len() >= IN_FLIGHT
            || stream.in_flight.iter().any(|r| r.partition == partition)
        {
            stream.wait_oldest()?;
        }
        let result = stream.conn.send(op::STREAMER_BATCH_SEND, |w| {
            w.int(info.id as i64)
                .int(partition as i64)
                .nil() // no deletions
                .int(schema.version as i64)
                .int(batch.len() as i64);
            for &row in batch {
                plan.write_row(row as usize, &mut tuple, w);
            }
        });
        match result {
            Ok(id) => stream.in_flight.push_back(InFlight {
                id,
                partition,
                rows: batch.len(),
            }),
            Err(e) => return Err(stream.failed(e, 0)), // not sent whole: not stored
        }
    }
    while !stream.in_flight.is_empty() {
        stream.wait_oldest()?;
    }
    let stored = stream.stored;
    let last_rows: Vec<usize> = by_partition
        .iter()
        .filter_map(|rows| rows.last().map(|&row| row as usize))
        .collect();
    await_visible(conn, table, &plan, &last_rows)?;
    Ok(stored)
}

/// Waits until this client's reads see the rows just written. Ignite 3.1 acknowledges a
/// streamer batch before its rows are visible at the hybrid timestamp of the answer: a read
/// right after `put_batches` saw none of 1,000 rows for up to 2 s here. Commits in a partition
/// are ordered, so the last row written to each partition being visible means all of them are:
/// those rows are looked up by key, first in a read-write transaction (which reads the latest
/// commits, and whose commit answer carries the server's clock, so the connection's later reads
/// see them: 0.1-0.4 s a call here), else (a lookup missed, or the transaction failed, say on a
/// lock) by implicit reads until every one is found (an error after [`VISIBILITY_WAIT`]).
fn await_visible(
    conn: &mut Connection,
    table: &str,
    plan: &Plan,
    last_rows: &[usize],
) -> Result<()> {
    let mut keys: Vec<&Source> = plan
        .sources
        .iter()
        .flatten()
        .filter(|s| s.sql.key_index >= 0)
        .collect();
    keys.sort_by_key(|s| s.sql.key_index);
    if keys.is_empty() || last_rows.is_empty() {
        return Ok(());
    }
    let quoted = |s: &Source| format!("\"{}\"", s.sql.name.replace('"', "\"\""));
    // One key column: one IN query for all rows. Several: one query per row (a long OR of ANDs
    // sent the planner of a 1 GB node out of memory).
    let lookups: Vec<(String, Vec<SqlArg>)> = if keys.len() == 1 {
        let marks = vec!["?"; last_rows.len()].join(", ");
        let args = last_rows
            .iter()
            .map(|&row| keys[0].checked_cell(row).as_arg())
            .collect();
        vec![(
            format!(
                "SELECT 1 FROM {table} WHERE {} IN ({marks})",
                quoted(keys[0])
            ),
            args,
        )]
    } else {
        let condition = keys
            .iter()
            .map(|k| format!("{} = ?", quoted(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let query = format!("SELECT 1 FROM {table} WHERE {condition}");
        last_rows
            .iter()
            .map(|&row| {
                (
                    query.clone(),
                    keys.iter().map(|k| k.checked_cell(row).as_arg()).collect(),
                )
            })
            .collect()
    };
    let expected = |args: &[SqlArg]| if keys.len() == 1 { args.len() } else { 1 };
    let options = SqlOptions {
        page_size: last_rows.len() as i32 + 1,
        ..SqlOptions::default()
    };
    // Lookups that found fewer rows than they look for.
    let missing =
        |conn: &mut Connection, lookups: Vec<(String, Vec<SqlArg>)>, options: &SqlOptions| {
            let mut page = sql::Page::default();
            let mut still = Vec::new();
            for (query, args) in lookups {
                let mut cursor = sql::execute(conn, &query, &args, options)?;
                let mut seen = 0;
                while cursor.next_page_into(conn, &mut page)? {
                    seen += page.len();
                }
                if seen < expected(&args) {
                    still.push((query, args));
                }
            }
            Ok::<_, Error>(still)
        };
    if let Ok(tx) = transaction::begin_read_write(conn) {
        let in_tx = SqlOptions {
            transaction: Some(tx),
            ..options.clone()
        };
        match missing(conn, lookups.clone(), &in_tx) {
            Ok(still) if still.is_empty() && transaction::commit(conn, tx).is_ok() => {
                return Ok(());
            }
            _ => {
                let _ = transaction::rollback(conn, tx);
            }
        }
    }
    let deadline = Instant::now() + VISIBILITY_WAIT;
    let mut pending = lookups;
    loop {
        let still = missing(conn, pending, &options)?;
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "the rows written to {table} were stored, but some were still not visible to \
                 reads after {VISIBILITY_WAIT:?}"
            )));
        }
        pending = still;
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// "BIGINT", "VARCHAR", ... for messages.
fn sql_type_name(type_id: i32) -> &'static str {
    SqlType::from_id(type_id).map_or("a type this writer does not know", SqlType::name)
}

fn kind_name(values: &WriteColumn) -> &'static str {
    match *values {
        WriteColumn::Scalar { kind, .. } => kind.name(),
        WriteColumn::FixedArray { kind, .. } => kind.array_name(),
        WriteColumn::Strings { .. } => "string",
    }
}

/// Which given column fills each table column, and the colocation columns in hash order.
struct Plan<'a> {
    rows: usize,
    /// One per table column, in schema order; `None`: not given (the default applies).
    sources: Vec<Option<Source<'a>>>,
    /// Indexes into `sources` of the colocation columns, by colocation index.
    colocation: Vec<usize>,
    /// The no-value bit set of every row (the columns not given), as `BitSet.toByteArray`.
    no_value: Vec<u8>,
}

impl<'a> Plan<'a> {
    fn new(schema: &'a TableSchema, columns: &[UpsertColumn<'a>]) -> Result<Plan<'a>> {
        let Some(first) = columns.first() else {
            return Err(Error::InvalidArgument("no columns to write".into()));
        };
        let rows = first.values.rows();
        let mut sources: Vec<Option<Source>> = schema.columns.iter().map(|_| None).collect();
        for column in columns {
            let Some(i) = schema.columns.iter().position(|c| c.name == column.name) else {
                let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "the table has no column '{}' (its columns: {})",
                    column.name,
                    names.join(", ")
                )));
            };
            if sources[i].is_some() {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' is given twice",
                    column.name
                )));
            }
            if column.values.rows() != rows {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' has {} rows, column '{}' has {rows}",
                    column.name,
                    column.values.rows(),
                    first.name
                )));
            }
            if column.nulls.is_some_and(|n| n.len() != rows) {
                return Err(Error::InvalidArgument(format!(
                    "column '{}': its null mask has {} rows, not {rows}",
                    column.name,
                    column.nulls.map_or(0, <[u8]>::len)
                )));
            }
            let source = Source {
                column: *column,
                sql: &schema.columns[i],
            };
            if !source.kind_fits() {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' is {}: values of kind {} cannot be written to it",
                    column.name,
                    sql_type_name(source.sql.type_id),
                    kind_name(&column.values)
                )));
            }
            sources[i] = Some(source);
        }
        if let Some(missing) = schema
            .columns
            .iter()
            .zip(&sources)
            .find(|(c, s)| c.key_index >= 0 && s.is_none())
        {
            return Err(Error::InvalidArgument(format!(
                "key column '{}' is not given",
                missing.0.name
            )));
        }
        let mut colocation: Vec<usize> = (0..schema.columns.len())
            .filter(|&i| schema.columns[i].colocation_index >= 0)
            .collect();
        colocation.sort_by_key(|&i| schema.columns[i].colocation_index);
        let mut no_value = vec![0u8; schema.columns.len().div_ceil(8)];
        for (i, source) in sources.iter().enumerate() {
            if source.is_none() {
                no_value[i / 8] |= 1 << (i % 8);
            }
        }
        // BitSet.toByteArray drops trailing zero bytes.
        while no_value.last() == Some(&0) {
            no_value.pop();
        }
        Ok(Plan {
            rows,
            sources,
            colocation,
            no_value,
        })
    }

    /// Every value checked against its column, before anything is sent.
    fn check_values(&self) -> Result<()> {
        for source in self.sources.iter().flatten() {
            let always_fits = source.sql.type_id != column_type::DECIMAL
                && matches!(
                    source.column.values,
                    WriteColumn::Scalar {
                        kind: PrimKind::Bool | PrimKind::F32 | PrimKind::F64,
                        ..
                    }
                );
            if always_fits && source.column.nulls.is_none() {
                continue;
            }
            for row in 0..self.rows {
                source.check(row, source.cell(row)?)?;
            }
        }
        Ok(())
    }

    fn colocation_hash(&self, row: usize) -> i32 {
        self.colocation.iter().fold(0, |hash, &i| {
            let source = self.sources[i]
                .as_ref()
                .expect("colocation columns are key columns");
            combine(
                hash,
                value_hash(source.checked_cell(row), source.sql.type_id),
            )
        })
    }

    /// An upper bound of one row's bytes in a request.
    fn max_row_bytes(&self) -> usize {
        let values: usize = self
            .sources
            .iter()
            .flatten()
            .map(|s| match s.column.values {
                // a decimal: its scale and up to 16 bytes of unscaled value
                _ if s.sql.type_id == column_type::DECIMAL => 18,
                WriteColumn::Scalar { kind, .. } => kind.size(),
                WriteColumn::FixedArray { kind, width, .. } => kind.size() * width + 1,
                WriteColumn::Strings { width, .. } => width + 1,
            })
            .sum();
        16 + self.no_value.len() + 4 * self.sources.len() + values
    }

    /// Appends row `row`: its no-value bit set, then its tuple as bin.
    fn write_row(&self, row: usize, tuple: &mut TupleScratch, w: &mut MsgWriter) {
        tuple.clear();
        for source in &self.sources {
            if let Some(source) = source {
                encode(source.checked_cell(row), &mut tuple.values);
            }
            tuple.ends.push(tuple.values.len());
        }
        // The bit set as an ext (Java's packExtensionTypeHeader: fixext for 1/2/4/8/16 bytes).
        let bits = &self.no_value;
        match bits.len() {
            1 => w.buf.push(0xd4),
            2 => w.buf.push(0xd5),
            4 => w.buf.push(0xd6),
            8 => w.buf.push(0xd7),
            16 => w.buf.push(0xd8),
            n if n < 256 => w.buf.extend_from_slice(&[0xc7, n as u8]),
            n => {
                w.buf.push(0xc8);
                w.buf.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        w.buf.push(EXT_BITMASK);
        w.buf.extend_from_slice(bits);
        tuple.write_bin(w);
    }
}

/// One row's tuple, built in reused buffers.
#[derive(Default)]
struct TupleScratch {
    values: Vec<u8>,
    ends: Vec<usize>,
}

impl TupleScratch {
    fn clear(&mut self) {
        self.values.clear();
        self.ends.clear();
    }

    /// The tuple (header, offset table of the narrowest entries, values) as a MessagePack bin.
    fn write_bin(&self, w: &mut MsgWriter) {
        let total = self.values.len();
        let (flags, entry) = if total <= 0xff {
            (0u8, 1)
        } else if total <= 0xffff {
            (1, 2)
        } else {
            (2, 4)
        };
        w.bin_header(1 + entry * self.ends.len() + total);
        w.buf.push(flags);
        for &end in &self.ends {
            w.buf
                .extend_from_slice(&(end as u32).to_le_bytes()[..entry]);
        }
        w.buf.extend_from_slice(&self.values);
    }
}

struct InFlight {
    id: i64,
    partition: usize,
    rows: usize,
}

/// The requests in flight and the rows they stored.
struct Stream<'c> {
    conn: &'c mut Connection,
    table: &'c str,
    in_flight: VecDeque<InFlight>,
    stored: usize,
    total: usize,
}

impl Stream<'_> {
    fn wait_oldest(&mut self) -> Result<()> {
        let request = self.in_flight.pop_front().expect("a request in flight");
        let mut buf = Vec::new();
        match self.conn.receive(request.id, &mut buf) {
            Ok(_) => {
                self.stored += request.rows;
                Ok(())
            }
            // A server's error: the batch stored nothing. A transport error or a timeout: its
            // answer never came, and the batch may have been stored.
            Err(e) => {
                let uncertain = if self.conn.is_broken() {
                    request.rows
                } else {
                    0
                };
                Err(self.failed(e, uncertain))
            }
        }
    }

    /// Collects the answers still in flight while the connection works (so that the count of
    /// stored rows is exact), then says how many rows were stored. After a transport error or
    /// a timeout nothing more is read from the connection (its position in the stream is
    /// unknown, and each read would wait out the timeout again): the batches still unanswered
    /// are counted as `uncertain`, with the rows already so.
    fn failed(&mut self, error: Error, mut uncertain: usize) -> Error {
        while let Some(request) = self.in_flight.pop_front() {
            if self.conn.is_broken() {
                uncertain += request.rows;
                continue;
            }
            let mut buf = Vec::new();
            match self.conn.receive(request.id, &mut buf) {
                Ok(_) => self.stored += request.rows,
                Err(_) if self.conn.is_broken() => uncertain += request.rows,
                Err(_) => {}
            }
        }
        error.of_partial_write(
            &format!("table {}", self.table),
            self.stored,
            self.total,
            uncertain,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake Ignite 3 node serving one connection: it accepts the handshake and the heartbeat
    /// of opening, answers the first streamer request at once, then holds every answer back
    /// for `delay` (longer than the client's read timeout: a node that stopped answering) and
    /// sends them late.
    fn slow_node(delay: Duration) -> String {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let read_id = |s: &mut std::net::TcpStream| -> Option<i64> {
                let mut len = [0u8; 4];
                s.read_exact(&mut len).ok()?;
                let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
                s.read_exact(&mut body).ok()?;
                let mut r = MsgReader::new(&body);
                r.i64().ok()?; // op
                r.i64().ok()
            };
            let frame = |body: &[u8]| {
                let mut out = (body.len() as u32).to_be_bytes().to_vec();
                out.extend_from_slice(body);
                out
            };
            let answer = |id: i64| {
                let mut b = Vec::new();
                MsgWriter::new(&mut b).int(id).int(0).int(12345); // id, flags, timestamp
                frame(&b)
            };
            let mut magic = [0u8; 4];
            s.read_exact(&mut magic).unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            s.read_exact(&mut vec![0u8; u32::from_be_bytes(len) as usize])
                .unwrap();
            let mut hello = Vec::new();
            let mut w = MsgWriter::new(&mut hello);
            w.int(3)
                .int(0)
                .int(0)
                .nil()
                .int(0)
                .uuid(&[1; 16])
                .str("fake-node");
            w.int(1).uuid(&[2; 16]).str("fake-cluster").int(12345);
            w.int(3).int(1).int(0).nil().nil().bin(&[]).int(0);
            let mut out = b"IGNI".to_vec();
            out.extend(frame(&hello));
            s.write_all(&out).unwrap();
            let heartbeat = read_id(&mut s).unwrap();
            s.write_all(&answer(heartbeat)).unwrap();
            let first = read_id(&mut s).unwrap();
            s.write_all(&answer(first)).unwrap();
            let rest: Vec<i64> = (0..3).map_while(|_| read_id(&mut s)).collect();
            std::thread::sleep(delay);
            for id in rest {
                let _ = s.write_all(&answer(id));
            }
            let _ = read_id(&mut s); // until the client closes
        });
        address
    }

    #[test]
    fn the_streamer_stops_reading_at_a_timeout_and_counts_the_unanswered_batches_uncertain() {
        let config = crate::ConnectionConfig {
            addresses: vec![slow_node(Duration::from_millis(1500))],
            read_timeout: Some(Duration::from_secs(1)),
            ..crate::ConnectionConfig::default()
        };
        let mut conn = Connection::open(&config).unwrap();
        let mut stream = Stream {
            conn: &mut conn,
            table: "T",
            in_flight: VecDeque::new(),
            stored: 0,
            total: 40,
        };
        for _ in 0..4 {
            let id = stream.conn.send(op::STREAMER_BATCH_SEND, |w| {
                w.nil();
            });
            stream.in_flight.push_back(InFlight {
                id: id.unwrap(),
                partition: 0,
                rows: 10,
            });
        }
        stream.wait_oldest().unwrap();
        let error = stream.wait_oldest().unwrap_err();
        // The late answers are not read: after the timeout the stream's position is unknown.
        assert!(matches!(error, Error::Timeout(_)), "{error}");
        assert!(
            error.to_string().contains(
                "writing to table T failed (10 of 40 rows were stored, and up to 30 more may have been)"
            ),
            "{error}"
        );
        assert!(stream.in_flight.is_empty());
        assert!(conn.is_broken(), "the connection is dropped, not reused");
    }

    /// Values printed by Ignite 3.1.0's own `HashCalculator` (ignite-core-3.1.0.jar).
    #[test]
    fn colocation_hashes_match_the_java_calculator() {
        let hash = |cells: &[(Cell, i32)]| {
            cells
                .iter()
                .fold(0, |h, &(c, t)| combine(h, value_hash(c, t)))
        };
        use column_type as t;
        assert_eq!(hash(&[(Cell::Int(42), t::INT32)]), -767921414);
        assert_eq!(hash(&[(Cell::Int(-5_000_000_000), t::INT64)]), -80815532);
        let text = "héllo wörld, twenty+ bytes".as_bytes();
        assert_eq!(hash(&[(Cell::Text(text), t::STRING)]), -345530343);
        assert_eq!(
            hash(&[(Cell::Int(7), t::INT32), (Cell::Text(b"ab"), t::STRING)]),
            -581076518
        );
        let mix = hash(&[
            (Cell::Double(0.1), t::DOUBLE),
            (Cell::Float(1.5), t::FLOAT),
            (Cell::Int(-3), t::INT16),
            (Cell::Int(-1), t::INT8),
            (Cell::Bool(true), t::BOOLEAN),
            (Cell::Null, t::INT32),
        ]);
        assert_eq!(mix, 1667176687);
        assert_eq!(partition_of(mix, 25), 12);
    }

    #[test]
    fn temporal_uuid_and_decimal_hashes_match_the_java_calculator() {
        // HashCalculator.hashDate/hashTime/hashDateTime/hashTimestamp/hashUuid/hashDecimal of
        // Ignite 3.1.0, values cut to the precision (scale) given to it.
        use column_type as t;
        let time = ((13 * 60 + 45) * 60 + 7) * NANOS_PER_SECOND;
        let uuid: [u8; 16] = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        let cases: Vec<(Cell, i32, i32)> = vec![
            (Cell::Date(19_782), t::DATE, 403765605),
            (Cell::Date(-719_529), t::DATE, -1454998425),
            (Cell::Time(time + 123_456_789), t::TIME, -533493763),
            (Cell::Time(time + 123_000_000), t::TIME, -1076167703),
            (
                Cell::DateTime {
                    seconds: 19_782 * 86_400 + time / NANOS_PER_SECOND,
                    nanos: 123_456_000,
                },
                t::DATETIME,
                1846241740,
            ),
            (
                Cell::Instant {
                    seconds: -2,
                    nanos: 500_000_000,
                },
                t::TIMESTAMP,
                1028608660,
            ),
            (
                Cell::Instant {
                    seconds: 1_700_000_000,
                    nanos: 123_456_789,
                },
                t::TIMESTAMP,
                -783239016,
            ),
            (Cell::Uuid(&uuid), t::UUID, -2120767834),
            (
                Cell::Decimal {
                    unscaled: 1235,
                    scale: 2,
                },
                t::DECIMAL,
                1046128362,
            ),
            (
                Cell::Decimal {
                    unscaled: -1,
                    scale: 0,
                },
                t::DECIMAL,
                -482826348,
            ),
            (
                Cell::Decimal {
                    unscaled: 100_000,
                    scale: 3,
                },
                t::DECIMAL,
                1520194248,
            ),
        ];
        for (cell, type_id, java) in cases {
            assert_eq!(value_hash(cell, type_id), java, "{cell:?}");
        }
    }

    #[test]
    fn partitions_follow_java_remainder_and_abs() {
        assert_eq!(partition_of(-7, 5), 2);
        assert_eq!(partition_of(7, 5), 2);
        assert_eq!(
            partition_of(i32::MIN, 25),
            (i32::MIN % 25).unsigned_abs() as usize
        );
    }

    #[test]
    fn rows_are_tuples_with_a_no_value_bitset() {
        let schema = TableSchema {
            version: 1,
            columns: vec![
                SchemaColumn {
                    name: "ID".into(),
                    type_id: column_type::INT32,
                    key_index: 0,
                    nullable: false,
                    colocation_index: 0,
                    scale: 0,
                    precision: 0,
                },
                SchemaColumn {
                    name: "V".into(),
                    type_id: column_type::STRING,
                    key_index: -1,
                    nullable: true,
                    colocation_index: -1,
                    scale: 0,
                    precision: 10,
                },
            ],
        };
        let ids = 300i64.to_le_bytes();
        let columns = [UpsertColumn {
            name: "ID",
            values: WriteColumn::Scalar {
                kind: PrimKind::I64,
                data: &ids,
            },
            nulls: None,
        }];
        let plan = Plan::new(&schema, &columns).unwrap();
        let mut out = Vec::new();
        plan.write_row(
            0,
            &mut TupleScratch::default(),
            &mut MsgWriter::new(&mut out),
        );
        // fixext1 bitmask {1}, then bin of [flags 0, ends 2, 2, 300 as i16 LE]
        assert_eq!(out, vec![0xd4, 8, 0b10, 0xc4, 5, 0, 2, 2, 0x2c, 0x01]);
    }
}
