//! A small pool of open connections to one cluster, for either generation's connection, so that
//! repeated scans, queries and metadata requests reuse sockets instead of paying a handshake
//! each time.

use std::sync::Mutex;

use crate::error::Result;
use crate::net::stream::ConnectionConfig;

/// Idle connections kept for reuse; more are opened on demand and closed when returned.
const MAX_IDLE: usize = 8;

/// A connection as the pool sees it.
pub trait Pooled: Sized {
    /// Opens a connection (to the first of the config's addresses that answers).
    fn open(config: &ConnectionConfig) -> Result<Self>;
    /// Whether an idle connection can no longer be used (checked before it is handed out again).
    fn is_dead_while_idle(&mut self) -> bool;
    /// Whether a connection given back may be kept for the next user.
    fn is_reusable(&self) -> bool;
}

pub struct ConnectionPool<C> {
    config: ConnectionConfig,
    /// Every change under the lock is one push, pop or insert: a lock poisoned by a panic elsewhere
    /// guards consistent data and is used as it is.
    idle: Mutex<Vec<C>>,
}

impl<C: Pooled> ConnectionPool<C> {
    pub fn new(config: ConnectionConfig) -> Self {
        ConnectionPool {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The settings new connections are opened with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.config
    }

    /// A new connection, not from the idle ones.
    pub fn open(&self) -> Result<C> {
        C::open(&self.config)
    }

    /// An idle connection that is still open, or a new one. Idle connections the node has
    /// closed meanwhile are dropped here rather than failing the caller's first request.
    pub fn take(&self) -> Result<C> {
        loop {
            let Some(mut conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                break;
            };
            if !conn.is_dead_while_idle() {
                return Ok(conn);
            }
        }
        self.open()
    }

    /// Returns a connection for reuse; one that is not reusable (broken, or with answers still
    /// to come that its next user would read) is dropped, closing its socket.
    pub fn give_back(&self, conn: C) {
        if !conn.is_reusable() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection and returns the connection afterwards.
    pub fn with_connection<T>(&self, f: impl FnOnce(&mut C) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = f(&mut conn);
        self.give_back(conn);
        result
    }

    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
