//! BinaryTuple, Ignite 3's row format, both ways: [`reader`] pushes a row's elements into column
//! builders, [`writer`] builds the tuples the client sends. The layout's constants are here, once.
//!
//! Layout (`BinaryTupleParser`/`BinaryTupleBuilder` in Ignite 3's `binary-tuple` module, and
//! docs/IGNITE3-PROTOCOL.md): a header byte whose two low bits give the width of an offset entry
//! (1, 2 or 4 bytes); one entry per element, each the end of that element's bytes counted from the
//! start of the values; then the values. An element with no bytes is NULL. Values are
//! little-endian and as short as they can be: an integer takes 1, 2, 4 or 8 bytes whatever its
//! column's width, a DOUBLE that a float holds exactly takes 4. An empty string or byte array, or
//! a byte array that starts with 0x80, is written with a leading 0x80 byte, which is not part of
//! the value.

pub mod reader;
pub mod writer;

pub use reader::push_tuple;
pub use writer::TupleBuilder;

/// The header bits that give an offset entry's width: `1 << (header & ENTRY_SIZE_BITS)` bytes.
pub const ENTRY_SIZE_BITS: u8 = 0b11;

/// The mark before a variable-length value that is empty or starts with this byte.
pub const VARLEN_EMPTY_BYTE: u8 = 0x80;
