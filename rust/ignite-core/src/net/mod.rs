//! `net`: bytes to and from a node. Bounds-checked little-endian reading and writing ([`wire`]),
//! one connection with its handshake, framing and request ids ([`connection`]), TLS settings
//! ([`tls`]) and the reuse of open connections ([`pool`]). Nothing here knows what a page, a
//! cache or an object is.

pub mod connection;
pub mod pool;
pub mod tls;
pub mod wire;
