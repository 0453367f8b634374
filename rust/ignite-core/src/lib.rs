//! `ignite-core`: the Apache Ignite thin-client read path, with no Python in it.
//!
//! Rooms, one job each:
//! - [`protocol`]: constants and the Java-compatible hashes;
//! - [`wire`]: bounds-checked little-endian reading and writing;
//! - [`connection`]: sockets, handshake, framing, request ids, error statuses;
//! - [`tls`]: TLS client configuration (verification, client certificates);
//! - [`pool`]: reuse of open connections;
//! - [`partitions`]: partition maps (op 1101);
//! - [`binary`]: the binary object layout (header, footer, value sizes);
//! - [`metadata`]: binary type metadata and schemas;
//! - [`buffer`] and [`columns`]: 64-byte-aligned column buffers and decoding into them;
//! - [`cursor`]: scan and SQL query cursors with page prefetch;
//! - [`partition_scan`]: several partitions' cursors in flight on one connection;
//! - [`writer`]: the bulk writer (columns -> binary objects -> put-all);
//! - [`cache`]: key-value operations, cache creation with settings, transactions;
//! - [`igfs`]: a file system on two caches (metadata and blocks);
//! - [`client`]: what the bindings use.

pub mod buffer;
pub mod client;
pub mod cluster;
pub mod columns;
pub mod cursor;
pub mod error;
pub mod format;
pub mod igfs;
pub mod kinds;
pub mod kv;
pub mod net;
pub mod partition_scan;
pub mod protocol;
pub mod read;
pub mod write;

// The facade: the bindings and the TensorFlow plugin import only these names (and `igfs`), so the
// rooms behind them can move without touching the crates above.
pub use buffer::{AlignedBuf, ALIGNMENT};
pub use client::Client;
pub use columns::{Column, DecodeOptions, PrimKind, ScalarKind, Selection};
pub use net::connection::ConnectionConfig;
pub use cursor::{Batch, Cursor, ScanOptions, SqlArg, SqlOptions};
pub use error::{Error, FsErrorKind, Result};
pub use partition_scan::{PartitionBatch, PartitionScan};
pub use protocol::{java_string_hash, name_id, type_code_name, ProtocolVersion};
pub use net::tls::{client_config as tls_client_config, TlsOptions};
pub use write::{WriteColumn, WriteValues};
