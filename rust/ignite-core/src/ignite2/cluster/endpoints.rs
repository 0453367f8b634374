//! The client endpoints of the server nodes (op 5102), so that a client given one address can
//! reach them all (and find the node on its own host).

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::protocol::op;
use crate::ignite2::wire::{Reader, Writer};

/// Where a server node accepts thin clients: its port and its addresses and host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEndpoint {
    pub node_id: [u8; 16],
    pub port: u16,
    pub hosts: Vec<String>,
}

/// The client endpoints of every server node in the current topology (op 5102, from the
/// earliest to the latest topology); `Ok(None)` from a server without the operation.
pub fn node_endpoints(conn: &mut Connection) -> Result<Option<Vec<NodeEndpoint>>> {
    let mut w = Writer::new();
    w.i64(-1).i64(-1); // start and end topology versions: everything, as of now
    let payload = match conn.request(op::CLUSTER_GROUP_GET_NODE_ENDPOINTS, &w.buf) {
        Ok(payload) => payload,
        Err(Error::Server { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut r = Reader::new(&payload);
    let _topology = r.i64()?;
    let count = r.len(24)?;
    let mut nodes = Vec::with_capacity(count);
    for _ in 0..count {
        let node_id = r.uuid()?;
        let port = r.i32()?;
        let port = u16::try_from(port)
            .map_err(|_| Error::protocol(format!("node endpoint port {port} is out of range")))?;
        let names = r.len(5)?;
        let mut hosts = Vec::with_capacity(names);
        for _ in 0..names {
            if let Some(host) = r.string_object()? {
                hosts.push(host);
            }
        }
        nodes.push(NodeEndpoint {
            node_id,
            port,
            hosts,
        });
    }
    Ok(Some(nodes))
}
