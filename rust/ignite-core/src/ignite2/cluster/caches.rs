//! The caches of a cluster: their names (op 1050), creating one (by name with the server's
//! defaults, op 1052, or with our settings, op 1054), and its atomicity and backups (op 1055).
//! Every cache this client creates is created here.

use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::protocol::{cache_config, java_string_hash, op};
use crate::ignite2::wire::{Reader, Writer};

/// Names of all caches (op 1050).
pub fn cache_names(conn: &mut Connection) -> Result<Vec<String>> {
    let payload = conn.request(op::CACHE_GET_NAMES, &[])?;
    let mut r = Reader::new(&payload);
    let n = r.len(1)?;
    (0..n)
        .map(|_| r.string_object().map(|s| s.unwrap_or_default()))
        .collect()
}

/// Ignite's atomicity modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Atomicity {
    Transactional,
    Atomic,
}

impl Atomicity {
    fn code(self) -> i32 {
        match self {
            Atomicity::Transactional => cache_config::ATOMICITY_TRANSACTIONAL,
            Atomicity::Atomic => cache_config::ATOMICITY_ATOMIC,
        }
    }
}

/// The settings we create caches with; an existing cache keeps its own.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    pub atomicity: Atomicity,
    pub backups: i32,
}

/// Creates the cache with the server's default configuration unless it exists (op 1052).
pub fn get_or_create(conn: &mut Connection, name: &str) -> Result<()> {
    let mut w = Writer::new();
    w.string_object(Some(name));
    conn.request(op::CACHE_GET_OR_CREATE_WITH_NAME, &w.buf)
        .map(|_| ())
}

/// Creates the cache with `settings` unless it exists (op 1054).
pub fn get_or_create_with_settings(
    conn: &mut Connection,
    name: &str,
    settings: &CacheSettings,
) -> Result<()> {
    use cache_config::*;
    let mut props = Writer::new();
    props.i16(6);
    props.i16(PROPERTY_NAME).string_object(Some(name));
    props.i16(PROPERTY_CACHE_MODE).i32(CACHE_MODE_PARTITIONED);
    props
        .i16(PROPERTY_ATOMICITY_MODE)
        .i32(settings.atomicity.code());
    props.i16(PROPERTY_BACKUPS).i32(settings.backups);
    // Full sync: a write is acknowledged once every copy has it, so a reader on any node sees it.
    props
        .i16(PROPERTY_WRITE_SYNCHRONIZATION_MODE)
        .i32(WRITE_SYNC_FULL);
    // Reads go to the primary copy. One served by a backup copy can miss what another client's
    // commit has already put on the primary (the commit reaches the copies one after another),
    // so two reads of one key, served by different copies, could go back in time.
    props.i16(PROPERTY_READ_FROM_BACKUP).bool(false);
    let mut w = Writer::new();
    w.i32(props.buf.len() as i32).bytes(&props.buf);
    conn.request(op::CACHE_GET_OR_CREATE_WITH_CONFIGURATION, &w.buf)
        .map(|_| ())
}

/// How many backup copies `name` keeps of each partition (op 1055). A replicated cache answers
/// `i32::MAX`.
pub fn backups(conn: &mut Connection, name: &str) -> Result<i32> {
    let backups = configuration(conn, name)?.backups;
    if backups < 0 {
        return Err(Error::protocol(format!(
            "cache '{name}' reports {backups} backups"
        )));
    }
    Ok(backups)
}

/// What a cache's configuration says about the consistency of its copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfiguration {
    /// None for a mode other than these two (Ignite 2.14's `TRANSACTIONAL_SNAPSHOT`).
    pub atomicity: Option<Atomicity>,
    pub backups: i32,
    /// Whether plain reads may be served by a backup copy.
    pub read_from_backup: bool,
    /// Whether a write is acknowledged only once every copy has it (`FULL_SYNC`).
    pub full_sync: bool,
}

/// The configuration of `name` (op 1055), read as far as its write synchronization mode: the
/// fields of Ignite's `ClientCacheConfigurationSerializer.write`, in its order.
pub fn configuration(conn: &mut Connection, name: &str) -> Result<CacheConfiguration> {
    let mut w = Writer::new();
    w.i32(java_string_hash(name)).u8(0);
    let body = conn.request(op::CACHE_GET_CONFIGURATION, &w.buf)?;
    let mut r = Reader::at(&body, 0)?;
    let _length = r.i32()?;
    let atomicity = r.i32()?;
    let backups = r.i32()?;
    let _cache_mode = r.i32()?;
    let _copy_on_read = r.bool()?;
    let _data_region = r.string_object()?;
    let _eager_ttl = r.bool()?;
    let _statistics = r.bool()?;
    let _group = r.string_object()?;
    let _lock_timeout = r.i64()?;
    let _max_async_operations = r.i32()?;
    let _max_query_iterators = r.i32()?;
    let _name = r.string_object()?;
    let _onheap = r.bool()?;
    let _partition_loss_policy = r.i32()?;
    let _query_detail_metrics = r.i32()?;
    let _query_parallelism = r.i32()?;
    let read_from_backup = r.bool()?;
    let _rebalance_batch_size = r.i32()?;
    let _rebalance_prefetch = r.i64()?;
    let _rebalance_delay = r.i64()?;
    let _rebalance_mode = r.i32()?;
    let _rebalance_order = r.i32()?;
    let _rebalance_throttle = r.i64()?;
    let _rebalance_timeout = r.i64()?;
    let _sql_escape_all = r.bool()?;
    let _sql_inline_size = r.i32()?;
    let _sql_schema = r.string_object()?;
    let write_sync = r.i32()?;
    Ok(CacheConfiguration {
        atomicity: [Atomicity::Transactional, Atomicity::Atomic]
            .into_iter()
            .find(|a| a.code() == atomicity),
        backups,
        read_from_backup,
        full_sync: write_sync == cache_config::WRITE_SYNC_FULL,
    })
}
