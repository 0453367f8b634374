//! The partition map of a cache (op 1101): which node is primary for each partition, so that a
//! scan of one partition can go to the node that holds it; and the topology version the maps
//! belong to.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::protocol::{java_string_hash, op, type_code};
use crate::ignite2::wire::{Reader, Writer};

#[derive(Debug, Clone)]
pub struct PartitionMap {
    /// Affinity topology version (major, minor) the map belongs to.
    pub topology: (i64, i32),
    /// Primary node of each partition, by partition number.
    pub primaries: Vec<[u8; 16]>,
}

/// Fetches the map of one cache; `Ok(None)` when partition awareness does not apply to it
/// (a replicated cache, a custom affinity function).
pub fn partition_map(conn: &mut Connection, cache_name: &str) -> Result<Option<PartitionMap>> {
    let cache_id = java_string_hash(cache_name);
    let mut w = Writer::new();
    w.i32(1).i32(cache_id);
    let payload = conn.request(op::CACHE_PARTITIONS, &w.buf)?;
    parse(&payload, cache_id)
}

/// The cluster's current affinity topology version (major, minor), from a map request that
/// names no cache. The major number changes when a server node joins or leaves; the minor one
/// when caches are created or destroyed, or a rebalance finishes.
pub fn topology_version(conn: &mut Connection) -> Result<(i64, i32)> {
    let mut w = Writer::new();
    w.i32(0);
    let payload = conn.request(op::CACHE_PARTITIONS, &w.buf)?;
    let mut r = Reader::new(&payload);
    Ok((r.i64()?, r.i32()?))
}

fn parse(payload: &[u8], cache_id: i32) -> Result<Option<PartitionMap>> {
    let mut r = Reader::new(payload);
    let topology = (r.i64()?, r.i32()?);
    let groups = r.len(5)?;
    for _ in 0..groups {
        let applicable = r.bool()?;
        let caches = r.len(4)?;
        let mut ours = false;
        if !applicable {
            for _ in 0..caches {
                ours |= r.i32()? == cache_id;
            }
            if ours {
                return Ok(None);
            }
            continue;
        }
        for _ in 0..caches {
            ours |= r.i32()? == cache_id;
            let key_configs = r.len(8)?;
            r.skip(key_configs * 8)?;
        }
        let nodes = r.len(5)?;
        let mut owners: HashMap<i32, [u8; 16]> = HashMap::new();
        for _ in 0..nodes {
            if r.u8()? != type_code::UUID {
                return Err(Error::protocol("partition map: a node id is not a UUID"));
            }
            let node = r.uuid()?;
            let count = r.len(4)?;
            for _ in 0..count {
                owners.insert(r.i32()?, node);
            }
        }
        if ours {
            let n = owners.len();
            let primaries = (0..n as i32)
                .map(|p| {
                    owners.get(&p).copied().ok_or_else(|| {
                        Error::protocol(format!("partition map misses partition {p}"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            return Ok(Some(PartitionMap {
                topology,
                primaries,
            }));
        }
    }
    Err(Error::protocol(format!(
        "the partition map does not mention cache id {cache_id}"
    )))
}
