//! One TCP connection to one node: connect, handshake (with version fallback), request framing,
//! request ids, and response headers mapped to typed errors.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::net::wire::{Reader, Writer};
use crate::protocol::{
    self, response_flag, ProtocolVersion, HANDSHAKE_CODE, THIN_CLIENT_CODE, VERSION_1_1_0,
    VERSION_1_4_0, VERSION_1_7_0,
};

/// Largest frame we accept from a server: a guard against a corrupt length field making us
/// allocate without bound. Pages are far smaller than this in practice.
pub const MAX_FRAME_LEN: usize = i32::MAX as usize;

/// How much a frame's length field may make us allocate before its bytes arrive.
const UNTRUSTED_RESERVE: usize = 64 << 20;

#[derive(Clone)]
pub struct ConnectionConfig {
    /// `host:port` strings, tried in order.
    pub addresses: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub connect_timeout: Duration,
    /// `None` waits forever.
    pub read_timeout: Option<Duration>,
    /// SO_RCVBUF / SO_SNDBUF; large buffers let the next page stream in while we decode.
    pub socket_buffer_bytes: usize,
    /// The protocol version the handshake starts with; a server that speaks an older one says so
    /// and we fall back to it (down to 1.1.0).
    pub protocol_version: ProtocolVersion,
    /// TLS for every connection (see [`crate::net::tls::client_config`]); `None`: plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        ConnectionConfig {
            addresses: vec!["127.0.0.1:10800".to_string()],
            username: None,
            password: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Some(Duration::from_secs(60)),
            socket_buffer_bytes: 4 << 20,
            protocol_version: VERSION_1_7_0,
            tls: None,
        }
    }
}

// Credentials must never reach a log line or an error message through Debug.
impl std::fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("addresses", &self.addresses)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The byte stream of a connection: plain TCP, or TLS over it. Ignite 3's connection
/// (`ignite3::connection`) opens the same one.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// Connects to `address` with the config's buffers and timeouts, and starts TLS on it when
    /// the config asks for it.
    pub(crate) fn open(address: &str, config: &ConnectionConfig) -> Result<Stream> {
        let tcp = connect_socket(address, config)?;
        Ok(match &config.tls {
            None => Stream::Plain(tcp),
            Some(tls) => {
                let session = rustls::ClientConnection::new(
                    tls.clone(),
                    crate::net::tls::server_name(address)?,
                )
                .map_err(|e| Error::Tls(e.to_string()))?;
                Stream::Tls(Box::new(rustls::StreamOwned::new(session, tcp)))
            }
        })
    }

    /// The TCP socket underneath.
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

pub struct Connection {
    stream: Stream,
    address: String,
    version: ProtocolVersion,
    next_request_id: i64,
    /// Responses that arrived while we waited for another request id.
    stashed: HashMap<i64, Vec<u8>>,
    /// Set after any I/O or framing failure: the stream position is unknown, so it must not be reused.
    broken: bool,
    /// Requests sent whose responses no caller has collected yet (on the wire or stashed).
    awaited: usize,
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
                stream: Stream::open(address, config)?,
                address: address.to_string(),
                version,
                next_request_id: 1,
                stashed: HashMap::new(),
                broken: false,
                awaited: 0,
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
        self.read_frame(&mut buf)?;
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

    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Whether responses to requests sent on this connection are still to be collected: the
    /// connection is not clean for another user (a pool drops it instead of keeping it).
    pub fn awaits_responses(&self) -> bool {
        self.awaited > 0
    }

