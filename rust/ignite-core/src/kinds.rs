//! The kinds of values that every layer names: fixed-size elements ([`PrimKind`]), fixed-width
//! scalars ([`ScalarKind`]) and SQL query arguments ([`SqlArg`], which both protocols encode). What a column holds and what a writer writes are said in these
//! terms. No wire codes here: Ignite 2's type codes for these kinds are in
//! `format::type_codes`, so that another wire format can name the same kinds its own way.

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
}
