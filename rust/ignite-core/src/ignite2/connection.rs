//! Ignite 2's connection to one node: the handshake (with version fallback), requests framed
//! little-endian with their id in the header, and response headers mapped to typed errors. The
//! socket, TLS, the search over addresses and the matching of answers to request ids are
//! `net`'s.

use crate::error::{Error, Result};
use crate::ignite2::protocol::{
    self, response_flag, status, HANDSHAKE_CODE, THIN_CLIENT_CODE, VERSION_1_1_0, VERSION_1_4_0,
    VERSION_1_7_0,
};
use crate::ignite2::wire::{Reader, Writer};
use crate::net::mux::{Frame, LengthPrefix, Multiplexer, Pipelined};
use crate::net::pool::Pooled;
use crate::net::stream::{open_first, ConnectionConfig, ProtocolVersion, Stream};

pub struct Connection {
    mux: Multiplexer,
    address: String,
    version: ProtocolVersion,
    /// The node's id, from the handshake (protocol 1.4.0 and later).
    node_id: Option<[u8; 16]>,
}

impl Connection {
    /// Connects to the first address that answers and completes the handshake.
    pub fn open(config: &ConnectionConfig) -> Result<Connection> {
        if config.addresses.is_empty() {
            return Err(Error::InvalidArgument("no server address given".into()));
        }
        if config.protocol_version < protocol::OLDEST_SUPPORTED {
            return Err(Error::InvalidArgument(format!(
                "protocol version {} is older than the oldest supported, {}",
                config.protocol_version,
                protocol::OLDEST_SUPPORTED
            )));
        }
        open_first(&config.addresses, "Ignite node", |address| {
            Connection::open_one(address, config)
        })
    }

    fn open_one(address: &str, config: &ConnectionConfig) -> Result<Connection> {
        let mut version = config.protocol_version;
        loop {
            let mut conn = Connection {
                mux: Multiplexer::new(
                    Stream::open(address, config)?,
                    "the server".to_string(),
                    LengthPrefix::LittleEndian,
                ),
                address: address.to_string(),
                version,
                node_id: None,
            };
            match conn.handshake(config)? {
                None => return Ok(conn),
                Some(server_version) => {
                    if server_version >= version || server_version < protocol::OLDEST_SUPPORTED {
                        return Err(Error::Connection(format!(
                            "the server at {address} rejected protocol {version} and offers {server_version}, which this client does not speak"
                        )));
                    }
                    version = server_version;
                }
            }
        }
    }

    /// Returns `Ok(None)` on success, `Ok(Some(v))` when the server asks for version `v`.
    fn handshake(&mut self, config: &ConnectionConfig) -> Result<Option<ProtocolVersion>> {
        let v = self.version;
        let mut w = Writer::new();
        w.u8(HANDSHAKE_CODE)
            .i16(v.0)
            .i16(v.1)
            .i16(v.2)
            .u8(THIN_CLIENT_CODE);
        if v >= VERSION_1_7_0 {
            // Only features that change no message layout (some others do).
            w.byte_array_object(protocol::CLIENT_FEATURES);
        }
        if v >= VERSION_1_1_0 {
            if let Some(user) = &config.username {
                w.string_object(Some(user));
                w.string_object(config.password.as_deref());
            }
        }
        self.write_frame(&w.buf)?;
        let mut buf = Vec::new();
        self.mux.read_frame(&mut buf)?;
        let mut r = Reader::new(&buf);
        if r.u8()? == 1 {
            if v >= VERSION_1_7_0 && r.remaining() > 0 {
                // the server's features: a byte-array object; we use none of them
                r.u8()?;
                let n = r.len(1)?;
                r.skip(n)?;
            }
            if v >= VERSION_1_4_0 && r.remaining() > 0 && r.u8()? == protocol::type_code::UUID {
                self.node_id = Some(r.uuid()?);
            }
            return Ok(None);
        }
        let server_version = ProtocolVersion(r.i16()?, r.i16()?, r.i16()?);
        let message = r.string_object()?.unwrap_or_default();
        let status = if r.remaining() >= 4 { r.i32()? } else { 0 };
        if status == protocol::status::AUTH_FAILED || message.to_lowercase().contains("authentic") {
            let user = config.username.as_deref().unwrap_or("<none>");
            return Err(Error::Authentication(format!(
                "the server at {} refused user '{user}': {message}",
                self.address
            )));
        }
        if server_version != v {
            return Ok(Some(server_version));
        }
        Err(Error::Connection(format!(
            "handshake with {} failed: {message}",
            self.address
        )))
    }

    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// Whether responses to requests sent on this connection are still to be collected: the
    /// connection is not clean for another user (a pool drops it instead of keeping it).
    pub fn awaits_responses(&self) -> bool {
        self.mux.awaits_responses()
    }

