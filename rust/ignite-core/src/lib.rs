//! `ignite-core`: the Apache Ignite thin-client data path, with no Python in it.
//!
//! Shared rooms, which know no protocol code and name neither generation:
//! - [`error`]: the one error type; [`kinds`]: the kinds of values every layer names (and the
//!   columns a writer is given); [`decimal`]: exact decimals as text, for both wire formats;
//!   [`calendar`]: dates and times of day as numbers and fields; [`bytes`]: the bounded byte
//!   cursor both wire formats' readers are built on;
//! - [`net`]: the stream under a connection (TCP, TLS, the search over addresses, frame bodies);
//! - [`decode`]: column builders that know kinds, not formats.
//!
//! Above them, one room per generation; neither names the other:
//! - [`ignite2`]: Ignite 2's protocol, binary format, connection, reads, writes, cluster facts,
//!   key-value operations and its client;
//! - [`ignite3`]: Ignite 3's MessagePack protocol, connection, SQL cursors, BinaryTuples, cluster
//!   facts, the streamer's writes and its client;
//! - [`igfs`]: a file system on two Ignite 2 caches.
//!
//! A room uses only the rooms listed before it; `tests/layers.rs` checks this on the sources.

pub mod bytes;
pub mod calendar;
pub mod decimal;
pub mod decode;
pub mod error;
pub mod igfs;
pub mod ignite2;
pub mod ignite3;
pub mod kinds;
pub mod net;

// The facade of shared names: the bindings and the TensorFlow plugin import these, and each
// generation's own types by module (`ignite2::Client`, `ignite3::client::Ignite3Client`).
pub use calendar::days_from_civil;
pub use decimal::parse_unscaled;
pub use decode::{AlignedBuf, Batch, Column, DecodeOptions, Selection, ALIGNMENT};
pub use error::{Error, FsErrorKind, Result};
pub use kinds::{PrimKind, ScalarKind, SqlArg, WriteColumn};
pub use net::stream::{ConnectionConfig, ProtocolVersion};
pub use net::tls::{client_config as tls_client_config, TlsOptions};
