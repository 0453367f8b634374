//! A small pool of open connections to the cluster, so that repeated scans and metadata
//! requests reuse sockets instead of paying a handshake each time.

use std::sync::Mutex;

use crate::error::Result;
use crate::ignite2::connection::Connection;
use crate::net::stream::ConnectionConfig;

/// Idle connections kept for reuse; more are opened on demand and closed when returned.
const MAX_IDLE: usize = 8;

pub struct ConnectionPool {
    config: ConnectionConfig,
    /// Every change under the lock is one push, pop or insert: a lock poisoned by a panic elsewhere
    /// guards consistent data and is used as it is.
    idle: Mutex<Vec<Connection>>,
}

impl ConnectionPool {
    pub fn new(config: ConnectionConfig) -> Self {
        ConnectionPool {
            config,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection that is still open, or a new one. Idle connections the node has
    /// closed meanwhile are dropped here rather than failing the caller's first request.
    pub fn take(&self) -> Result<Connection> {
        loop {
            let Some(mut conn) = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop() else {
                break;
            };
            if !conn.is_dead_while_idle() {
                return Ok(conn);
            }
        }
        Connection::open(&self.config)
    }

    /// Returns a healthy connection for reuse; a broken one, or one with responses still to
    /// come (its next user would read them), is dropped, closing its socket.
    pub fn give_back(&self, conn: Connection) {
        if conn.is_broken() || conn.awaits_responses() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }

    /// Runs `f` on a pooled connection and returns the connection afterwards.
    pub fn with_connection<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = f(&mut conn);
        self.give_back(conn);
        result
    }

    pub fn idle_count(&self) -> usize {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}
