//! `ignite-core`: the Apache Ignite thin-client data path, with no Python in it.
//!
//! Rooms, one job each, from the socket up. A room uses only rooms listed before it, and the column
//! builders of `decode` not even `format` or `net`; `tests/layers.rs` checks this on the sources.
//! - [`protocol`]: every code the protocol gives a meaning to, and the Java-compatible hashes;
//!   [`error`]: the one error type; [`kinds`]: the kinds of values every layer names;
//!   [`decimal`]: exact decimals as text, for both wire formats; [`calendar`]: dates and times
//!   of day as numbers and fields;
//! - [`net`]: bounds-checked wire reading and writing, connections (handshake, framing, request
//!   ids), TLS, the connection pool;
//! - [`format`](mod@format): Ignite 2's binary format: object layout, value extents, type codes, binary type
//!   metadata, the one object encoder;
//! - [`decode`]: column builders that know kinds, not formats, and the Ignite 2 reader that
//!   drives them (`decode::ignite2`: values, objects, page rows);
//! - [`read`]: scan and SQL request encoders, the binary types looked up, cursors with page
//!   prefetch, partition scans; [`write`](mod@write): entries encoded from columns, type registration,
//!   put-all; [`cluster`]: partition maps, node endpoints, caches (names, creation, backups);
//! - [`kv`]: key-value operations and transactions; [`igfs`]: a file system on two caches;
//! - [`ignite3`]: the Ignite 3 client protocol (handshake, SQL cursors, partition map);
//! - [`client`]: what the bindings use.

pub mod calendar;
pub mod client;
pub mod cluster;
pub mod decimal;
pub mod decode;
pub mod error;
pub mod format;
pub mod igfs;
pub mod ignite3;
pub mod kinds;
pub mod kv;
pub mod net;
pub mod protocol;
pub mod read;
pub mod write;

// The facade: the bindings and the TensorFlow plugin import only these names (and `igfs`), so the
// rooms behind them can move without touching the crates above.
pub use calendar::days_from_civil;
pub use client::Client;
pub use decimal::parse_unscaled;
pub use decode::{AlignedBuf, Batch, Column, DecodeOptions, Selection, ALIGNMENT};
pub use error::{Error, FsErrorKind, Result};
pub use kinds::{PrimKind, ScalarKind, SqlArg};
pub use net::connection::ConnectionConfig;
pub use net::tls::{client_config as tls_client_config, TlsOptions};
pub use protocol::{java_string_hash, name_id, type_code_name, ProtocolVersion};
pub use read::{Cursor, PartitionBatch, PartitionScan, ScanOptions, SqlOptions};
pub use write::{WriteColumn, WriteValues};
