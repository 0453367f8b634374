//! Ignite 2's binary values into the shared column builders (`crate::decode`). Everything that
//! knows the binary layout on the decoding side is here; the builders only see kinds and values.
//! Ignite 3's BinaryTuple rows fill the same builders from `ignite3::tuple`.
//!
//! - [`value`]: one value of any type code into a column;
//! - [`budget`]: the decoding work a page may cost, against objects that share children;
//! - [`object`]: one binary object into a struct column, through its footer and schema;
//! - [`rows`]: the rows of a scan or query page into a batch.

pub mod budget;
pub mod object;
pub mod rows;
pub mod value;

pub use budget::Budget;
pub use rows::{Page, RowDecoder};
pub use value::{push_value, push_value_within, value_kind};
