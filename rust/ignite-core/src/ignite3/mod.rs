//! The Ignite 3 client protocol, wire level: MessagePack framing, the handshake, request ids and
//! typed server errors, SQL cursors whose pages keep rows as BinaryTuple byte ranges, and the
//! partition map. The protocol facts, with
//! their sources in the Ignite 3.1.0 code, are in docs/IGNITE3-PROTOCOL.md.
//!
//! - [`codes`]: op codes, flags, column type ids, error groups;
//! - [`msgpack`]: the bounds-checked MessagePack reader and writer;
//! - [`connection`]: handshake, frames, request ids, errors (over `net`'s TCP or TLS stream);
//! - [`tuple`](mod@tuple): BinaryTuple, both ways: rows into the shared column builders, and what the
//!   client sends (SQL arguments, the streamer's rows); [`sql_type`]: column types and the kind
//!   of column each fills;
//! - [`sql`]: `SQL_EXEC`, column metadata, paged cursors; [`cluster`]: tables, partitions, nodes;
//! - [`transaction`]: explicit transactions; [`upsert`]: the data streamer's writes;
//! - `test_support` (hidden): frames and the handshake answer of a fake node, for tests.

pub mod client;
pub mod cluster;
pub mod codes;
pub mod connection;
pub mod msgpack;
pub mod sql;
pub mod sql_type;
#[doc(hidden)]
pub mod test_support;
pub mod transaction;
pub mod tuple;
pub mod upsert;

pub use cluster::{NodeInfo, PartitionPrimaries, TableInfo};
pub use connection::{Connection, ServerInfo};
pub use sql::{execute, execute_update, ColumnMeta, Page, SqlArg, SqlCursor, SqlOptions};
