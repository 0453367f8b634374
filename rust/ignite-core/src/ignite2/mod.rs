//! Ignite 2 (the thin-client protocol and its binary objects), above the shared rooms. Nothing
//! here names `ignite3`, and the shared rooms name neither generation (`tests/layers.rs`).
//!
//! - [`protocol`]: every code the protocol gives a meaning to, and the Java-compatible hashes;
//! - [`wire`]: bounds-checked little-endian reading and writing; [`connection`]: handshake,
//!   frames, request ids, typed errors (pooled by `net::pool`);
//! - [`format`](mod@format): the binary format: object layout, value extents, type codes, binary
//!   type metadata, the one object encoder;
//! - [`decode`]: values, objects and page rows into the shared column builders;
//! - [`read`]: scan and SQL requests, the binary types looked up, cursors with page prefetch,
//!   partition scans; [`write`](mod@write): entries encoded from columns, type registration,
//!   put-all; [`cluster`]: partition maps, node endpoints, caches;
//! - [`kv`]: key-value operations and transactions (what `igfs` stands on);
//! - [`client`]: what the bindings use.

pub mod client;
pub mod cluster;
pub mod connection;
pub mod decode;
pub mod format;
pub mod kv;
pub mod protocol;
pub mod read;
pub mod wire;
pub mod write;

pub use client::Client;
pub use read::{Cursor, PartitionBatch, PartitionScan, ScanOptions, SqlOptions};
pub use write::WriteValues;
