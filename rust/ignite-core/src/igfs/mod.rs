//! IGFS: a file system kept in two ordinary Ignite caches, so that any Ignite 2.x node can hold
//! checkpoints, models and logs.
//!
//! - The metadata cache (transactional) maps each normalized path to an [`Entry`]: a file (id,
//!   size, block size, time, writer lease) or a directory with its children's names.
//! - The data cache (atomic) maps `"<file id>/<block>"` to the block's bytes.
//!
//! Consistency:
//! - A writer stores blocks under a fresh file id and publishes them by pointing the path at that
//!   id in one transaction when it closes (or syncs). Until then readers see the old version or
//!   nothing; a writer that dies leaves the old content intact.
//! - Two writers of one path do not mix: their versions have different ids, and the one that
//!   closes last wins. Appending takes a lease on the file, so a second appender (or a writer
//!   that would replace the file while it is being appended to) fails with `Conflict`.
//! - Renames and deletes change every affected entry in one pessimistic transaction, so a rename
//!   over an existing file is atomic. Blocks of versions that become unreachable are recorded as
//!   trash in the same transaction and deleted right after it; [`Igfs::gc`] finishes what a
//!   crashed process left (trash, and blocks of writers that died).
//! - The server may apply part of a transaction whose client dies while it commits (see
//!   [`entry::MovingRecord`]), so nothing here deletes blocks on a record's word alone: the
//!   versions a rename moves are marked, and a marked version's blocks, or those of trash that
//!   `gc` finds still named, stay while a path names them; `gc` gives a marked version that
//!   lost every name the one it was moving to. A version that lost its name but got no trash
//!   record (an overwrite or delete applied in part) is found by `gc` with `orphans`, which reads
//!   the data cache for blocks nothing refers to.
//!
//! Which cluster and caches `igfs:///path` means when no one says: the `IGFS_*` environment
//! variables, read by [`IgfsEnv`] (the TensorFlow plugin reads them through it).

pub mod entry;
pub mod env;
pub mod path;
mod reader;
mod writer;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use entry::{Entry, FileInfo, Kind, Node};
pub use env::IgfsEnv;
pub use reader::FileReader;
pub use writer::{FileWriter, WriteMode, HEARTBEAT};

use crate::error::{Error, FsErrorKind, Result};
use crate::ignite2::cluster::caches::{self, Atomicity, CacheSettings};
use crate::ignite2::connection::Connection;
use crate::ignite2::kv::{CacheRef, Transaction};
use crate::net::pool::ConnectionPool;
use crate::net::stream::ConnectionConfig;
use entry::{
    block_key, id_hex, parse_block_key, parse_id_hex, FileId, MovingRecord, OrphanRecord,
    PendingRecord, TrashRecord, MOVING_PREFIX, ORPHAN_PREFIX, PENDING_PREFIX, TRASH_PREFIX,
};

#[derive(Debug, Clone)]
pub struct IgfsSettings {
    pub meta_cache: String,
    pub data_cache: String,
    /// Bytes per block of new files (existing files keep theirs).
    pub block_size: u32,
    /// Backups of the caches when this client creates them.
    pub backups: i32,
    /// Blocks requested ahead of a sequential reader.
    pub read_ahead: usize,
    /// Block writes in flight per writer.
    pub write_pipeline: usize,
    pub transaction_timeout: Duration,
    /// How long an appender's claim on a file lasts without being renewed.
    pub lease: Duration,
}

impl Default for IgfsSettings {
    fn default() -> Self {
        IgfsSettings::named("")
    }
}

impl IgfsSettings {
    /// Settings for the file system called `name` (its two caches are named after it).
    pub fn named(name: &str) -> IgfsSettings {
        let prefix = if name.is_empty() {
            "igfs".to_string()
        } else {
            format!("igfs_{name}")
        };
        IgfsSettings {
            meta_cache: format!("{prefix}_meta"),
            data_cache: format!("{prefix}_data"),
            block_size: 1 << 20,
            backups: 0,
            read_ahead: 4,
            write_pipeline: 4,
            transaction_timeout: Duration::from_secs(10),
            lease: Duration::from_secs(600),
        }
    }
}

/// What [`Igfs::gc`] removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub trash_records: usize,
    pub abandoned_writers: usize,
    pub blocks_deleted: u64,
    /// Files put back under the name a rename the server applied in part was giving them.
    pub restored: usize,
    /// With `orphans`: blocks of versions that nothing referred to (a publish or delete the
    /// server applied in part stored the entry replacing a version but not its trash record).
    pub orphan_blocks: u64,
}

/// What a sweep of the metadata cache found.
#[derive(Default)]
struct Sweep {
    /// Every published version: its block count and the paths that name it.
    versions: HashMap<FileId, (u64, Vec<String>)>,
    /// Bookkeeping records by the hex id in their key.
    trash: Vec<(String, TrashRecord)>,
    pending: Vec<(String, PendingRecord)>,
    moving: Vec<(String, MovingRecord)>,
    orphans: Vec<(String, OrphanRecord)>,
}