    /// Whether an idle connection can no longer be used: the node closed it (it restarted, or
    /// dropped an idle client), or bytes nobody asked for are waiting. Checked without blocking
    /// before a pooled connection is reused, so that a node restarted between two scans costs a
    /// reconnect rather than a failed scan.
    pub fn is_dead_while_idle(&mut self) -> bool {
        if self.broken {
            return true;
        }
        if self.stream.tcp().set_nonblocking(true).is_err() {
            return true;
        }
        let dead = match self.stream.tcp().peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => match &mut self.stream {
                Stream::Plain(_) => true,
                // TLS records may be the protocol's own (a key update, a session ticket) or the
                // node's close_notify: let rustls read them and say.
                Stream::Tls(s) => tls_peer_gone(s),
            },
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        self.stream.tcp().set_nonblocking(false).is_err() || dead
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
        let id = self.next_request_id;
        self.next_request_id += 1;
        let mut msg = Vec::with_capacity(14 + body_len);
        msg.extend_from_slice(&[0; 4]); // length, patched below
        msg.extend_from_slice(&op_code.to_le_bytes());
        msg.extend_from_slice(&id.to_le_bytes());
        write_body(&mut msg);
        let len = (msg.len() - 4) as i32;
        msg[..4].copy_from_slice(&len.to_le_bytes());
        if let Err(e) = self.stream.write_all(&msg) {
            self.broken = true;
            return Err(e.into());
        }
        self.awaited += 1;
        Ok(id)
    }

    /// Reads the response to request `id` into `buf` and returns where its payload starts.
    /// Responses to other requests that arrive first are kept for their own `receive`.
    pub fn receive(&mut self, id: i64, buf: &mut Vec<u8>) -> Result<usize> {
        if let Some(stashed) = self.stashed.remove(&id) {
            *buf = stashed;
        } else {
            loop {
                self.read_frame(buf)?;
                let frame_id = Reader::new(buf).i64()?;
                if frame_id == id {
                    break;
                }
                if frame_id <= 0
                    || frame_id >= self.next_request_id
                    || self.stashed.contains_key(&frame_id)
                {
                    self.broken = true;
                    return Err(Error::protocol(format!(
                        "response for request id {frame_id}, which this connection never sent or already received"
                    )));
                }
                self.stashed.insert(frame_id, std::mem::take(buf));
            }
        }
        self.awaited = self.awaited.saturating_sub(1);
        self.parse_response_header(buf)
    }

    /// Reads the next response to arrive, whichever request it answers (one kept by an earlier
    /// `receive` first), into `buf`. Returns its request id and where its payload starts, or the
    /// server's error for that request; the outer error is a broken connection.
    pub fn receive_next(&mut self, buf: &mut Vec<u8>) -> Result<(i64, Result<usize>)> {
        if let Some(&id) = self.stashed.keys().min() {
            *buf = self.stashed.remove(&id).expect("key just seen");
            self.awaited = self.awaited.saturating_sub(1);
            return Ok((id, self.parse_response_header(buf)));
        }
        self.read_frame(buf)?;
        let id = Reader::new(buf).i64()?;
        if id <= 0 || id >= self.next_request_id {
            self.broken = true;
            return Err(Error::protocol(format!(
                "response for request id {id}, which this connection never sent"
            )));
        }
        self.awaited = self.awaited.saturating_sub(1);
        Ok((id, self.parse_response_header(buf)))
    }

    /// Marks the connection unusable for others, e.g. when requests of an abandoned exchange
    /// are still unanswered on it.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Sends a request and waits for its payload.
    pub fn request(&mut self, op_code: i16, body: &[u8]) -> Result<Vec<u8>> {
        let id = self.send(op_code, body)?;
        let mut buf = Vec::new();
        let start = self.receive(id, &mut buf)?;
        buf.drain(..start);
        Ok(buf)
    }

    fn parse_response_header(&mut self, buf: &[u8]) -> Result<usize> {
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
                return Err(Error::from_status(status, message));
            }
        } else {
            let status = r.i32()?;
            if status != 0 {
                let message = r.string_object()?.unwrap_or_default();
                return Err(Error::from_status(status, message));
            }
        }
        Ok(r.pos())
    }

    fn write_frame(&mut self, body: &[u8]) -> Result<()> {
        let mut msg = Vec::with_capacity(4 + body.len());
        msg.extend_from_slice(&(body.len() as i32).to_le_bytes());
        msg.extend_from_slice(body);
        self.stream.write_all(&msg).map_err(|e| {
            self.broken = true;
            Error::from(e)
        })
    }

    /// Reads one length-prefixed frame into `buf` (replacing its contents, keeping its capacity).
    fn read_frame(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let result = self.read_frame_inner(buf);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    fn read_frame_inner(&mut self, buf: &mut Vec<u8>) -> Result<()> {
        let mut len_bytes = [0u8; 4];
        self.stream.read_exact(&mut len_bytes)?;
        read_frame_body(
            &mut self.stream,
            i32::from_le_bytes(len_bytes),
            buf,
            "the server",
        )
    }
}

