//! One connection to one Ignite 3 node: magic and handshake (basic authentication when a user is
//! given), requests in big-endian length-prefixed frames (their answers matched by id in
//! `net::mux`), and response headers (flags, observable timestamp, notifications) with the
//! server's error records mapped to typed errors.
//!
//! Frames are read whole into a caller's reusable buffer, so a page of rows arrives with one copy
//! out of the socket and is then only sliced.

use crate::error::{Error, Result};
use crate::ignite3::codes::{self, error_code, flag, op};
use crate::ignite3::msgpack::{MsgReader, MsgWriter};
use crate::net::mux::{Frame, LengthPrefix, Multiplexer, Pipelined};
use crate::net::pool::Pooled;
use crate::net::stream::{open_first, ConnectionConfig, Stream};

/// New connections that lose the server's handshake race are opened again this many times.
const HANDSHAKE_RACE_RETRIES: usize = 3;

/// What the node said about itself in the handshake.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// The node's id (canonical UUID bytes).
    pub node_id: [u8; 16],
    /// The node's consistent name: what partition maps name their primaries by.
    pub node_name: String,
    pub cluster_name: String,
    /// Cluster ids, oldest first (the id changes only on a metastorage repair).
    pub cluster_ids: Vec<[u8; 16]>,
    /// The server drops a connection idle this long (ms; 0: never); send a heartbeat before.
    pub idle_timeout_ms: i64,
    /// The product version, e.g. "3.1.0".
    pub version: String,
}

pub struct Connection {
    mux: Multiplexer,
    address: String,
    info: ServerInfo,
    seen: Seen,
    /// The outgoing message, reused.
    out: Vec<u8>,
}

/// What response headers have said about the cluster.
#[derive(Default)]
struct Seen {
    /// The largest hybrid timestamp the server reported; sent with queries so that a read on any
    /// node sees this connection's earlier writes.
    observable_timestamp: i64,
    /// Set when a response says the partition assignment changed: the newest primary start time.
    assignment_changed: Option<i64>,
}

/// A parsed response header: where the answer starts, or the server's error for the request.
struct Header {
    request_id: i64,
    flags: i32,
    payload: Result<usize>,
}

impl Connection {
    /// Connects to the first address that answers and completes the handshake. Wrong
    /// credentials end the search (another node of the cluster would say the same).
    pub fn open(config: &ConnectionConfig) -> Result<Connection> {
        open_first(&config.addresses, "Ignite 3 node", |address| {
            Connection::open_one(address, config)
        })
    }

