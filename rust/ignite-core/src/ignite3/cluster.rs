//! Tables, partitions and nodes of an Ignite 3 cluster: a table's id by name, its partition count
//! and the primary node of each partition, and the cluster's nodes.
//!
//! Node records carry the node's cluster-network address, not its client address: to read a
//! partition from its primary, connect to the client addresses you know and match
//! `Connection::node_name` against the primaries' names.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ignite3::codes::op;
use crate::ignite3::connection::Connection;
use crate::ignite3::msgpack::MsgReader;

/// A table as `TABLE_GET` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    pub id: i32,
    /// The name as the server gives it (quoted when not all upper case).
    pub name: String,
}

/// A cluster node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Canonical UUID bytes.
    pub id: [u8; 16],
    /// The consistent name, as partition maps and `Connection::node_name` give it.
    pub name: String,
    /// The cluster-network host and port (not the client connector's).
    pub host: String,
    pub port: i32,
}

/// The primary node of every partition of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionPrimaries {
    /// The placement's timestamp (pass to the next call to get a map at least this new).
    pub timestamp: i64,
    /// Index: partition id (the `__PART` value of its rows). `None`: no primary known yet.
    pub primaries: Vec<Option<String>>,
}

impl PartitionPrimaries {
    pub fn partition_count(&self) -> usize {
        self.primaries.len()
    }
}

/// A table by SQL name (`t` → `T`, `"t"` → `t`, `S.T` schema-qualified); `None` if none.
pub fn table(conn: &mut Connection, name: &str) -> Result<Option<TableInfo>> {
    let (buf, start) = conn.request(op::TABLE_GET, |w| {
        w.str(name);
    })?;
    let mut r = MsgReader::at(&buf, start)?;
    if r.try_nil()? {
        return Ok(None);
    }
    Ok(Some(TableInfo {
        id: r.i32()?,
        name: r.str()?.to_string(),
    }))
}

/// How long a just-created table's partitions may take to get primaries.
pub const PLACEMENT_WAIT: Duration = Duration::from_secs(10);

/// The primary of each partition of table `table_id` (`PARTITION_ASSIGNMENT_GET`). Right after a
/// table is created the placement may not be known yet: asks again until `wait` has passed.
pub fn partition_primaries(
    conn: &mut Connection,
    table_id: i32,
    wait: Duration,
) -> Result<PartitionPrimaries> {
    let deadline = Instant::now() + wait;
    let since = conn.take_assignment_change().unwrap_or(0);
    loop {
        let (buf, start) = conn.request(op::PARTITION_ASSIGNMENT_GET, |w| {
            w.int(table_id as i64).int(since);
        })?;
        let mut r = MsgReader::at(&buf, start)?;
        let count = r.count()?;
        if count == 0 {
            return Err(Error::protocol(format!(
                "the server says table {table_id} has no partitions"
            )));
        }
        if r.bool()? {
            let timestamp = r.i64()?;
            if count > r.remaining() {
                return Err(Error::protocol(format!(
                    "{count} partitions claimed, {} bytes follow",
                    r.remaining()
                )));
            }
            let mut primaries = Vec::with_capacity(count);
            for _ in 0..count {
                primaries.push(r.str_or_nil()?.map(str::to_string));
            }
            return Ok(PartitionPrimaries {
                timestamp,
                primaries,
            });
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "the primaries of the {count} partitions of table {table_id} were not assigned within {wait:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Each partition's primary node, with the node's record (`PRIMARY_REPLICAS_GET`), sorted by
/// partition id.
pub fn primary_replicas(conn: &mut Connection, table_id: i32) -> Result<Vec<(i32, NodeInfo)>> {
    let (buf, start) = conn.request(op::PRIMARY_REPLICAS_GET, |w| {
        w.int(table_id as i64);
    })?;
    let mut r = MsgReader::at(&buf, start)?;
    let count = r.count()?;
    let mut out = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        let partition = r.i32()?;
        out.push((partition, read_node(&mut r)?));
    }
    out.sort_by_key(|(p, _)| *p);
    Ok(out)
}

/// The cluster's nodes (`CLUSTER_GET_NODES`).
pub fn cluster_nodes(conn: &mut Connection) -> Result<Vec<NodeInfo>> {
    let (buf, start) = conn.request(op::CLUSTER_GET_NODES, |_| {})?;
    let mut r = MsgReader::at(&buf, start)?;
    let count = r.count()?;
    let mut out = Vec::with_capacity(count.min(r.remaining()));
    for _ in 0..count {
        out.push(read_node(&mut r)?);
    }
    Ok(out)
}

fn read_node(r: &mut MsgReader) -> Result<NodeInfo> {
    let fields = r.count()?;
    if fields < 4 {
        return Err(Error::protocol(format!(
            "a node record of {fields} fields, fewer than the 4 it has"
        )));
    }
    let node = NodeInfo {
        id: r.uuid()?,
        name: r.str()?.to_string(),
        host: r.str()?.to_string(),
        port: r.i32()?,
    };
    for _ in 4..fields {
        r.skip()?;
    }
    Ok(node)
}
