//! `net`: bytes to and from a node, for both generations. The stream under a connection (TCP with
//! TLS over it when asked, the search over addresses, frame bodies read without trusting their
//! length: [`stream`]), TLS settings ([`tls`]), answers matched to their requests by id
//! ([`mux`]), open connections kept for reuse ([`pool`]), and the pipelined writers' window of
//! requests in flight with exact counts of what a failed write stored ([`window`]). No protocol
//! codes: each generation's handshake, headers and messages are in its own room (`ignite2`,
//! `ignite3`).

pub mod mux;
pub mod pool;
pub mod stream;
pub mod tls;
pub mod window;