/// Reads a frame's `len` bytes (its length field already read, in either protocol's byte order)
/// into `buf`, replacing its contents and keeping its capacity. `peer` names the sender in errors.
pub fn read_frame_body(
    stream: &mut impl Read,
    len: i32,
    buf: &mut Vec<u8>,
    peer: &str,
) -> Result<()> {
    if len < 0 || len as usize > MAX_FRAME_LEN {
        return Err(Error::protocol(format!(
            "{peer} sent an invalid frame length {len}"
        )));
    }
    let len = len as usize;
    buf.clear();
    // Trust the length field only as far as the data that actually arrives: reserve at most
    // a chunk up front, and let the buffer grow with the bytes read.
    buf.reserve(len.min(UNTRUSTED_RESERVE));
    // read_to_end fills the spare capacity without zeroing it first.
    let got = Read::by_ref(stream).take(len as u64).read_to_end(buf)?;
    if got != len {
        return Err(Error::Connection(format!(
            "{peer} closed the connection in the middle of a {len}-byte message"
        )));
    }
    Ok(())
}

/// Reads the TLS records waiting on an idle connection (its socket is non-blocking): true when
/// the node closed the connection or sent data nobody asked for.
fn tls_peer_gone(stream: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>) -> bool {
    match stream.conn.read_tls(&mut stream.sock) {
        Ok(0) => return true,
        Ok(_) => {}
        Err(e) => return e.kind() != std::io::ErrorKind::WouldBlock,
    }
    match stream.conn.process_new_packets() {
        Ok(state) => state.peer_has_closed() || state.plaintext_bytes_to_read() > 0,
        Err(_) => true,
    }
}

/// The connection `open_one` makes to the first of `addresses` that answers (`product` names
/// what was sought in the error when none does). One address gives its own error as it is (a
/// protocol error stays one); wrong credentials end the search, since another node of the same
/// cluster would say the same. Ignite 3's connections are opened the same way.
pub(crate) fn open_first<C>(
    addresses: &[String],
    product: &str,
    mut open_one: impl FnMut(&str) -> Result<C>,
) -> Result<C> {
    if addresses.is_empty() {
        return Err(Error::InvalidArgument("no server address given".into()));
    }
    if let [address] = addresses {
        return open_one(address);
    }
    let mut failures = Vec::new();
    let mut all_timed_out = true;
    for address in addresses {
        match open_one(address) {
            Ok(conn) => return Ok(conn),
            Err(e @ Error::Authentication(_)) => return Err(e),
            Err(e) => {
                all_timed_out &= matches!(e, Error::Timeout(_));
                failures.push(format!("{address}: {e}"));
            }
        }
    }
    let message = format!(
        "could not connect to any {product} ({})",
        failures.join("; ")
    );
    Err(if all_timed_out {
        Error::Timeout(message)
    } else {
        Error::Connection(message)
    })
}

fn connect_socket(address: &str, config: &ConnectionConfig) -> Result<TcpStream> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| Error::Connection(format!("cannot resolve '{address}': {e}")))?
        .collect();
    let mut last_error = None;
    for addr in addrs {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // Set before connecting so that the TCP window scale is negotiated for them.
        let _ = socket.set_recv_buffer_size(config.socket_buffer_bytes);
        let _ = socket.set_send_buffer_size(config.socket_buffer_bytes);
        match socket.connect_timeout(&addr.into(), config.connect_timeout) {
            Ok(()) => {
                socket.set_tcp_nodelay(true)?;
                let stream: TcpStream = socket.into();
                stream.set_read_timeout(config.read_timeout)?;
                stream.set_write_timeout(config.read_timeout)?;
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    match last_error {
        Some(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(Error::Timeout(format!(
            "connecting to {address} timed out after {:?}",
            config.connect_timeout
        ))),
        Some(e) => Err(Error::Connection(format!(
            "could not connect to an Ignite node at {address}: {e}"
        ))),
        None => Err(Error::Connection(format!(
            "'{address}' resolves to no address"
        ))),
    }
}
