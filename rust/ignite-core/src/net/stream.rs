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
/// into `buf`, replacing its contents and keeping its capacity. `peer` names the sender in errors;
/// on an error `buf` is left empty.
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
    let error = match fill_frame(stream, len, UNTRUSTED_RESERVE, buf) {
        Ok(got) if got == len => return Ok(()),
        Ok(_) => Error::Connection(format!(
            "{peer} closed the connection in the middle of a {len}-byte message"
        )),
        Err(e) => e.into(),
    };
    // Neither the bytes read so far nor the previous frame's are this frame.
    buf.clear();
    Err(error)
}

/// Reads up to `len` bytes into `buf`, over the bytes it already holds (a previous frame's, which
/// a reused page buffer has): only a buffer's growth is zeroed, not every frame's bytes before the
/// socket writes them. Returns how many bytes arrived before the stream ended; `buf` holds them.
fn fill_frame(
    stream: &mut impl Read,
    len: usize,
    reserve: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<usize> {
    // Trust the length field only as far as the data that actually arrives: size the buffer
    // for at most `reserve` bytes up front, and double it as the bytes fill it.
    let mut end = len.min(reserve);
    buf.resize(end, 0);
    let mut filled = 0;
    while filled < len {
        if filled == end {
            end = len.min(end.saturating_mul(2));
            buf.resize(end, 0);
        }
        match stream.read(&mut buf[filled..end]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(filled)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream that hands out at most `chunk` bytes a read, as a socket may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        chunk: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = out.len().min(self.chunk).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_frame_replaces_a_longer_and_a_shorter_previous_one() {
        let mut buf = vec![0xAA; 100];
        let frame: Vec<u8> = (0..40).collect();
        let mut stream = Trickle {
            bytes: &frame,
            chunk: 7,
        };
        read_frame_body(&mut stream, 40, &mut buf, "node").unwrap();
        assert_eq!(buf, frame);
        let longer: Vec<u8> = (0..=255).collect();
        let mut stream = Trickle {
            bytes: &longer,
            chunk: 100,
        };
        read_frame_body(&mut stream, 256, &mut buf, "node").unwrap();
        assert_eq!(buf, longer);
    }

    #[test]
    fn a_frame_cut_short_leaves_no_byte_behind() {
        let mut buf = vec![0xAA; 100];
        let mut stream = Trickle {
            bytes: &[1, 2, 3],
            chunk: 2,
        };
        let err = read_frame_body(&mut stream, 50, &mut buf, "node").unwrap_err();
        assert!(matches!(err, Error::Connection(m) if m.contains("middle of a 50-byte message")));
        assert!(buf.is_empty());
    }

    #[test]
    fn a_length_field_is_trusted_only_as_far_as_the_bytes_that_arrive() {
        let frame: Vec<u8> = (0..100).collect();
        let mut buf = Vec::new();
        let mut stream = Trickle {
            bytes: &frame,
            chunk: 9,
        };
        assert_eq!(fill_frame(&mut stream, 100, 16, &mut buf).unwrap(), 100);
        assert_eq!(buf, frame);
        // a length of a gigabyte with ten bytes behind it grows the buffer only a little
        let mut stream = Trickle {
            bytes: &frame[..10],
            chunk: 9,
        };
        assert_eq!(fill_frame(&mut stream, 1 << 30, 16, &mut buf).unwrap(), 10);
        assert_eq!(buf, &frame[..10]);
        assert!(buf.capacity() < 1 << 20);
    }

    #[test]
    fn an_invalid_length_is_a_protocol_error() {
        let mut buf = Vec::new();
        let mut stream = Trickle {
            bytes: &[],
            chunk: 1,
        };
        let err = read_frame_body(&mut stream, -1, &mut buf, "node").unwrap_err();
        assert!(err.to_string().contains("invalid frame length -1"), "{err}");
    }
}