    /// Whether an idle connection can no longer be used: the node closed it (it restarted, or
    /// dropped an idle client), or bytes nobody asked for are waiting. Checked without blocking
    /// before a pooled connection is reused, so that a node restarted between two scans costs a
    /// reconnect rather than a failed scan.
    pub fn is_dead_while_idle(&mut self) -> bool {
        self.mux.is_dead_while_idle()
    }

    /// The id of the node this connection talks to (canonical UUID bytes), if the server said.
    pub fn node_id(&self) -> Option<[u8; 16]> {
        self.node_id
    }

    /// Sends a request and returns its id; the response is collected with [`Connection::receive`].
    pub fn send(&mut self, op_code: i16, body: &[u8]) -> Result<i64> {
        self.send_with(op_code, body.len(), |msg| msg.extend_from_slice(body))
    }

    /// Sends a request whose body `write_body` appends to the message buffer (about
    /// `body_len` bytes), so that large bodies are copied once, not built and then copied.
    pub fn send_with(
        &mut self,
        op_code: i16,
        body_len: usize,
        write_body: impl FnOnce(&mut Vec<u8>),
    ) -> Result<i64> {
        let id = self.mux.next_id();
        let mut msg = Vec::with_capacity(14 + body_len);
        msg.extend_from_slice(&[0; 4]); // length, patched below
        msg.extend_from_slice(&op_code.to_le_bytes());
        msg.extend_from_slice(&id.to_le_bytes());
        write_body(&mut msg);
        let len = (msg.len() - 4) as i32;
        msg[..4].copy_from_slice(&len.to_le_bytes());
        self.mux.send(&msg)?;
        Ok(id)
    }

    /// Reads the next response to arrive, whichever request it answers (one kept by an earlier
    /// `receive` first), into `buf`. Returns its request id and where its payload starts, or the
    /// server's error for that request; the outer error is a broken connection.
    pub fn receive_next(&mut self, buf: &mut Vec<u8>) -> Result<(i64, Result<usize>)> {
        let id = self.mux.receive_next(buf, answered_id)?;
        Ok((id, self.parse_response_header(buf)))
    }

    /// Marks the connection unusable for others, e.g. when requests of an abandoned exchange
    /// are still unanswered on it.
    pub fn mark_broken(&mut self) {
        self.mux.mark_broken();
    }

    /// Sends a request and waits for its payload.
    pub fn request(&mut self, op_code: i16, body: &[u8]) -> Result<Vec<u8>> {
        let id = self.send(op_code, body)?;
        let mut buf = Vec::new();
        let start = self.receive(id, &mut buf)?;
        buf.drain(..start);
        Ok(buf)
    }

    fn parse_response_header(&self, buf: &[u8]) -> Result<usize> {
        let mut r = Reader::new(buf);
        r.i64()?; // request id, already matched
        if self.version >= VERSION_1_4_0 {
            let flags = r.i16()?;
            if flags & response_flag::AFFINITY_TOPOLOGY_CHANGED != 0 {
                r.skip(12)?; // long major | int minor
            }
            if flags & response_flag::ERROR != 0 {
                let status = r.i32()?;
                let message = r.string_object()?.unwrap_or_default();
                return Err(status_error(status, message));
            }
        } else {
            let status = r.i32()?;
            if status != 0 {
                let message = r.string_object()?.unwrap_or_default();
                return Err(status_error(status, message));
            }
        }
        Ok(r.pos())
    }

    fn write_frame(&mut self, body: &[u8]) -> Result<()> {
        let mut msg = Vec::with_capacity(4 + body.len());
        msg.extend_from_slice(&(body.len() as i32).to_le_bytes());
        msg.extend_from_slice(body);
        self.mux.write_all(&msg)
    }
}

/// The request a frame answers: its first field.
fn answered_id(frame: &[u8]) -> Result<Frame> {
    Ok(Frame::Answer(Reader::new(frame).i64()?))
}

/// The typed error for a status code in a response header.
fn status_error(code: i32, message: String) -> Error {
    match code {
        status::CACHE_DOES_NOT_EXIST => Error::CacheNotFound(message),
        status::AUTH_FAILED | status::SECURITY_VIOLATION => Error::Authentication(message),
        _ => Error::Server {
            status: code,
            message,
        },
    }
}

impl Pipelined for Connection {
    fn is_broken(&self) -> bool {
        self.mux.is_broken()
    }

    /// Reads the response to request `id` into `buf` and returns where its payload starts.
    /// Responses to other requests that arrive first are kept for their own `receive`.
    fn receive(&mut self, id: i64, buf: &mut Vec<u8>) -> Result<usize> {
        self.mux.receive(id, buf, answered_id)?;
        self.parse_response_header(buf)
    }
}

impl Pooled for Connection {
    fn open(config: &ConnectionConfig) -> Result<Connection> {
        Connection::open(config)
    }

    fn is_dead_while_idle(&mut self) -> bool {
        Connection::is_dead_while_idle(self)
    }

    fn is_reusable(&self) -> bool {
        !self.is_broken() && !self.awaits_responses()
    }
}
