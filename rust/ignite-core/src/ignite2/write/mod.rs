//! `write`: the way back, columns to a cache. Rows become entries ([`entries`]: the one place
//! where values and objects are encoded for writing), an object value's type is registered
//! ([`binary_type`]), and put-all sends the entries in pipelined chunks ([`put_all`](mod@put_all), through
//! `net::window`).

pub mod binary_type;
pub mod entries;
pub mod put_all;

pub use entries::{EntryEncoder, WriteValues};
pub use put_all::put_all;
