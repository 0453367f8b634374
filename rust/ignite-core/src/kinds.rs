//! The kinds of values that every layer names: fixed-size elements ([`PrimKind`]), fixed-width
//! scalars ([`ScalarKind`]), SQL query arguments ([`SqlArg`]) and the columns a writer is given
//! ([`WriteColumn`]), which both generations encode. What a column holds and what a writer
//! writes are said in these terms. No wire codes here: Ignite 2's type codes for these kinds are
//! in `ignite2::format::type_codes`, Ignite 3's column types in `ignite3::codes`, so that each
//! wire format names the same kinds its own way.

use crate::calendar::{NANOS_PER_DAY, NANOS_PER_SECOND};
use crate::error::{Error, Result};

/// Fixed-size element types (Java's primitives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum PrimKind {
    /// Java byte; handed to Python as uint8, as the original IgniteDataset did (pixels, raw bytes).
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// A UTF-16 code unit (Java char), as uint16.
    Char,
    Bool,
}

impl PrimKind {
    /// Bytes per element. A table rather than a match: the decoder's short path asks for every
    /// value, and a branch per kind mispredicts in rows that mix kinds.
    #[inline(always)]
    pub fn size(self) -> usize {
        const SIZES: [usize; 8] = [1, 2, 4, 8, 4, 8, 2, 1]; // in declaration order
        SIZES[self as usize]
    }

    /// The Java name of the kind, as schemas and error messages show it.
    pub fn name(self) -> &'static str {
        match self {
            PrimKind::I8 => "byte",
            PrimKind::I16 => "short",
            PrimKind::I32 => "int",
            PrimKind::I64 => "long",
            PrimKind::F32 => "float",
            PrimKind::F64 => "double",
            PrimKind::Char => "char",
            PrimKind::Bool => "bool",
        }
    }

    /// The name of an array of this kind (`int[]`).
    pub fn array_name(self) -> &'static str {
        match self {
            PrimKind::I8 => "byte[]",
            PrimKind::I16 => "short[]",
            PrimKind::I32 => "int[]",
            PrimKind::I64 => "long[]",
            PrimKind::F32 => "float[]",
            PrimKind::F64 => "double[]",
            PrimKind::Char => "char[]",
            PrimKind::Bool => "bool[]",
        }
    }
}

/// What a fixed-width scalar column holds, and how its bytes are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Prim(PrimKind),
    /// A signed byte that is a number (SQL TINYINT), as int8; Java's `byte` (`Prim(I8)`) goes
    /// to Python as uint8, as the original IgniteDataset gave pixels and raw bytes.
    SignedByte,
    /// 16 bytes, canonical (big-endian) order.
    Uuid,
    /// int64 milliseconds since the epoch.
    Date,
    /// int64 nanoseconds since the epoch.
    Timestamp,
    /// int64 milliseconds since midnight (Ignite 2's TIME).
    Time,
    /// int64 nanoseconds since midnight (Ignite 3's TIME, which keeps up to nanoseconds).
    TimeNanos,
    /// int32 ordinal of an enum of the given type.
    Enum {
        type_id: i32,
    },
    /// float64, the nearest to the exact decimal.
    Decimal,
}

impl ScalarKind {
    pub fn size(self) -> usize {
        match self {
            ScalarKind::Prim(k) => k.size(),
            ScalarKind::SignedByte => 1,
            ScalarKind::Uuid => 16,
            ScalarKind::Date
            | ScalarKind::Timestamp
            | ScalarKind::Time
            | ScalarKind::TimeNanos
            | ScalarKind::Decimal => 8,
            ScalarKind::Enum { .. } => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ScalarKind::Prim(k) => k.name(),
            ScalarKind::SignedByte => "tinyint",
            ScalarKind::Uuid => "uuid",
            ScalarKind::Date => "date",
            ScalarKind::Timestamp => "timestamp",
            ScalarKind::Time => "time",
            ScalarKind::TimeNanos => "time_ns",
            ScalarKind::Enum { .. } => "enum",
            ScalarKind::Decimal => "decimal",
        }
    }

    /// Whether values of `other` belong in a column of this kind: the same kind, and for enums
    /// any enum (a column's enum type is checked value by value).
    pub fn holds(self, other: ScalarKind) -> bool {
        match (self, other) {
            (ScalarKind::Enum { .. }, ScalarKind::Enum { .. }) => true,
            _ => self == other,
        }
    }
}

/// An SQL query argument, for Ignite 2's and Ignite 3's queries alike (each protocol writes it in
/// its own format).
#[derive(Debug, Clone, PartialEq)]
pub enum SqlArg {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
    /// A calendar date: days since 1970-01-01.
    Date(i64),
    /// A time of day: nanoseconds since midnight.
    Time(i64),
    /// A date and time of day without a time zone (SQL `TIMESTAMP`): seconds since
    /// 1970-01-01T00:00 and nanoseconds (0..1e9) on top.
    DateTime {
        seconds: i64,
        nanos: i32,
    },
    /// An instant (SQL `TIMESTAMP WITH LOCAL TIME ZONE`): seconds since the epoch and
    /// nanoseconds (0..1e9) on top.
    Instant {
        seconds: i64,
        nanos: i32,
    },
    /// 16 bytes in canonical (big-endian) order.
    Uuid([u8; 16]),
    /// An exact decimal: `unscaled * 10^-scale`.
    Decimal {
        unscaled: i128,
        scale: i32,
    },
}

impl SqlArg {
    /// What is wrong with a value that no column could hold (a time beyond one day, nanoseconds
    /// beyond one second), so that both protocols refuse it before sending.
    pub fn invalid(&self) -> Option<String> {
        match *self {
            SqlArg::Time(nanos) if !(0..NANOS_PER_DAY).contains(&nanos) => {
                Some(format!("a time of day of {nanos} ns is not within one day"))
            }
            SqlArg::DateTime { nanos, .. } | SqlArg::Instant { nanos, .. }
                if !(0..NANOS_PER_SECOND).contains(&i64::from(nanos)) =>
            {
                Some(format!(
                    "{nanos} nanoseconds on top of a second is not 0..1e9"
                ))
            }
            _ => None,
        }
    }
}

/// One column to write, over borrowed bytes: `rows` values.
#[derive(Debug, Clone, Copy)]
pub enum WriteColumn<'a> {
    /// One primitive per row, little-endian.
    Scalar { kind: PrimKind, data: &'a [u8] },
    /// An array of `width` primitives per row.
    FixedArray {
        kind: PrimKind,
        data: &'a [u8],
        width: usize,
    },
    /// UTF-8 strings padded with NULs to `width` bytes (numpy `S<width>`).
    Strings { data: &'a [u8], width: usize },
}

impl WriteColumn<'_> {
    pub fn rows(&self) -> usize {
        match *self {
            WriteColumn::Scalar { kind, data } => data.len() / kind.size(),
            // zero-width arrays and strings hold no bytes to count rows by
            WriteColumn::FixedArray { kind, data, width } => {
                data.len().checked_div(kind.size() * width).unwrap_or(0)
            }
            WriteColumn::Strings { data, width } => data.len().checked_div(width).unwrap_or(0),
        }
    }

    pub(crate) fn check_strings(&self, what: &str) -> Result<()> {
        if let WriteColumn::Strings { data, width } = *self {
            for row in 0..self.rows() {
                let cell = &data[row * width..(row + 1) * width];
                let len = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                if std::str::from_utf8(&cell[..len]).is_err() {
                    return Err(Error::InvalidArgument(format!(
                        "{what}: row {row} is not valid UTF-8"
                    )));
                }
            }
        }
        Ok(())
    }
}
