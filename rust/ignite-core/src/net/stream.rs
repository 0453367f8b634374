//! The byte stream under both generations' connections: the settings a connection is opened
//! with, the TCP socket (buffers, timeouts, no delay) with TLS over it when asked, the first of
//! several addresses that answers, and a frame body read without trusting its length field.
//! Each generation frames, handshakes and matches request ids in its own `connection.rs`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};

/// A protocol version, `major.minor.patch`, as a handshake states it. Only Ignite 2's handshake
/// negotiates one (`ignite2::protocol` names the versions it speaks); Ignite 3's ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProtocolVersion(pub i16, pub i16, pub i16);

impl std::fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

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
    /// The protocol version Ignite 2's handshake starts with; a server that speaks an older one
    /// says so and the connection falls back to it (down to 1.1.0). Ignite 3's ignores it.
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
            // Ignite 2's newest version this client speaks (`ignite2::protocol::VERSION_1_7_0`).
            protocol_version: ProtocolVersion(1, 7, 0),
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

/// The byte stream of a connection: plain TCP, or TLS over it.
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

    /// Whether the idle stream can no longer be used: the peer closed it, or bytes nobody asked
    /// for are waiting (checked without blocking).
    pub(crate) fn is_dead_while_idle(&mut self) -> bool {
        if self.tcp().set_nonblocking(true).is_err() {
            return true;
        }
        let dead = match self.tcp().peek(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => match self {
                Stream::Plain(_) => true,
                // TLS records may be the protocol's own (a key update, a session ticket) or the
                // node's close_notify: let rustls read them and say.
                Stream::Tls(s) => tls_peer_gone(s),
            },
            Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
        };
        self.tcp().set_nonblocking(false).is_err() || dead
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
