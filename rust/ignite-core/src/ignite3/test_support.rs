//! What a test needs to play an Ignite 3 node on a socket: frames, the handshake answer of a
//! 3.1.0 node, empty answers. One copy for this crate's unit tests and `tests/ignite3_wire.rs`;
//! hidden from the docs, and no part of the client.

use std::io::Read;

use crate::ignite3::codes::MAGIC;
use crate::ignite3::msgpack::MsgWriter;

/// The name the fake node gives in its handshake.
pub const NODE_NAME: &str = "fake-node";

/// The observable timestamp the fake node's answers carry.
pub const TIMESTAMP: i64 = 12345;

/// A frame: the body after its big-endian length.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

/// The magic the node sends once, then `body` as its first frame.
pub fn magic_frame(body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend(frame(body));
    out
}

/// What a 3.1.0 node answers a handshake with: the magic, then protocol 3.0.0, no error, no
/// idle timeout, its id and name ([`NODE_NAME`]), one cluster id and name, [`TIMESTAMP`], its
/// version 3.1.0, no features and no extensions.
pub fn handshake_answer() -> Vec<u8> {
    let mut body = Vec::new();
    let mut w = MsgWriter::new(&mut body);
    w.int(3)
        .int(0)
        .int(0)
        .nil()
        .int(0)
        .uuid(&[1; 16])
        .str(NODE_NAME);
    w.int(1).uuid(&[2; 16]).str("fake-cluster").int(TIMESTAMP);
    w.int(3).int(1).int(0).nil().nil().bin(&[]).int(0);
    magic_frame(&body)
}

/// The answer to request `id` that carries nothing: its id, no flags, [`TIMESTAMP`] (the
/// heartbeat's answer, or a streamer batch's).
pub fn empty_answer(id: i64) -> Vec<u8> {
    let mut body = Vec::new();
    MsgWriter::new(&mut body).int(id).int(0).int(TIMESTAMP);
    frame(&body)
}

/// All a node writes to a client opening a connection that it answers at once: the
/// handshake answer, then the answer to the heartbeat that opening sends (request 1).
pub fn opening_answers() -> Vec<u8> {
    let mut out = handshake_answer();
    out.extend(empty_answer(1));
    out
}

/// The body of the client's next frame, or None once it has closed.
pub fn read_frame(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).ok()?;
    let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
    stream.read_exact(&mut body).ok()?;
    Some(body)
}
