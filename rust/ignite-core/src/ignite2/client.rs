//! Ignite 2's client: a connection pool and the binary types it has looked up, shared by
//! everything it opens. What the bindings use.

use std::sync::Arc;

use crate::error::Result;
use crate::ignite2::cluster::{caches, endpoints, partition_map, NodeEndpoint, PartitionMap};
use crate::ignite2::connection::Connection;
use crate::ignite2::format::metadata::BinaryType;
use crate::ignite2::protocol::name_id;
use crate::ignite2::read::known_types::KnownTypes;
use crate::ignite2::read::{Cursor, PartitionScan, ScanOptions, SqlArg, SqlOptions};
use crate::ignite2::write::{self, WriteValues};
use crate::kinds::WriteColumn;
use crate::net::pool::ConnectionPool;
use crate::net::stream::ConnectionConfig;
use crate::net::stream::ProtocolVersion;

#[derive(Clone)]
pub struct Client {
    pool: Arc<ConnectionPool<Connection>>,
    metadata: Arc<KnownTypes>,
}

impl Client {
    /// Connects once at once, so that a wrong address or wrong credentials fail here.
    pub fn connect(config: ConnectionConfig) -> Result<Client> {
        let pool = Arc::new(ConnectionPool::new(config));
        let conn = pool.take()?;
        pool.give_back(conn);
        Ok(Client {
            pool,
            metadata: Arc::new(KnownTypes::default()),
        })
    }

    pub fn cache_names(&self) -> Result<Vec<String>> {
        self.pool.with_connection(caches::cache_names)
    }

    pub fn scan(&self, cache_name: &str, options: &ScanOptions) -> Result<Cursor> {
        Cursor::scan(
            self.pool.clone(),
            self.metadata.clone(),
            cache_name,
            options,
        )
    }

    /// A scan of the partitions given to [`PartitionScan::add`], up to `max_cursors` at once on
    /// one connection.
    pub fn partition_scan(
        &self,
        cache_name: &str,
        options: &ScanOptions,
        max_cursors: usize,
    ) -> Result<PartitionScan> {
        PartitionScan::new(
            self.pool.clone(),
            self.metadata.clone(),
            cache_name,
            options,
            max_cursors,
        )
    }

    pub fn sql(&self, query: &str, args: &[SqlArg], options: &SqlOptions) -> Result<Cursor> {
        Cursor::sql(
            self.pool.clone(),
            self.metadata.clone(),
            query,
            args,
            options,
        )
    }

    /// Binary type metadata for `type_id` (looked up once).
    pub fn binary_type(&self, type_id: i32) -> Result<Arc<BinaryType>> {
        let metadata = self.metadata.clone();
        self.pool.with_connection(|c| metadata.fetch(type_id, c))
    }

    /// The protocol version a connection of this client settles on.
    pub fn protocol_version(&self) -> Result<ProtocolVersion> {
        self.pool.with_connection(|c| Ok(c.version()))
    }

    /// The id of the node this client's connections talk to.
    pub fn node_id(&self) -> Result<Option<[u8; 16]>> {
        self.pool.with_connection(|c| Ok(c.node_id()))
    }

    /// The client endpoints of the cluster's server nodes; `None` where the server cannot say.
    pub fn node_endpoints(&self) -> Result<Option<Vec<NodeEndpoint>>> {
        self.pool.with_connection(endpoints::node_endpoints)
    }

    /// The cluster's affinity topology version (major, minor).
    pub fn topology_version(&self) -> Result<(i64, i32)> {
        self.pool.with_connection(partition_map::topology_version)
    }

    /// The primary node of every partition of a cache; `None` where partition awareness does not
    /// apply (replicated caches, custom affinity).
    pub fn partition_map(&self, cache_name: &str) -> Result<Option<PartitionMap>> {
        self.pool
            .with_connection(|c| partition_map::partition_map(c, cache_name))
    }

    /// Backup copies the cache keeps of each partition (`i32::MAX` for a replicated cache).
    pub fn cache_backups(&self, cache_name: &str) -> Result<i32> {
        self.pool
            .with_connection(|c| caches::backups(c, cache_name))
    }

    /// Writes rows (see [`write::put_all`](fn@write::put_all)), creating the cache if asked.
    pub fn put_all(
        &self,
        cache_name: &str,
        keys: &WriteColumn,
        values: &WriteValues,
        create: bool,
    ) -> Result<usize> {
        let written = self.pool.with_connection(|c| {
            if create {
                caches::get_or_create(c, cache_name)?;
            }
            write::put_all(c, cache_name, keys, values)
        })?;
        if let WriteValues::Object { type_name, .. } = values {
            self.metadata.invalidate(name_id(type_name)); // its schemas may have grown
        }
        Ok(written)
    }

    /// Idle pooled connections (for tests of connection reuse).
    pub fn idle_connections(&self) -> usize {
        self.pool.idle_count()
    }
}
