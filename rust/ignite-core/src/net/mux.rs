//! Request-id multiplexing on one stream, for both generations: several requests in flight,
//! each answer matched to its request by id, answers that arrive before their turn kept for
//! their own caller, and a connection marked broken once its position in the stream is unknown.
//!
//! What differs between the generations is a parameter: the byte order of the length prefix
//! ([`LengthPrefix`]: Ignite 2 little-endian, Ignite 3 big-endian) and how a frame's header names
//! the request it answers (a closure: Ignite 2's is a little-endian id, Ignite 3's a MessagePack
//! header that may also be a notification to skip). Building a request and reading an answer's
//! payload stay with each generation's `connection.rs`.

use std::collections::HashMap;
use std::io::{Read, Write};

use crate::error::{Error, Result};
use crate::net::stream::{read_frame_body, Stream};

/// The byte order of the `i32` length before each frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthPrefix {
    LittleEndian,
    BigEndian,
}

/// What a frame is, as the generation reads its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// The answer to this request id.
    Answer(i64),
    /// Not an answer (a notification): read and dropped.
    Skip,
}

/// A connection whose answers are received by request id: each generation's, over a
/// [`Multiplexer`] (what `net::window` needs of it).
pub trait Pipelined {
    /// Reads the answer to request `id` into `buf` and returns where its payload starts; the
    /// server's error for it is the `Err`.
    fn receive(&mut self, id: i64, buf: &mut Vec<u8>) -> Result<usize>;
    /// Whether the connection broke: nothing more may be read from it.
    fn is_broken(&self) -> bool;
}

pub struct Multiplexer {
    stream: Stream,
    /// Who is at the other end, in errors.
    peer: String,
    prefix: LengthPrefix,
    next_request_id: i64,
    /// Answers that arrived while we waited for another request id.
    stashed: HashMap<i64, Vec<u8>>,
    /// Set after any I/O or framing failure: the stream position is unknown, so it must not be
    /// reused.
    broken: bool,
    /// Requests sent whose answers no caller has collected yet (on the wire or stashed).
    awaited: usize,
}

impl Multiplexer {
    pub(crate) fn new(stream: Stream, peer: String, prefix: LengthPrefix) -> Multiplexer {
        Multiplexer {
            stream,
            peer,
            prefix,
            next_request_id: 1,
            stashed: HashMap::new(),
            broken: false,
            awaited: 0,
        }
    }

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Whether answers to requests sent are still to be collected.
    pub fn awaits_responses(&self) -> bool {
        self.awaited > 0
    }

    /// Whether an idle connection can no longer be used (see `Stream::is_dead_while_idle`).
    pub fn is_dead_while_idle(&mut self) -> bool {
        self.broken || self.stream.is_dead_while_idle()
    }

