//! `decode`: values into typed, 64-byte-aligned column buffers ([`buffer`]) that numpy then owns.
//! Builders ([`ColumnBuilder`], [`StructBuilder`]) know kinds and buffers, no wire format; a
//! source reader (`ignite2::decode`, `ignite3::tuple`) drives them. The seam, for a reader of another format:
//!
//! - one builder per column (`ColumnBuilder::with_options`, optionally `declare(kind)` so that a
//!   column of nulls still has its type); rows are pushed in order;
//! - per value: `push_null`, or `push_scalar(kind, bytes)`, `push_string`,
//!   `push_decimal_string`, `push_prim_array`; nested values with `push_list`, `push_map`,
//!   `push_struct` and the [`StructBuilder`]'s types, shapes and rows;
//! - `expect(kind)` checks a value's kind before the source reads its body, and `prim_slot` is
//!   the short path for a primitive of the column's own kind, `text_slot` for a string;
//! - `finish` gives the [`Column`], or the error of a string that is not UTF-8: strings are
//!   checked many at a time, as they fill the column and at its finish.
//!
//! A column's kind is fixed by its first value; a later value of another kind is a schema error.
//! Objects become struct columns whose fields are found by id, never by position; arrays,
//! collections and maps become list columns (offsets plus a child column of any kind).

pub mod buffer;
pub mod column;
pub mod column_builder;
pub mod selection;
pub mod struct_builder;
pub mod value_kind;

pub use buffer::{AlignedBuf, ALIGNMENT};
pub use column::{Batch, Column};
pub use column_builder::{ColumnBuilder, DecodeOptions, PrimSlot, TextSlot};
pub use selection::Selection;
pub use struct_builder::{FieldDecl, StructBuilder, StructType};
pub use value_kind::ValueKind;
