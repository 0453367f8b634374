//! One error type for the whole core; the bindings map each variant to a Python exception class.

use std::fmt;
use std::io;

#[derive(Debug)]
pub enum Error {
    /// Could not reach a node, or the connection broke.
    Connection(String),
    /// A connect or read timed out.
    Timeout(String),
    /// A TLS handshake or certificate check failed, or the TLS settings are unusable.
    Tls(String),
    /// The server refused the credentials (status 2000) or the handshake for security reasons.
    Authentication(String),
    /// Bytes from the network that do not follow the protocol.
    Protocol(String),
    /// The server answered a request with an error status.
    Server { status: i32, message: String },
    /// The named cache does not exist (status 1000).
    CacheNotFound(String),
    /// Data whose structure we cannot map (type conflicts, missing metadata).
    Schema(String),
    /// A type code that this version does not decode yet.
    UnsupportedType(String),
    /// A bad argument from the caller, caught before anything is sent.
    InvalidArgument(String),
    /// A file system (IGFS) operation failed for a reason a caller can act on.
    Fs { kind: FsErrorKind, message: String },
}

/// Why an IGFS operation failed; each kind maps to the matching Python `OSError` subclass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsErrorKind {
    NotFound,
    AlreadyExists,
    NotADirectory,
    IsADirectory,
    DirectoryNotEmpty,
    /// Another writer holds or changed the file; this operation lost and changed nothing.
    Conflict,
    /// A file's stored blocks or entry are not what its metadata promises.
    Corrupt,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn fs(kind: FsErrorKind, message: impl Into<String>) -> Error {
        Error::Fs {
            kind,
            message: message.into(),
        }
    }

    pub fn protocol(msg: impl Into<String>) -> Error {
        Error::Protocol(msg.into())
    }

    /// The error of a write that failed part-way (both generations' pipelined writers): the same
    /// kind, its message prefixed with `writing to <target> failed (N of T rows were stored[, and
    /// up to M more may have been])`. `unsure`: rows whose answers never came, or whose request
    /// failed where part of it may have been kept.
    pub fn of_partial_write(
        self,
        target: &str,
        stored: usize,
        total: usize,
        unsure: usize,
    ) -> Error {
        let mut outcome = format!("{stored} of {total} rows were stored");
        if unsure > 0 {
            outcome.push_str(&format!(", and up to {unsure} more may have been"));
        }
        let context = format!("writing to {target} failed ({outcome})");
        match self {
            Error::Server { status, message } => Error::Server {
                status,
                message: format!("{context}: {message}"),
            },
            Error::Connection(m) => Error::Connection(format!("{context}: {m}")),
            Error::Timeout(m) => Error::Timeout(format!("{context}: {m}")),
            Error::Protocol(m) => Error::Protocol(format!("{context}: {m}")),
            Error::Tls(m) => Error::Tls(format!("{context}: {m}")),
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection(m) => write!(f, "{m}"),
            Error::Timeout(m) => write!(f, "{m}"),
            Error::Tls(m) => write!(f, "TLS error: {m}"),
            Error::Authentication(m) => write!(f, "authentication failed: {m}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Server { status, message } => {
                write!(f, "server error (status {status}): {message}")
            }
            Error::CacheNotFound(m) => write!(f, "{m}"),
            Error::Schema(m) => write!(f, "{m}"),
            Error::UnsupportedType(m) => write!(f, "{m}"),
            Error::InvalidArgument(m) => write!(f, "{m}"),
            Error::Fs { message, .. } => write!(f, "{message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        // rustls reports handshake and certificate failures through io errors.
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Error::Tls(tls.to_string());
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                Error::Timeout("no answer from the server within the read timeout".to_string())
            }
            io::ErrorKind::UnexpectedEof => {
                Error::Connection("the server closed the connection".to_string())
            }
            _ => Error::Connection(format!("connection error: {e}")),
        }
    }
}
