//! Explicit transactions (`TX_BEGIN`, `TX_COMMIT`, `TX_ROLLBACK`), as a client that negotiated
//! no features sends them (Ignite 3.1.0, `ClientTransactionBeginRequest` and its siblings):
//! begin takes `bool read-only, long timeout ms` (and, read-only, `long observable timestamp`)
//! and answers the transaction's resource id; commit and rollback take that id. SQL runs in one
//! when `SqlOptions::transaction` names it.

use crate::error::Result;
use crate::ignite3::codes::op;
use crate::ignite3::connection::Connection;
use crate::ignite3::msgpack::MsgReader;

/// Begins a read-write transaction on `conn` (the server's default timeout); returns its id.
pub fn begin_read_write(conn: &mut Connection) -> Result<i64> {
    let (buf, start) = conn.request(op::TX_BEGIN, |w| {
        w.bool(false).int(0);
    })?;
    MsgReader::at(&buf, start)?.i64()
}

/// Commits transaction `id`. The answer carries the server's clock, so that this connection's
/// later reads see what the transaction saw.
pub fn commit(conn: &mut Connection, id: i64) -> Result<()> {
    conn.request(op::TX_COMMIT, |w| {
        w.int(id);
    })
    .map(|_| ())
}

/// Rolls transaction `id` back.
pub fn rollback(conn: &mut Connection, id: i64) -> Result<()> {
    conn.request(op::TX_ROLLBACK, |w| {
        w.int(id);
    })
    .map(|_| ())
}