impl Sweep {
    /// Takes in one `(key, value)` of the metadata cache.
    fn add(&mut self, key: &str, value: &[u8], names_only: bool) -> Result<()> {
        if key.starts_with('/') {
            if let Some(f) = Entry::decode(key, value)?.file() {
                let version = self
                    .versions
                    .entry(f.id)
                    .or_insert((f.block_count(), Vec::new()));
                version.1.push(key.to_string());
            }
            return Ok(());
        }
        if names_only {
            return Ok(());
        }
        if let Some(hex) = key.strip_prefix(TRASH_PREFIX) {
            self.trash
                .push((hex.to_string(), TrashRecord::decode(key, value)?));
        } else if let Some(hex) = key.strip_prefix(PENDING_PREFIX) {
            self.pending
                .push((hex.to_string(), PendingRecord::decode(key, value)?));
        } else if let Some(hex) = key.strip_prefix(MOVING_PREFIX) {
            self.moving
                .push((hex.to_string(), MovingRecord::decode(key, value)?));
        } else if let Some(hex) = key.strip_prefix(ORPHAN_PREFIX) {
            self.orphans
                .push((hex.to_string(), OrphanRecord::decode(key, value)?));
        }
        Ok(())
    }

    /// The paths that name version `id`.
    fn named(&self, id: &FileId) -> &[String] {
        self.versions.get(id).map_or(&[], |(_, names)| names)
    }
}

/// Metadata and data caches, shared by every reader and writer of one file system.
pub(crate) struct Shared {
    pub pool: ConnectionPool<Connection>,
    pub meta: CacheRef,
    pub data: CacheRef,
    pub settings: IgfsSettings,
}

/// A handle on one file system; cheap to clone, safe to share between threads.
#[derive(Clone)]
pub struct Igfs {
    shared: Arc<Shared>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A duration in milliseconds, as times are kept; huge ones (from any caller) saturate.
pub(crate) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn random_id() -> Result<[u8; 16]> {
    let mut id = [0u8; 16];
    // Fails only where the OS has no random source at all (an odd sandbox): an OS error, like a
    // socket's, hence `Connection`.
    getrandom::getrandom(&mut id).map_err(|e| {
        Error::Connection(format!(
            "the operating system gave no random bytes for a file id: {e}"
        ))
    })?;
    Ok(id)
}

fn not_found(path: &str) -> Error {
    Error::fs(
        FsErrorKind::NotFound,
        format!("no such file or directory: '{path}'"),
    )
}

fn root_missing(meta_cache: &str) -> Error {
    Error::fs(
        FsErrorKind::NotFound,
        format!(
            "no such file or directory: '/' (the root's entry is missing from the metadata cache \
             '{meta_cache}'; connecting again recreates it)"
        ),
    )
}

fn not_a_directory(path: &str) -> Error {
    Error::fs(
        FsErrorKind::NotADirectory,
        format!("not a directory: '{path}'"),
    )
}

fn is_a_directory(path: &str) -> Error {
    Error::fs(
        FsErrorKind::IsADirectory,
        format!("is a directory: '{path}'"),
    )
}

/// Why another attempt of the same transaction may succeed.
#[derive(Debug, PartialEq, Eq)]
enum Retry {
    /// Lock timeouts, deadlocks, a full transaction table: the next attempt may not meet them.
    Contention,
    /// A primary node left the cluster mid-transaction (Ignite: "primary node left grid, retry
    /// transaction if possible"): the next attempt succeeds once the cluster has handed the
    /// node's partitions to their backups, which takes up to a few seconds.
    Topology,
}

fn retry_kind(e: &Error) -> Option<Retry> {
    let Error::Server { status, message } = e else {
        return None;
    };
    if message.contains("retry transaction if possible")
        || message.contains("node left grid")
        || message.contains("ClusterTopology")
    {
        Some(Retry::Topology)
    } else if *status == crate::ignite2::protocol::status::TX_LIMIT
        || message.contains("Deadlock")
        || message.contains("deadlock")
        || message.contains("timed out")
        || message.contains("TransactionTimeout")
    {
        Some(Retry::Contention)
    } else {
        None
    }
}

/// The metadata operations of one transaction.
pub(crate) struct Tx<'a> {
    conn: &'a mut Connection,
    id: i32,
    meta: &'a CacheRef,
}

