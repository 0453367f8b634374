//! Finished columns, what a batch hands to the bindings: typed, 64-byte-aligned buffers.

use crate::decode::buffer::AlignedBuf;
use crate::kinds::{PrimKind, ScalarKind};

/// A decoded column. `validity` (one byte per row, 1 = present) is `None` when nothing is null.
#[derive(Debug, PartialEq, Eq)]
pub enum Column {
    /// Only nulls were seen and no type is known.
    Null { len: usize },
    Scalar {
        kind: ScalarKind,
        values: AlignedBuf,
        len: usize,
        validity: Option<AlignedBuf>,
    },
    /// Primitive arrays that all have `width` elements: a row-major 2-D buffer.
    FixedArray {
        kind: PrimKind,
        values: AlignedBuf,
        len: usize,
        width: usize,
        validity: Option<AlignedBuf>,
    },
    /// Primitive arrays of varying length: values plus `len + 1` i64 offsets (in elements).
    VarArray {
        kind: PrimKind,
        values: AlignedBuf,
        offsets: AlignedBuf,
        len: usize,
        validity: Option<AlignedBuf>,
    },
    /// UTF-8 strings (or exact decimals as text) in Arrow's layout: `len + 1` offsets, i32 (i64
    /// when `large`: past 2 GiB of text), into `data`; row `i` is `data[offsets[i]..offsets[i + 1]]`,
    /// a null row empty.
    Strings {
        offsets: AlignedBuf,
        large: bool,
        data: AlignedBuf,
        len: usize,
        validity: Option<AlignedBuf>,
        decimal: bool,
    },
    /// Arrays of objects or strings, collections: `len + 1` i64 offsets into the child column.
    List {
        offsets: AlignedBuf,
        child: Box<Column>,
        len: usize,
        validity: Option<AlignedBuf>,
    },
    /// Maps: `len + 1` i64 offsets into the key and value columns.
    Map {
        offsets: AlignedBuf,
        keys: Box<Column>,
        values: Box<Column>,
        len: usize,
        validity: Option<AlignedBuf>,
    },
    /// An object: its fields sorted by name. A null object makes every field null in that row.
    Struct {
        type_name: String,
        fields: Vec<(String, Column)>,
        len: usize,
    },
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Null { len }
            | Column::Scalar { len, .. }
            | Column::FixedArray { len, .. }
            | Column::VarArray { len, .. }
            | Column::Strings { len, .. }
            | Column::List { len, .. }
            | Column::Map { len, .. }
            | Column::Struct { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Decoded rows: one column per name (`key` and `val` for scans), `len` rows each.
#[derive(Debug, PartialEq, Eq)]
pub struct Batch {
    pub columns: Vec<(String, Column)>,
    pub len: usize,
}