    /// Connects to one address, past the server's handshake race: Ignite 3.1 marks a handshake
    /// done only after its answer is sent, from another thread, so a request that follows the
    /// answer closely can be refused ("Unexpected message received before handshake completion")
    /// and the connection closed. A heartbeat meets that race instead of the caller's first
    /// request; a connection that loses it is opened again.
    pub fn open_one(address: &str, config: &ConnectionConfig) -> Result<Connection> {
        let mut attempts = 0;
        loop {
            let mut conn = Connection::handshaken(address, config)?;
            match conn.heartbeat() {
                Ok(()) => return Ok(conn),
                Err(Error::Connection(_)) if attempts < HANDSHAKE_RACE_RETRIES => attempts += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Connects to one address and exchanges the handshake.
    fn handshaken(address: &str, config: &ConnectionConfig) -> Result<Connection> {
        let mut conn = Connection {
            mux: Multiplexer::new(
                Stream::open(address, config)?,
                address.to_string(),
                LengthPrefix::BigEndian,
            ),
            address: address.to_string(),
            info: ServerInfo {
                node_id: [0; 16],
                node_name: String::new(),
                cluster_name: String::new(),
                cluster_ids: Vec::new(),
                idle_timeout_ms: 0,
                version: String::new(),
            },
            seen: Seen::default(),
            out: Vec::with_capacity(256),
        };
        conn.handshake(config)?;
        Ok(conn)
    }

    fn handshake(&mut self, config: &ConnectionConfig) -> Result<()> {
        self.exchange_handshake(config)
            .map_err(|e| explain_handshake_failure(e, &self.address, config.tls.is_some()))
    }

    fn exchange_handshake(&mut self, config: &ConnectionConfig) -> Result<()> {
        let mut body = Vec::with_capacity(128);
        let mut w = MsgWriter::new(&mut body);
        let (major, minor, patch) = codes::PROTOCOL_VERSION;
        w.int(major as i64).int(minor as i64).int(patch as i64);
        w.int(codes::CLIENT_CODE_GENERAL as i64);
        // No features: the layouts of SQL_EXEC and its answer then stay the plain ones.
        w.bin(&[]);
        match &config.username {
            Some(user) => {
                w.int(3);
                w.str("authn-type").str("basic");
                w.str("authn-identity").str(user);
                w.str("authn-secret")
                    .str(config.password.as_deref().unwrap_or(""));
            }
            None => {
                w.int(0);
            }
        }
        let mut msg = Vec::with_capacity(8 + body.len());
        msg.extend_from_slice(codes::MAGIC);
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes());
        msg.extend_from_slice(&body);
        self.mux.write_all(&msg)?;

        let mut magic = [0u8; 4];
        self.mux.read_exact(&mut magic)?;
        if &magic != codes::MAGIC {
            self.mux.mark_broken();
            // 0x15 0x03 / 0x16 0x03: a TLS alert or handshake record, from a port that speaks TLS.
            let what = if matches!(magic, [0x15 | 0x16, 0x03, ..]) {
                "a TLS record: the node has TLS on its client port, connect with TLS"
            } else {
                "an Ignite 2 node or another service?"
            };
            return Err(Error::protocol(format!(
                "{} answered the handshake with {magic:02x?}, not the Ignite 3 magic 'IGNI' ({what})",
                self.address
            )));
        }
        let mut buf = Vec::new();
        self.mux.read_frame(&mut buf)?;
        let result = self.parse_handshake(&buf, config);
        if result.is_err() {
            self.mux.mark_broken();
        }
        result
    }

    fn parse_handshake(&mut self, buf: &[u8], config: &ConnectionConfig) -> Result<()> {
        let mut r = MsgReader::new(buf);
        let version = (r.i32()?, r.i32()?, r.i32()?);
        if !r.try_nil()? {
            let err = read_error(&mut r)?;
            return Err(match err {
                Error::Authentication(m) => Error::Authentication(format!(
                    "{} refused user '{}': {m}",
                    self.address,
                    config.username.as_deref().unwrap_or("<none>")
                )),
                Error::Server { status, message } => Error::Connection(format!(
                    "handshake with {} failed (error code {status:#x}, server protocol {}.{}.{}): {message}",
                    self.address, version.0, version.1, version.2
                )),
                other => other,
            });
        }
        self.info.idle_timeout_ms = r.i64()?;
        self.info.node_id = r.uuid()?;
        self.info.node_name = r.str()?.to_string();
        let ids = r.count()?;
        for _ in 0..ids.min(r.remaining()) {
            self.info.cluster_ids.push(r.uuid()?);
        }
        self.info.cluster_name = r.str()?.to_string();
        self.observe_timestamp(r.i64()?);
        let (major, minor, maintenance) = (r.i64()?, r.i64()?, r.i64()?);
        let patch = if r.try_nil()? { None } else { Some(r.i64()?) };
        let pre_release = r.str_or_nil()?;
        let mut version = format!("{major}.{minor}.{maintenance}");
        if let Some(p) = patch {
            version.push_str(&format!(".{p}"));
        }
        if let Some(pre) = pre_release {
            version.push_str(&format!("-{pre}"));
        }
        self.info.version = version;
        r.bin()?; // the server's features; we asked for none, so none are in effect
        let extensions = r.count()?;
        for _ in 0..extensions.min(r.remaining()) {
            r.skip()?;
            r.skip()?;
        }
        Ok(())
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// The node's consistent name (as partition maps name their primaries).
    pub fn node_name(&self) -> &str {
        &self.info.node_name
    }

    /// Marks the connection unusable, e.g. when requests of an abandoned exchange are unanswered.
    pub fn mark_broken(&mut self) {
        self.mux.mark_broken();
    }

    pub fn observable_timestamp(&self) -> i64 {
        self.seen.observable_timestamp
    }

    /// Takes in a timestamp seen elsewhere (another connection of the same client), so that
    /// this connection's queries see what those saw.
    pub fn observe_timestamp(&mut self, ts: i64) {
        self.seen.observe_timestamp(ts);
    }

    /// The newest primary-replica start time, if a response since the last call said the
    /// partition assignment changed (pass it to `PARTITION_ASSIGNMENT_GET`).
    pub fn take_assignment_change(&mut self) -> Option<i64> {
        self.seen.assignment_changed.take()
    }

    /// Sends a request whose fields `write_body` appends; returns its id for [`Connection::receive`].
    pub fn send(&mut self, op_code: i32, write_body: impl FnOnce(&mut MsgWriter)) -> Result<i64> {
        if self.mux.is_broken() {
            return Err(Error::Connection(format!(
                "the connection to {} broke earlier and cannot be reused",
                self.address
            )));
        }
        let id = self.mux.next_id();
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        out.extend_from_slice(&[0; 4]); // length, patched below
        let mut w = MsgWriter::new(&mut out);
        w.int(op_code as i64).int(id);
        write_body(&mut w);
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        let result = self.mux.send(&out);
        self.out = out;
        result.map(|()| id)
    }

    /// Sends a request and waits for its answer: the frame and where the answer's fields start.
    pub fn request(
        &mut self,
        op_code: i32,
        write_body: impl FnOnce(&mut MsgWriter),
    ) -> Result<(Vec<u8>, usize)> {
        let id = self.send(op_code, write_body)?;
        let mut buf = Vec::new();
        let start = self.receive(id, &mut buf)?;
        Ok((buf, start))
    }

    /// Keeps an idle connection alive on a server with an idle timeout.
    pub fn heartbeat(&mut self) -> Result<()> {
        self.request(op::HEARTBEAT, |_| {}).map(|_| ())
    }
}

impl Seen {
    fn observe_timestamp(&mut self, ts: i64) {
        self.observable_timestamp = self.observable_timestamp.max(ts);
    }

    fn parse_header(&mut self, buf: &[u8]) -> Result<Header> {
        let mut r = MsgReader::new(buf);
        let request_id = r.i64()?;
        let flags = r.i32()?;
        if flags & flag::PARTITION_ASSIGNMENT_CHANGED != 0 {
            let start_time = r.i64()?;
            self.assignment_changed = Some(start_time.max(self.assignment_changed.unwrap_or(0)));
        }
        self.observe_timestamp(r.i64()?);
        let payload = if flags & flag::ERROR != 0 {
            Err(read_error(&mut r)?)
        } else {
            Ok(r.pos())
        };
        Ok(Header {
            request_id,
            flags,
            payload,
        })
    }
}

/// Says what to do about the handshake failures that a TLS mismatch causes: a node certificate
/// signed by a CA the client does not trust, or plain TCP to a node with TLS on (it resets the
/// connection when the first bytes are not a TLS hello).
fn explain_handshake_failure(e: Error, address: &str, tls: bool) -> Error {
    match e {
        Error::Tls(m) if m.contains("UnknownIssuer") => Error::Tls(format!(
            "{address}: {m}: the node's certificate is signed by a CA this client does not trust; \
             pass that CA's certificate (PEM) as TlsOptions(ca_file=...)"
        )),
        Error::Connection(m) if !tls => Error::Connection(format!(
            "{address} dropped the connection during the handshake ({m}); if the node has TLS on \
             its client port, connect with TLS (tls=True or TlsOptions(...))"
        )),
        other => other,
    }
}

/// Reads a server error record and turns it into the crate's error: authentication failures
/// (error group 15) become `Error::Authentication`, everything else `Error::Server` with Ignite 3's
/// full error code (`group << 16 | code`) as the status.
fn read_error(r: &mut MsgReader) -> Result<Error> {
    let trace_id = r.uuid()?;
    let code = r.i32()?;
    let class = r.str()?;
    let message = r.str_or_nil()?.unwrap_or("");
    r.str_or_nil()?; // stack trace, or a hint on how to get one
    if !r.try_nil()? {
        let extensions = r.count()?;
        for _ in 0..extensions.min(r.remaining()) {
            r.skip()?;
            r.skip()?;
        }
    }
    let short_class = class.rsplit('.').next().unwrap_or(class);
    let message = format!(
        "{short_class}: {message} ({}, trace id {})",
        error_code::display(code),
        format_uuid(&trace_id)
    );
    Ok(
        if error_code::group(code) == error_code::GROUP_AUTHENTICATION {
            Error::Authentication(message)
        } else {
            Error::Server {
                status: code,
                message,
            }
        },
    )
}

fn format_uuid(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

impl Pipelined for Connection {
    fn is_broken(&self) -> bool {
        self.mux.is_broken()
    }

    /// Reads the answer to request `id` into `buf` (replacing its contents, keeping its capacity)
    /// and returns where the answer's fields start; the server's error for it is the `Err`.
    /// Answers to other requests that arrive first are kept for their own `receive`;
    /// notifications are read and dropped.
    fn receive(&mut self, id: i64, buf: &mut Vec<u8>) -> Result<usize> {
        let (address, seen) = (&self.address, &mut self.seen);
        // The payload of the last frame read: the answer, unless it was kept from earlier.
        let mut last = None;
        self.mux.receive(id, buf, |frame| {
            let header = seen.parse_header(frame)?;
            if header.flags & flag::SERVER_OP != 0 {
                return Err(Error::protocol(format!(
                    "{address} sent a server-to-client request, which only compute executors take"
                )));
            }
            if header.flags & flag::NOTIFICATION != 0 {
                return Ok(Frame::Skip);
            }
            last = Some((header.request_id, header.payload));
            Ok(Frame::Answer(header.request_id))
        })?;
        match last {
            Some((answers, payload)) if answers == id => payload,
            _ => self.seen.parse_header(buf)?.payload,
        }
    }
}

impl Pooled for Connection {
    /// Past the server's handshake race (see [`Connection::open`]).
    fn open(config: &ConnectionConfig) -> Result<Connection> {
        Connection::open(config)
    }

    /// Not checked: a request on an idle connection the node has closed meanwhile fails, and
    /// the caller sees the error and its kind.
    fn is_dead_while_idle(&mut self) -> bool {
        false
    }

    fn is_reusable(&self) -> bool {
        !self.is_broken()
    }
}
