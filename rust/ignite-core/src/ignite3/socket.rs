//! The byte stream under an Ignite 3 connection: a TCP socket with the configured buffers and
//! timeouts, plain or wrapped in rustls, opened the way `net/connection.rs` opens Ignite 2's.
//!
//! A copy of that file's private `Stream` and `connect_socket`, kept apart so that the Ignite 3
//! room does not reach into the Ignite 2 connection; the two could share one if `net` exported them.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};

use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::net::connection::ConnectionConfig;

/// Plain TCP, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// Connects to `address` and starts TLS on it when the config asks for it.
    pub fn open(address: &str, config: &ConnectionConfig) -> Result<Stream> {
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

fn connect_socket(address: &str, config: &ConnectionConfig) -> Result<TcpStream> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| Error::Connection(format!("cannot resolve '{address}': {e}")))?
        .collect();
    let mut last_error = None;
    for addr in addrs {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        // Set before connecting so that the TCP window scale is negotiated for them: the next
        // page streams into the receive buffer while the current one is decoded.
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
            "could not connect to an Ignite 3 node at {address}: {e}"
        ))),
        None => Err(Error::Connection(format!(
            "'{address}' resolves to no address"
        ))),
    }
}