impl Tx<'_> {
    pub fn entry(&mut self, path: &str) -> Result<Option<Entry>> {
        match self.meta.get(self.conn, Some(self.id), path)? {
            Some(bytes) => Entry::decode(path, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Reads (and locks) several entries; absent paths are missing from the map.
    pub fn entries(&mut self, paths: &[String]) -> Result<HashMap<String, Entry>> {
        let mut keys: Vec<String> = paths.to_vec();
        keys.sort();
        keys.dedup();
        let raw = self.meta.get_all(self.conn, Some(self.id), &keys)?;
        raw.into_iter()
            .map(|(k, v)| Entry::decode(&k, &v).map(|e| (k, e)))
            .collect()
    }

    pub fn put_entry(&mut self, path: &str, entry: &Entry) -> Result<()> {
        self.meta
            .put(self.conn, Some(self.id), path, &entry.encode())
    }

    /// A bookkeeping record (pending or trash), read and locked.
    pub fn record(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.meta.get(self.conn, Some(self.id), key)
    }

    /// Several bookkeeping records, read and locked; absent ones are missing from the map.
    pub fn records(&mut self, keys: &[String]) -> Result<HashMap<String, Vec<u8>>> {
        self.meta.get_all(self.conn, Some(self.id), keys)
    }

    pub fn put_record(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.meta.put(self.conn, Some(self.id), key, value)
    }

    pub fn remove(&mut self, keys: &[String]) -> Result<()> {
        self.meta.remove_all(self.conn, Some(self.id), keys)
    }

    /// Marks the files among `moved` (new path, entry) as being moved to their new paths,
    /// outside the transaction, so that the marks hold whatever part of the transaction the
    /// server applies (see [`MovingRecord`]). Returns the ids it marked.
    pub fn mark_moving(&mut self, moved: &[(String, Entry)]) -> Result<Vec<FileId>> {
        // Pipelined, a window at a time: a directory's rename marks every file below it.
        const WINDOW: usize = 256;
        let since_ms = now_ms();
        let files: Vec<(&String, &Entry, FileId)> = moved
            .iter()
            .filter_map(|(to, entry)| entry.file().map(|f| (to, entry, f.id)))
            .collect();
        for chunk in files.chunks(WINDOW) {
            let sent = chunk
                .iter()
                .map(|(to, entry, id)| {
                    let key = format!("{MOVING_PREFIX}{}", id_hex(id));
                    let mark = MovingRecord {
                        since_ms,
                        to: to.to_string(),
                        entry: (*entry).clone(),
                    };
                    self.meta.send_put(self.conn, None, &key, &mark.encode())
                })
                .collect::<Result<Vec<i64>>>()?;
            for request in sent {
                self.meta.receive_ack(self.conn, request)?;
            }
        }
        Ok(files.into_iter().map(|(_, _, id)| id).collect())
    }

    /// `dir` and everything below it, parents before children, read and locked level by level.
    pub fn subtree(&mut self, dir: &str, dir_entry: Entry) -> Result<Vec<(String, Entry)>> {
        let mut out = vec![(dir.to_string(), dir_entry)];
        let mut level = 0;
        while level < out.len() {
            let end = out.len();
            let mut next = Vec::new();
            for (path, entry) in &out[level..end] {
                if let Some(children) = entry.children() {
                    next.extend(children.keys().map(|name| path::join(path, name)));
                }
            }
            if !next.is_empty() {
                let mut found = self.entries(&next)?;
                for p in next {
                    if let Some(e) = found.remove(&p) {
                        out.push((p, e));
                    }
                }
            }
            level = end;
        }
        Ok(out)
    }
}

/// Refuses a cache whose settings break the file system's guarantees: one made by others before
/// this client (those IGFS makes pass). Asked of the cache's configuration, not inferred from
/// errors: Ignite 2.14 runs a transaction on an ATOMIC cache without one.
fn check_guarantees_hold(conn: &mut Connection, cache: &str, metadata: bool) -> Result<()> {
    let found = caches::configuration(conn, cache)?;
    let fix = "or let IGFS create it";
    if metadata && found.atomicity != Some(Atomicity::Transactional) {
        let mode = if found.atomicity.is_some() {
            "ATOMIC"
        } else {
            "not TRANSACTIONAL"
        };
        return Err(Error::InvalidArgument(format!(
            "the IGFS metadata cache '{cache}' is {mode}; it must be TRANSACTIONAL (configure it with \
             atomicityMode=TRANSACTIONAL, {fix})"
        )));
    }
    // A write acknowledged before every copy has it, and a read served by a copy that may not:
    // a file just written could then read as missing, or its blocks as gone.
    if !found.full_sync && found.read_from_backup {
        return Err(Error::InvalidArgument(format!(
            "the IGFS cache '{cache}' acknowledges writes before its backup copies have them and serves \
             reads from those copies, so a read could miss what was just written: configure it with \
             writeSynchronizationMode=FULL_SYNC or readFromBackup=false, {fix}"
        )));
    }
    Ok(())
}

impl Igfs {
    /// Connects, creates the two caches if they do not exist yet, and the root directory.
    pub fn connect(config: ConnectionConfig, settings: IgfsSettings) -> Result<Igfs> {
        if settings.block_size == 0 || settings.block_size > (256 << 20) {
            return Err(Error::InvalidArgument(format!(
                "block size {} is not in 1..=256 MiB",
                settings.block_size
            )));
        }
        let shared = Shared {
            pool: ConnectionPool::new(config),
            meta: CacheRef::new(&settings.meta_cache),
            data: CacheRef::new(&settings.data_cache),
            settings,
        };
        shared.pool.with_connection(|conn| {
            let s = &shared.settings;
            caches::get_or_create_with_settings(
                conn,
                &s.meta_cache,
                &CacheSettings {
                    atomicity: Atomicity::Transactional,
                    backups: s.backups,
                },
            )?;
            caches::get_or_create_with_settings(
                conn,
                &s.data_cache,
                &CacheSettings {
                    atomicity: Atomicity::Atomic,
                    backups: s.backups,
                },
            )?;
            check_guarantees_hold(conn, &s.meta_cache, true)?;
            check_guarantees_hold(conn, &s.data_cache, false)
        })?;
        let igfs = Igfs {
            shared: Arc::new(shared),
        };
        igfs.transaction("igfs: create root", |tx| {
            if tx.entry("/")?.is_none() {
                tx.put_entry("/", &Entry::new_directory(now_ms()))?;
            }
            Ok(())
        })?;
        Ok(igfs)
    }

    pub fn settings(&self) -> &IgfsSettings {
        &self.shared.settings
    }

    /// Runs `body` in a pessimistic transaction on the metadata cache, retrying it when the
    /// cluster reports a lock timeout or deadlock. `body` must only touch the cache through `tx`.
    pub(crate) fn transaction<T>(
        &self,
        label: &str,
        body: impl FnMut(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        transaction(&self.shared, label, body)
    }

    // ---- reading metadata ----

    /// The entry at `path`.
    pub fn stat(&self, path: &str) -> Result<Entry> {
        let path = path::normalize(path)?;
        self.lookup(&path)?.ok_or_else(|| not_found(&path))
    }

    pub fn exists(&self, path: &str) -> Result<bool> {
        let path = path::normalize(path)?;
        Ok(self.lookup(&path)?.is_some())
    }

    /// Like [`Igfs::lookup`], but a miss is read again in a transaction, which reads the primary
    /// copy under the key's lock. For checks that fail the caller on a miss: in a metadata cache
    /// made by others, which may serve plain reads from backup copies, a plain read can miss what
    /// another client's commit has already put on the primary (as two workers making one
    /// directory found).
    fn lookup_confirmed(&self, path: &str) -> Result<Option<Entry>> {
        match self.lookup(path)? {
            Some(entry) => Ok(Some(entry)),
            None => self.transaction("igfs: lookup", |tx| tx.entry(path)),
        }
    }

    fn lookup(&self, path: &str) -> Result<Option<Entry>> {
        let shared = &self.shared;
        match shared
            .pool
            .with_connection(|c| shared.meta.get(c, None, path))?
        {
            Some(bytes) => Entry::decode(path, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// The children of directory `path`: `(full path, entry)`, sorted by name. With
    /// `recursive`, everything below it, parents before their children.
    pub fn list(&self, path: &str, recursive: bool) -> Result<Vec<(String, Entry)>> {
        let path = path::normalize(path)?;
        let entry = self.stat(&path)?;
        if entry.children().is_none() {
            return Err(not_a_directory(&path));
        }
        let shared = &self.shared;
        let mut out = Vec::new();
        let mut frontier = vec![(path, entry)];
        while !frontier.is_empty() {
            let mut next = Vec::new();
            for (dir, entry) in &frontier {
                let names: Vec<String> = entry
                    .children()
                    .into_iter()
                    .flat_map(|c| c.keys())
                    .map(|n| path::join(dir, n))
                    .collect();
                if names.is_empty() {
                    continue;
                }
                let found = shared
                    .pool
                    .with_connection(|c| shared.meta.get_all(c, None, &names))?;
                for child in names {
                    // A child removed since the directory was read is simply not listed.
                    if let Some(bytes) = found.get(&child) {
                        let e = Entry::decode(&child, bytes)?;
                        if recursive && e.children().is_some() {
                            next.push((child.clone(), e.clone()));
                        }
                        out.push((child, e));
                    }
                }
            }
            frontier = next;
        }
        Ok(out)
    }

    // ---- changing the tree ----

    /// Creates directory `path`. With `parents`, missing ancestors too; with `exist_ok`, an
    /// existing directory is not an error.
    pub fn mkdir(&self, path: &str, parents: bool, exist_ok: bool) -> Result<()> {
        let path = path::normalize(path)?;
        let chain = path::ancestry(&path);
        let meta_cache = self.shared.meta.name.as_str();
        self.transaction("igfs: mkdir", |tx| {
            let mut found = tx.entries(&chain)?;
            let now = now_ms();
            // The deepest directory so far, and whether this transaction created it.
            let mut parent: Option<(String, Entry, bool)> = None;
            for (depth, p) in chain.iter().enumerate() {
                match found.remove(p) {
                    Some(e) if e.children().is_none() => {
                        return Err(if *p == path {
                            Error::fs(
                                FsErrorKind::AlreadyExists,
                                format!("'{path}' exists and is a file"),
                            )
                        } else {
                            not_a_directory(p)
                        })
                    }
                    Some(e) => {
                        if *p == path && !exist_ok {
                            return Err(Error::fs(
                                FsErrorKind::AlreadyExists,
                                format!("directory '{path}' exists"),
                            ));
                        }
                        parent = Some((p.clone(), e, false));
                    }
                    None => {
                        if !parents && depth + 1 < chain.len() {
                            return Err(not_found(p));
                        }
                        // Only the root has no parent; its entry is missing when someone removed
                        // it from the metadata cache (connecting again recreates it).
                        let (parent_path, mut parent_entry, _) =
                            parent.take().ok_or_else(|| root_missing(meta_cache))?;
                        parent_entry
                            .children_mut()
                            .ok_or_else(|| not_a_directory(&parent_path))?
                            .insert(path::name(p).to_string(), Kind::Directory);
                        parent_entry.modified_ms = now;
                        tx.put_entry(&parent_path, &parent_entry)?;
                        parent = Some((p.clone(), Entry::new_directory(now), true));
                    }
                }
            }
            if let Some((p, e, true)) = parent {
                tx.put_entry(&p, &e)?;
            }
            Ok(())
        })
    }

    /// Deletes a file, an empty directory, or (with `recursive`) a directory and everything in
    /// it. Deleting `/` empties the file system but keeps the root.
    pub fn delete(&self, path: &str, recursive: bool) -> Result<()> {
        let path = path::normalize(path)?;
        let trashed = self.transaction("igfs: delete", |tx| {
            let entry = tx.entry(&path)?.ok_or_else(|| not_found(&path))?;
            if entry.children().is_some_and(|c| !c.is_empty()) && !recursive {
                return Err(Error::fs(
                    FsErrorKind::DirectoryNotEmpty,
                    format!("directory not empty: '{path}'"),
                ));
            }
            let parent_path = path::parent(&path);
            let parent_entry = match parent_path {
                Some(p) => Some(tx.entry(p)?.ok_or_else(|| not_found(p))?),
                None => None,
            };
            let subtree = tx.subtree(&path, entry)?;
            let mut trashed = Vec::new();
            for (_, e) in &subtree {
                if let Some(f) = e.file() {
                    trash(tx, f)?;
                    trashed.push(f.clone());
                }
            }
            let now = now_ms();
            match (parent_path, parent_entry) {
                (Some(pp), Some(mut pe)) => {
                    let keys: Vec<String> = subtree.into_iter().map(|(p, _)| p).collect();
                    tx.remove(&keys)?;
                    pe.children_mut()
                        .ok_or_else(|| not_a_directory(pp))?
                        .remove(path::name(&path));
                    pe.modified_ms = now;
                    tx.put_entry(pp, &pe)?;
                }
                _ => {
                    // The root: remove everything below it and keep it, empty.
                    let keys: Vec<String> = subtree.into_iter().skip(1).map(|(p, _)| p).collect();
                    tx.remove(&keys)?;
                    tx.put_entry("/", &Entry::new_directory(now))?;
                }
            }
            Ok(trashed)
        })?;
        self.purge(&trashed)
    }

    /// Moves a file or directory. An existing file at `dst` is replaced atomically (as is an
    /// empty directory by a directory).
    pub fn rename(&self, src: &str, dst: &str) -> Result<()> {
        let src = path::normalize(src)?;
        let dst = path::normalize(dst)?;
        if src == dst {
            self.stat(&src)?;
            return Ok(());
        }
        if src == "/" || path::is_within(&dst, &src) {
            return Err(Error::InvalidArgument(format!(
                "cannot move '{src}' into itself ('{dst}')"
            )));
        }
        let src_parent = path::parent(&src)
            .ok_or_else(|| Error::InvalidArgument("cannot move the root".into()))?
            .to_string();
        let dst_parent = path::parent(&dst)
            .ok_or_else(|| Error::InvalidArgument("cannot replace the root".into()))?
            .to_string();
        let (trashed, moving) = self.transaction("igfs: rename", |tx| {
            let mut found = tx.entries(&[
                src.clone(),
                dst.clone(),
                src_parent.clone(),
                dst_parent.clone(),
            ])?;
            let src_entry = found.remove(&src).ok_or_else(|| not_found(&src))?;
            match found.get(&dst_parent) {
                None => return Err(not_found(&dst_parent)),
                Some(e) if e.children().is_none() => return Err(not_a_directory(&dst_parent)),
                _ => {}
            }
            let mut trashed = Vec::new();
            if let Some(existing) = found.remove(&dst) {
                match (&src_entry.node, &existing.node) {
                    (Node::File(_), Node::File(old)) => {
                        trash(tx, old)?;
                        trashed.push(old.clone());
                    }
                    (Node::File(_), Node::Directory(_)) => return Err(is_a_directory(&dst)),
                    (Node::Directory(_), Node::File(_)) => return Err(not_a_directory(&dst)),
                    (Node::Directory(_), Node::Directory(children)) if !children.is_empty() => {
                        return Err(Error::fs(
                            FsErrorKind::DirectoryNotEmpty,
                            format!("directory not empty: '{dst}'"),
                        ))
                    }
                    (Node::Directory(_), Node::Directory(_)) => {}
                }
            }
            let kind = src_entry.kind();
            let (old_keys, moved): (Vec<String>, Vec<(String, Entry)>) = tx
                .subtree(&src, src_entry)?
                .into_iter()
                .map(|(p, e)| {
                    let to = format!("{dst}{}", &p[src.len()..]);
                    (p, (to, e))
                })
                .unzip();
            let moving = tx.mark_moving(&moved)?;
            // Any `~orphan/` record of a moved version goes too: `gc` then leaves its blocks.
            let orphan_keys = moving
                .iter()
                .map(|id| format!("{ORPHAN_PREFIX}{}", id_hex(id)));
            tx.remove(&old_keys.into_iter().chain(orphan_keys).collect::<Vec<_>>())?;
            for (to, e) in &moved {
                tx.put_entry(to, e)?;
            }
            let now = now_ms();
            let mut src_parent_entry = found
                .remove(&src_parent)
                .ok_or_else(|| not_found(&src_parent))?;
            src_parent_entry
                .children_mut()
                .ok_or_else(|| not_a_directory(&src_parent))?
                .remove(path::name(&src));
            src_parent_entry.modified_ms = now;
            let mut dst_parent_entry = if dst_parent == src_parent {
                src_parent_entry
            } else {
                tx.put_entry(&src_parent, &src_parent_entry)?;
                found
                    .remove(&dst_parent)
                    .ok_or_else(|| not_found(&dst_parent))?
            };
            dst_parent_entry
                .children_mut()
                .ok_or_else(|| not_a_directory(&dst_parent))?
                .insert(path::name(&dst).to_string(), kind);
            dst_parent_entry.modified_ms = now;
            tx.put_entry(&dst_parent, &dst_parent_entry)?;
            Ok((trashed, moving))
        })?;
        // The rename is whole: its files have one name each again. A mark left behind (this
        // process dying here, or the removal failing) costs a scan at the next purge of the id,
        // and `gc` removes it.
        let marks: Vec<String> = moving
            .iter()
            .map(|id| format!("{MOVING_PREFIX}{}", id_hex(id)))
            .collect();
        let shared = &self.shared;
        let _ = shared
            .pool
            .with_connection(|c| shared.meta.remove_all(c, None, &marks));
        self.purge(&trashed)
    }

    // ---- files ----

    pub fn open(&self, path: &str) -> Result<FileReader> {
        let path = path::normalize(path)?;
        let entry = self.stat(&path)?;
        match entry.node {
            Node::File(info) => Ok(FileReader::new(self.shared.clone(), path, info)),
            Node::Directory(_) => Err(is_a_directory(&path)),
        }
    }

    /// Opens `path` for writing. With `parents`, missing directories above it are created
    /// first, as object-store-like callers (TensorFlow, fsspec) expect.
    pub fn create(&self, path: &str, mode: WriteMode, parents: bool) -> Result<FileWriter> {
        let path = path::normalize(path)?;
        if parents {
            if let Some(parent) = path::parent(&path) {
                if self.lookup(parent)?.is_none() {
                    self.mkdir(parent, true, true)?;
                }
            }
        }
        FileWriter::open(self.clone(), path, mode)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    // ---- housekeeping ----

    /// Deletes the blocks of unreachable file versions, then their trash records.
    ///
    /// A version marked as moving may still be reachable under another name (a rename applied
    /// in part, see [`MovingRecord`]): its blocks stay while any path refers to it.
    pub(crate) fn purge(&self, files: &[FileInfo]) -> Result<()> {
        if files.is_empty() {
            return Ok(());
        }
        let shared = &self.shared;
        let mark_keys: Vec<String> = files
            .iter()
            .map(|f| format!("{MOVING_PREFIX}{}", id_hex(&f.id)))
            .collect();
        let marked = shared
            .pool
            .with_connection(|c| shared.meta.get_all(c, None, &mark_keys))?;
        let names = if marked.is_empty() {
            Sweep::default()
        } else {
            self.sweep(true)?
        };
        for (f, mark_key) in files.iter().zip(&mark_keys) {
            let hex = id_hex(&f.id);
            let named = names.named(&f.id).len();
            if named == 0 {
                self.delete_blocks(&hex, 0, f.block_count())?;
            }
            shared.pool.with_connection(|c| {
                shared.meta.remove(c, None, &format!("{TRASH_PREFIX}{hex}"))
            })?;
            if named < 2 && marked.contains_key(mark_key) {
                shared
                    .pool
                    .with_connection(|c| shared.meta.remove(c, None, mark_key))?;
            }
        }
        Ok(())
    }

    /// Reads the whole metadata cache: every file version a path names and, unless
    /// `names_only`, the bookkeeping records. An unreadable value fails the sweep.
    fn sweep(&self, names_only: bool) -> Result<Sweep> {
        let shared = &self.shared;
        let mut found = Sweep::default();
        let mut problem = None;
        shared.pool.with_connection(|c| {
            shared.meta.for_each(c, 1024, |key, value| {
                if let Err(e) = found.add(key, value, names_only) {
                    problem.get_or_insert(e);
                }
            })
        })?;
        match problem {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }

    pub(crate) fn delete_blocks(&self, hex: &str, from: u64, to: u64) -> Result<u64> {
        let shared = &self.shared;
        let mut index = from;
        while index < to {
            let end = to.min(index + 1024);
            let keys: Vec<String> = (index..end).map(|b| block_key(hex, b)).collect();
            shared
                .pool
                .with_connection(|c| shared.data.remove_all(c, None, &keys))?;
            index = end;
        }
        Ok(to.saturating_sub(from))
    }

    /// Finishes what crashed processes left: deletes trashed versions, and the blocks of writers
    /// that stopped (no sign of life for `older_than`) without publishing. Safe to run at any
    /// time.
    ///
    /// A writer shows it is alive with every write, flush, block put and sync (recorded at most
    /// [`HEARTBEAT`] apart), so `gc` never takes for dead a writer that touches its file
    /// more often than every `older_than` minus that. One that pauses longer is taken for dead:
    /// its unpublished blocks are deleted, and its next write, sync or close fails with
    /// `Conflict`, publishing nothing (the file keeps its previous version). A writer is never
    /// published with blocks missing: `gc` marks a writer's record before deleting its blocks,
    /// and a writer checks its record inside the transaction that publishes.
    ///
    /// With `orphans`, it also deletes the blocks of versions that nothing refers to (see
    /// [`Igfs::collect_orphans`]). That reads every block of the data cache (a scan has no
    /// keys-only form), so it is a choice, not part of every run: such versions come only from
    /// a transaction the server applied in part, which is rare.
    pub fn gc(&self, older_than: Duration, orphans: bool) -> Result<GcReport> {
        let shared = &self.shared;
        // Read before the metadata: see `collect_orphans`.
        let blocks = if orphans {
            Some(self.blocks_by_version()?)
        } else {
            None
        };
        let Sweep {
            versions,
            trash,
            pending,
            moving,
            orphans: condemned,
        } = self.sweep(false)?;
        let mut report = GcReport::default();
        let trashed: HashSet<String> = trash.iter().map(|(hex, _)| hex.clone()).collect();
        let recorded: HashSet<String> = trash
            .iter()
            .map(|(hex, _)| hex)
            .chain(pending.iter().map(|(hex, _)| hex))
            .chain(moving.iter().map(|(hex, _)| hex))
            .cloned()
            .collect();
        for (hex, record) in trash {
            let key = format!("{TRASH_PREFIX}{hex}");
            let names = parse_id_hex(&hex)
                .and_then(|id| versions.get(&id).map(|(_, names)| (id, names.clone())));
            if let Some((id, names)) = names {
                // A path still named this version during the sweep: a transaction applied in
                // part, or one that committed while the sweep ran. Checked again under lock.
                let named = self.transaction("igfs: gc trash", |tx| {
                    let found = tx.entries(&names)?;
                    let named = found.values().any(|e| e.file().is_some_and(|f| f.id == id));
                    if named {
                        tx.remove(std::slice::from_ref(&key))?;
                    }
                    Ok(named)
                })?;
                if named {
                    report.trash_records += 1;
                    continue;
                }
            }
            report.blocks_deleted += self.delete_blocks(&hex, 0, record.blocks)?;
            shared
                .pool
                .with_connection(|c| shared.meta.remove(c, None, &key))?;
            report.trash_records += 1;
        }
        let cutoff = now_ms().saturating_sub(millis(older_than));
        let mut seen = HashSet::new();
        for (hex, record) in pending {
            let Some(id) = parse_id_hex(&hex) else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            let key = format!("{PENDING_PREFIX}{hex}");
            let from = match record.reaped_from {
                // An earlier gc took this writer for dead and stopped before it finished.
                Some(from) => from,
                None if record.updated_ms > cutoff => continue,
                None => {
                    // Blocks a published version still uses stay; only the part past its end
                    // goes. The count read above still holds if the record is unchanged: the
                    // writer's sync, and any other appender's claim, change the record.
                    let keep = versions.get(&id).map_or(0, |(blocks, _)| *blocks);
                    let reaped = PendingRecord {
                        reaped_from: Some(keep),
                        ..record.clone()
                    };
                    let taken = self.transaction("igfs: gc a writer", |tx| {
                        let current = tx
                            .record(&key)?
                            .map(|v| PendingRecord::decode(&key, &v))
                            .transpose()?;
                        // A writer that showed a sign of life since the sweep stays.
                        if current.as_ref() != Some(&record) {
                            return Ok(false);
                        }
                        tx.put_record(&key, &reaped.encode())?;
                        Ok(true)
                    })?;
                    if !taken {
                        continue;
                    }
                    keep
                }
            };
            report.blocks_deleted += self.delete_blocks(&hex, from, record.bound)?;
            // Nobody else changes a reaped record (writers and appenders refuse it), so it can go.
            shared
                .pool
                .with_connection(|c| shared.meta.remove(c, None, &key))?;
            report.abandoned_writers += 1;
        }
        // A mark older than the cutoff belongs to a rename that ended, whole or in part; it is
        // needed only while its version has two names.
        for (hex, record) in moving {
            let named = parse_id_hex(&hex)
                .and_then(|id| versions.get(&id))
                .map_or(0, |(_, names)| names.len());
            if record.since_ms > cutoff || named >= 2 {
                continue;
            }
            let key = format!("{MOVING_PREFIX}{hex}");
            if named == 0 && !trashed.contains(&hex) {
                // Unnamed and never trashed: the rename's removal of the old name was applied
                // and its new entry was not. The version gets the name it was moving to.
                if !self.restore(&key, &record)? {
                    continue;
                }
                report.restored += 1;
            }
            shared
                .pool
                .with_connection(|c| shared.meta.remove(c, None, &key))?;
        }
        // Left by a run with `orphans` that stopped midway (removing one only ever keeps blocks).
        let stale: Vec<String> = condemned
            .iter()
            .filter(|(_, record)| record.since_ms <= cutoff)
            .map(|(hex, _)| format!("{ORPHAN_PREFIX}{hex}"))
            .collect();
        if !stale.is_empty() {
            shared
                .pool
                .with_connection(|c| shared.meta.remove_all(c, None, &stale))?;
        }
        if let Some(blocks) = blocks {
            let unreferenced = blocks
                .into_iter()
                .filter(|(id, _)| !versions.contains_key(id) && !recorded.contains(&id_hex(id)))
                .collect();
            report.orphan_blocks = self.collect_orphans(unreferenced)?;
        }
        Ok(report)
    }

    /// Every file id with blocks in the data cache: how many, and the end of the last.
    fn blocks_by_version(&self) -> Result<HashMap<FileId, (u64, u64)>> {
        let shared = &self.shared;
        // Pages of about 16 MiB: the blocks' bytes come along.
        let page = ((16u32 << 20) / shared.settings.block_size).clamp(1, 1024) as i32;
        let mut found: HashMap<FileId, (u64, u64)> = HashMap::new();
        shared.pool.with_connection(|c| {
            shared.data.for_each(c, page, |key, _| {
                if let Some((id, index)) = parse_block_key(key) {
                    let (count, end) = found.entry(id).or_insert((0, 0));
                    *count += 1;
                    *end = (*end).max(index.saturating_add(1));
                }
            })
        })?;
        Ok(found)
    }

    /// Deletes the blocks of `candidates` (id -> block count and end), versions that had blocks
    /// and that nothing referred to in the sweep after the blocks were read: no path, no pending,
    /// trash or moving record. A publish, delete or rename the server applied in part leaves
    /// them: the entry that replaces a version stored, the version's trash record not (or a
    /// writer's pending record removed, its entry not). Returns the blocks deleted.
    ///
    /// Why a version in use keeps its blocks:
    /// - A writer stores its pending record before its first block, and the blocks were read
    ///   before the metadata: a live version whose blocks were seen was published, or had its
    ///   record, before the sweep began, and the sweep misses it only if a publish or rename
    ///   committed while it ran (the sweep is not one snapshot).
    /// - Each candidate is condemned in a transaction that finds none of its records and stores
    ///   an `~orphan/` record of this run. From then on, only a rename of a name the version
    ///   already has can give it one: a writer publishes only while its pending record is there
    ///   (and an id is never written anew), an appender claims only a named file, and `gc`
    ///   restores only a marked one. A rename removes the moved versions' `~orphan/` records in
    ///   its transaction.
    /// - A second sweep, after every condemnation, sees each name a version still has unless a
    ///   rename moved it meanwhile. Its blocks go only if that sweep found no name and then,
    ///   under lock, this run's record is still there (no rename since) and no pending, trash
    ///   or moving record appeared (a rename the server applied in part leaves its mark). That
    ///   transaction turns the record into trash, so a run that stops midway leaves the rest to
    ///   the next.
    fn collect_orphans(&self, candidates: HashMap<FileId, (u64, u64)>) -> Result<u64> {
        let run = random_id()?;
        let record = OrphanRecord {
            gc: run,
            since_ms: now_ms(),
        }
        .encode();
        let keys = |id: &FileId| {
            let hex = id_hex(id);
            [ORPHAN_PREFIX, PENDING_PREFIX, TRASH_PREFIX, MOVING_PREFIX]
                .map(|p| format!("{p}{hex}"))
        };
        let mut condemned = Vec::new();
        for (id, blocks) in candidates {
            let [orphan, refs @ ..] = keys(&id);
            let stored = self.transaction("igfs: gc condemns a version", |tx| {
                if !tx.records(&refs)?.is_empty() {
                    return Ok(false);
                }
                tx.put_record(&orphan, &record)?;
                Ok(true)
            })?;
            if stored {
                condemned.push((id, blocks));
            }
        }
        if condemned.is_empty() {
            return Ok(0);
        }
        let names = self.sweep(true)?;
        let mut deleted = 0;
        for (id, (count, end)) in condemned {
            let all = keys(&id);
            let (orphan, trash_key) = (&all[0], &all[2]);
            let unnamed = names.named(&id).is_empty();
            let confirmed = self.transaction("igfs: gc confirms a version is unused", |tx| {
                let mut found = tx.records(&all)?;
                let ours = match found.remove(orphan) {
                    Some(v) => OrphanRecord::decode(orphan, &v)?.gc == run,
                    None => false,
                };
                if !ours {
                    return Ok(false);
                }
                tx.remove(std::slice::from_ref(orphan))?;
                if !unnamed || !found.is_empty() {
                    return Ok(false);
                }
                tx.put_record(trash_key, &TrashRecord { blocks: end }.encode())?;
                Ok(true)
            })?;
            if confirmed {
                self.delete_blocks(&id_hex(&id), 0, end)?;
                let shared = &self.shared;
                shared
                    .pool
                    .with_connection(|c| shared.meta.remove(c, None, trash_key))?;
                deleted += count;
            }
        }
        Ok(deleted)
    }

    /// Puts `mark`'s entry at the path it was moving to, listed in its directory, unless that
    /// path has an entry (then whatever is there stays, and so does the mark) or the directory
    /// is gone (the version is then trashed). False when the mark stays.
    fn restore(&self, key: &str, mark: &MovingRecord) -> Result<bool> {
        let Some(file) = mark.entry.file().cloned() else {
            return Ok(true);
        };
        let to = mark.to.clone();
        let parent = path::parent(&to).unwrap_or("/").to_string();
        self.transaction("igfs: gc restores a moved file", |tx| {
            if tx.record(key)?.is_none() {
                return Ok(true);
            }
            let mut found = tx.entries(&[to.clone(), parent.clone()])?;
            if found.contains_key(&to) {
                return Ok(false);
            }
            match found.remove(&parent) {
                Some(mut dir) if dir.children().is_some() => {
                    tx.put_entry(&to, &mark.entry)?;
                    if let Some(children) = dir.children_mut() {
                        children.insert(path::name(&to).to_string(), Kind::File);
                    }
                    dir.modified_ms = now_ms();
                    tx.put_entry(&parent, &dir)?;
                }
                _ => trash(tx, &file)?,
            }
            Ok(true)
        })
    }
}

/// Records `file`'s blocks as trash inside the transaction that makes them unreachable.
pub(crate) fn trash(tx: &mut Tx<'_>, file: &FileInfo) -> Result<()> {
    let key = format!("{TRASH_PREFIX}{}", id_hex(&file.id));
    tx.put_record(
        &key,
        &TrashRecord {
            blocks: file.block_count(),
        }
        .encode(),
    )
}

pub(crate) fn transaction<T>(
    shared: &Shared,
    label: &str,
    mut body: impl FnMut(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    // Contention clears in milliseconds; a node leaving takes the cluster up to seconds to re-map
    // (about 6 s of waiting in all here).
    const CONTENTION_ATTEMPTS: usize = 4;
    const TOPOLOGY_ATTEMPTS: usize = 8;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut conn = shared.pool.take()?;
        let result = run_once(&mut conn, shared, label, &mut body);
        shared.pool.give_back(conn);
        let Err(e) = &result else { return result };
        let wait_ms = match retry_kind(e) {
            Some(Retry::Contention) if attempt < CONTENTION_ATTEMPTS => 20 * attempt as u64,
            Some(Retry::Topology) if attempt < TOPOLOGY_ATTEMPTS => 200 * attempt as u64,
            _ => return result,
        };
        std::thread::sleep(Duration::from_millis(wait_ms));
    }
}

fn run_once<T>(
    conn: &mut Connection,
    shared: &Shared,
    label: &str,
    body: &mut impl FnMut(&mut Tx<'_>) -> Result<T>,
) -> Result<T> {
    let transaction = Transaction::start(conn, shared.settings.transaction_timeout, label)?;
    let mut tx = Tx {
        conn,
        id: transaction.id,
        meta: &shared.meta,
    };
    match body(&mut tx) {
        Ok(value) => {
            transaction.commit(conn)?;
            Ok(value)
        }
        Err(e) => {
            let _ = transaction.rollback(conn);
            Err(e)
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    fn server(status: i32, message: &str) -> Error {
        Error::Server {
            status,
            message: message.to_string(),
        }
    }

    #[test]
    fn a_primary_leaving_mid_transaction_is_retried_after_the_cluster_remaps() {
        // What Ignite 2.17 said when a node was killed during an igfs commit.
        let left = server(
            1,
            "Failed to acquire lock for keys (primary node left grid, retry transaction if possible) [keys=[...]]",
        );
        assert_eq!(retry_kind(&left), Some(Retry::Topology));
        assert_eq!(
            retry_kind(&server(1, "Deadlock detected")),
            Some(Retry::Contention)
        );
        assert_eq!(
            retry_kind(&server(1, "Failed to update keys: cache is stopped")),
            None
        );
        assert_eq!(retry_kind(&Error::Protocol("short frame".into())), None);
    }
}