    /// The id of the next request (its message is then sent with [`Multiplexer::send`]).
    pub fn next_id(&mut self) -> i64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        id
    }

    /// Sends a request's whole message (its length prefix included), whose answer a caller will
    /// collect.
    pub fn send(&mut self, message: &[u8]) -> Result<()> {
        self.write_all(message)?;
        self.awaited += 1;
        Ok(())
    }

    /// Writes bytes that ask for no answer by id (a handshake).
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        let result = self
            .stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush());
        result.map_err(|e| {
            self.broken = true;
            Error::from(e)
        })
    }

    /// Reads exactly `buf.len()` bytes that are not a frame (a handshake's magic).
    pub fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.stream.read_exact(buf).map_err(|e| {
            self.broken = true;
            Error::from(e)
        })
    }

    /// Reads one length-prefixed frame into `buf` (replacing its contents, keeping its capacity).
    pub fn read_frame(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let result = self.read_frame_inner(buf);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn read_frame_inner(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len)?;
        let len = match self.prefix {
            LengthPrefix::LittleEndian => i32::from_le_bytes(len),
            LengthPrefix::BigEndian => i32::from_be_bytes(len),
        };
        read_frame_body(&mut self.stream, len, buf, &self.peer)
    }

    /// Reads the answer to request `id` into `buf`. Answers to other requests that arrive first
    /// are kept for their own `receive`. `frame` reads a frame's header; its error breaks the
    /// connection.
    pub fn receive(
        &mut self,
        id: i64,
        buf: &mut Vec<u8>,
        mut frame: impl FnMut(&[u8]) -> Result<Frame>,
    ) -> Result<()> {
        if let Some(stashed) = self.stashed.remove(&id) {
            *buf = stashed;
        } else {
            loop {
                let answers = self.read_answer(buf, &mut frame)?;
                if answers == id {
                    break;
                }
                if self.stashed.contains_key(&answers) {
                    return Err(self.never_sent(answers));
                }
                self.stashed.insert(answers, std::mem::take(buf));
            }
        }
        self.awaited = self.awaited.saturating_sub(1);
        Ok(())
    }

    /// Reads the next answer to arrive, whichever request it answers (one kept by an earlier
    /// `receive` first), into `buf`; returns its request id.
    pub fn receive_next(
        &mut self,
        buf: &mut Vec<u8>,
        mut frame: impl FnMut(&[u8]) -> Result<Frame>,
    ) -> Result<i64> {
        let id = match self.stashed.keys().min() {
            Some(&id) => {
                *buf = self.stashed.remove(&id).expect("key just seen");
                id
            }
            None => self.read_answer(buf, &mut frame)?,
        };
        self.awaited = self.awaited.saturating_sub(1);
        Ok(id)
    }

    /// Reads frames until an answer to a request this connection sent; returns its id.
    fn read_answer(
        &mut self,
        buf: &mut Vec<u8>,
        frame: &mut impl FnMut(&[u8]) -> Result<Frame>,
    ) -> Result<i64> {
        loop {
            self.read_frame(buf)?;
            match frame(buf) {
                Ok(Frame::Skip) => continue,
                Ok(Frame::Answer(id)) if id <= 0 || id >= self.next_request_id => {
                    return Err(self.never_sent(id))
                }
                Ok(Frame::Answer(id)) => return Ok(id),
                Err(e) => {
                    self.broken = true;
                    return Err(e);
                }
            }
        }
    }

    fn never_sent(&mut self, id: i64) -> Error {
        self.broken = true;
        Error::protocol(format!(
            "{} answered request id {id}, which this connection never sent or already received",
            self.peer
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::net::{TcpListener, TcpStream};

    use super::*;

    /// A multiplexer whose peer has already sent `frames` (little-endian length, then the id as
    /// the body's first 8 bytes; id 0: a frame to skip).
    fn peer_sent(frames: &[i64]) -> Multiplexer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        for id in frames {
            server.write_all(&8i32.to_le_bytes()).unwrap();
            server.write_all(&id.to_le_bytes()).unwrap();
        }
        let mut mux = Multiplexer::new(
            Stream::Plain(client),
            "the peer".into(),
            LengthPrefix::LittleEndian,
        );
        for _ in 0..3 {
            let id = mux.next_id();
            mux.send(&id.to_le_bytes()).unwrap();
        }
        mux
    }

    fn header(frame: &[u8]) -> Result<Frame> {
        let id = i64::from_le_bytes(frame[..8].try_into().unwrap());
        Ok(if id == 0 {
            Frame::Skip
        } else {
            Frame::Answer(id)
        })
    }

    #[test]
    fn answers_out_of_order_are_kept_for_their_own_receive() {
        let mut mux = peer_sent(&[3, 0, 1, 2]);
        let mut buf = Vec::new();
        mux.receive(1, &mut buf, header).unwrap();
        assert_eq!(buf, 1i64.to_le_bytes());
        assert!(mux.awaits_responses());
        assert_eq!(mux.receive_next(&mut buf, header).unwrap(), 3);
        mux.receive(2, &mut buf, header).unwrap();
        assert_eq!(buf, 2i64.to_le_bytes());
        assert!(!mux.awaits_responses() && !mux.is_broken());
    }

    #[test]
    fn an_answer_to_a_request_never_sent_breaks_the_connection() {
        for frames in [&[7][..], &[2, 2][..]] {
            let mut mux = peer_sent(frames);
            let error = mux.receive(1, &mut Vec::new(), header).unwrap_err();
            assert!(error.to_string().contains("never sent"), "{error}");
            assert!(mux.is_broken());
        }
    }
}
