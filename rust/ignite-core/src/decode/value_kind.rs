//! What a column holds, as a source tells a builder: fixed by the column's first value, checked
//! against every later one.

use crate::kinds::{PrimKind, ScalarKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// One fixed-width value per row.
    Scalar(ScalarKind),
    /// UTF-8 text.
    Text,
    /// Exact decimals as text (see [`crate::DecodeOptions::decimal_as_string`]).
    DecimalText,
    /// An array of primitives per row: 2-D when every row has the same length.
    PrimArray(PrimKind),
    /// A list of values of any one kind per row. `name` is the source's name for the list type;
    /// lists of different names do not mix in a column (`string[]` and `collection`, say).
    List(&'static str),
    /// Key-value pairs per row.
    Map,
    /// An object with named fields per row.
    Struct,
}

impl ValueKind {
    pub fn name(self) -> &'static str {
        match self {
            ValueKind::Scalar(k) => k.name(),
            ValueKind::Text => "string",
            ValueKind::DecimalText => "decimal",
            ValueKind::PrimArray(k) => k.array_name(),
            ValueKind::List(name) => name,
            ValueKind::Map => "map",
            ValueKind::Struct => "object",
        }
    }

    /// Whether values of `other` belong in a column of this kind (any enum in an enum column:
    /// its type is checked value by value).
    #[inline]
    pub fn holds(self, other: ValueKind) -> bool {
        match (self, other) {
            (ValueKind::Scalar(a), ValueKind::Scalar(b)) => a.holds(b),
            _ => self == other,
        }
    }
}
