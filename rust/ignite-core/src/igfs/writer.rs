//! Writing a file: blocks are stored under the writer's own file id as they fill (pipelined), and
//! the path only points at them once [`FileWriter::close`] (or [`FileWriter::sync`]) publishes
//! them in a metadata transaction.
//!
//! Liveness: a writer keeps a pending record (see [`PendingRecord`]) that says how far its blocks
//! may reach and when it last showed a sign of life; every write, flush, block put and sync
//! refreshes it (at most once per [`HEARTBEAT`]), and `gc` deletes the blocks of a writer whose
//! record went stale. A writer that holds a lease on a published file (an appender, or a writer
//! after its first sync) renews it when half of it has passed, before it puts another block, and
//! stops with `Conflict` if another writer took the file meanwhile: its blocks never land in
//! someone else's version. Leases are compared across clients by wall clock: the clients' clocks
//! must agree to well within half a lease.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::entry::{
    block_count, block_key, id_hex, Entry, FileId, FileInfo, Lease, Node, PendingRecord,
    PENDING_PREFIX,
};
use super::{
    is_a_directory, millis, not_a_directory, not_found, now_ms, path, random_id, trash, Igfs, Kind,
    Tx,
};
use crate::error::{Error, FsErrorKind, Result};
use crate::ignite2::connection::Connection;

/// How a writer treats an existing file at its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace it when the writer closes (the last writer to close wins).
    Overwrite,
    /// Fail if the path exists (when opening, and again when publishing).
    Exclusive,
    /// Extend it, holding a lease that keeps other writers off until close.
    Append,
}

/// The pending record's bound moves in steps of this many blocks (one small put per step).
const BOUND_STEP: u64 = 64;

/// A writer refreshes its pending record at most this often: `gc(older_than)` never collects a
/// writer that writes, flushes or syncs at least every `older_than` minus this.
pub const HEARTBEAT: Duration = Duration::from_millis(250);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Failed,
}

pub struct FileWriter {
    igfs: Igfs,
    path: String,
    mode: WriteMode,
    id: FileId,
    id_hex: String,
    block_size: u32,
    /// Names this writer in leases.
    owner: [u8; 16],
    /// The bytes of block `index` written so far (less than a block).
    buf: Vec<u8>,
    index: u64,
    size: u64,
    /// The size readers see: `None` until the first publish of a new file.
    published: Option<u64>,
    /// This writer's pending record as it last stored it; before storing it again or
    /// publishing, the writer checks that the record is still this one.
    record: PendingRecord,
    /// When `record` was stored: the sign of life `gc` sees.
    beat_at: Instant,
    /// When the lease on the published file was last taken or renewed (while there is one).
    leased_at: Instant,
    /// The bound of the record of an earlier appender that died, taken over by this one: that
    /// appender's blocks past this writer's end are deleted when it closes.
    inherited_bound: u64,
    conn: Option<Connection>,
    in_flight: VecDeque<i64>,
    state: State,
    /// The conflict that ended the writer, repeated by later calls.
    conflict: Option<String>,
}

impl FileWriter {
    pub(crate) fn open(igfs: Igfs, path: String, mode: WriteMode) -> Result<FileWriter> {
        let parent = path::parent(&path)
            .ok_or_else(|| is_a_directory(&path))?
            .to_string();
        match igfs.lookup_confirmed(&parent)? {
            None => return Err(not_found(&parent)),
            Some(e) if e.children().is_none() => return Err(not_a_directory(&parent)),
            _ => {}
        }
        let existing = igfs.lookup(&path)?;
        match (&existing, mode) {
            (Some(e), _) if e.children().is_some() => return Err(is_a_directory(&path)),
            (Some(_), WriteMode::Exclusive) => {
                return Err(Error::fs(
                    FsErrorKind::AlreadyExists,
                    format!("file exists: '{path}'"),
                ))
            }
            _ => {}
        }
        let owner = random_id()?;
        let now = Instant::now();
        let (info, published, record, inherited_bound) =
            if mode == WriteMode::Append && existing.is_some() {
                let claim = claim_lease(&igfs, &path, owner)?;
                (claim.info, true, claim.record, claim.inherited_bound)
            } else {
                let info = FileInfo {
                    id: random_id()?,
                    size: 0,
                    block_size: igfs.settings().block_size,
                    lease: None,
                };
                let record = PendingRecord {
                    bound: BOUND_STEP,
                    updated_ms: now_ms(),
                    reaped_from: None,
                };
                (info, false, record, 0)
            };
        let id_hex = id_hex(&info.id);
        let block_size = info.block_size;
        let mut writer = FileWriter {
            igfs,
            path,
            mode,
            id: info.id,
            id_hex,
            block_size,
            owner,
            buf: Vec::with_capacity(block_size as usize),
            index: info.size / block_size as u64,
            size: info.size,
            published: published.then_some(info.size),
            record,
            beat_at: now,
            leased_at: now,
            inherited_bound,
            conn: None,
            in_flight: VecDeque::new(),
            state: State::Open,
            conflict: None,
        };
        if !published {
            // A fresh id: nobody else writes this key, so a plain put is enough.
            let key = writer.pending_key();
            let value = writer.record.encode();
            let shared = writer.igfs.shared().clone();
            // Dropping the writer on error aborts it (and removes what it stored).
            shared.meta.put(writer.connection()?, None, &key, &value)?;
        }
        let tail = (info.size % block_size as u64) as usize;
        if tail > 0 {
            let key = block_key(&writer.id_hex, writer.index);
            let shared = writer.igfs.shared().clone();
            let block = shared.data.get(writer.connection()?, None, &key)?;
            match block {
                Some(b) if b.len() >= tail => writer.buf.extend_from_slice(&b[..tail]),
                _ => {
                    writer.abort();
                    return Err(Error::fs(
                        FsErrorKind::Corrupt,
                        format!("the last block of '{}' is missing or short", writer.path),
                    ));
                }
            }
        }
        Ok(writer)
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Bytes in the file so far (what `close` will publish).
    pub fn tell(&self) -> u64 {
        self.size
    }

    pub fn write(&mut self, mut data: &[u8]) -> Result<()> {
        self.check_open()?;
        // A write that only fills the buffer shows the writer alive too (a slow log writer).
        self.guarded(|w| w.show_alive(w.record.bound))?;
        let block_size = self.block_size as usize;
        while !data.is_empty() {
            if self.buf.is_empty() && data.len() >= block_size {
                // Whole blocks go out straight from the caller's buffer.
                self.guarded(|w| w.send_block(w.index, &data[..block_size]))?;
                self.index += 1;
                self.size += block_size as u64;
                data = &data[block_size..];
                continue;
            }
            let n = (block_size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            self.size += n as u64;
            data = &data[n..];
            if self.buf.len() == block_size {
                let block = std::mem::take(&mut self.buf);
                let sent = self.guarded(|w| w.send_block(w.index, &block));
                self.buf = block;
                self.buf.clear();
                sent?;
                self.index += 1;
            }
        }
        Ok(())
    }

    /// Waits until every full block written so far is stored (not yet visible to readers).
    pub fn flush(&mut self) -> Result<()> {
        self.check_open()?;
        self.guarded(|w| {
            w.drain()?;
            w.show_alive(w.record.bound)
        })
    }

    /// Publishes what has been written so far: readers opening the file from now on see it. The
    /// writer goes on and keeps the file leased until `close`.
    pub fn sync(&mut self) -> Result<()> {
        self.check_open()?;
        self.publish(false)
    }

    /// Publishes the file and ends the writer. On error nothing of this writer becomes visible.
    pub fn close(&mut self) -> Result<()> {
        match self.state {
            State::Closed => return Ok(()),
            State::Failed => return Err(self.failed()),
            State::Open => {}
        }
        let result = self.publish(true);
        if result.is_ok() {
            self.state = State::Closed;
            if let Some(conn) = self.conn.take() {
                self.igfs.shared().pool.give_back(conn);
            }
        }
        result
    }

    /// Drops everything written since the last publish and ends the writer.
    pub fn abort(&mut self) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Failed;
        let _ = self.drain();
        match self.published {
            None => {
                let _ = self.igfs.delete_blocks(&self.id_hex, 0, self.index + 1);
                self.remove_record();
            }
            Some(size) => {
                // Only while the lease is ours is nobody else extending this file: renewed
                // first, it keeps others off while the unpublished blocks go.
                if self.renew_lease().is_ok() {
                    let first_unpublished = block_count(size, self.block_size);
                    let end = (self.index + 1).max(self.inherited_bound);
                    let _ = self
                        .igfs
                        .delete_blocks(&self.id_hex, first_unpublished, end);
                    self.release_lease();
                    self.remove_record();
                }
            }
        }
    }

    fn check_open(&self) -> Result<()> {
        match self.state {
            State::Open => Ok(()),
            State::Closed => Err(Error::InvalidArgument(format!(
                "'{}' is closed for writing",
                self.path
            ))),
            State::Failed => Err(self.failed()),
        }
    }

    fn failed(&self) -> Error {
        match &self.conflict {
            Some(why) => Error::fs(
                FsErrorKind::Conflict,
                format!("{why} (an earlier call ended the writer)"),
            ),
            None => Error::InvalidArgument(format!(
                "an earlier error ended the writer of '{}'; nothing more was published",
                self.path
            )),
        }
    }

    /// Runs a block operation; if it fails, the writer is aborted (its unpublished blocks go).
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let result = f(self);
        if let Err(e) = &result {
            if let Error::Fs {
                kind: FsErrorKind::Conflict,
                message,
            } = e
            {
                self.conflict = Some(message.clone());
            }
            self.abort();
        }
        result
    }

    fn connection(&mut self) -> Result<&mut Connection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.igfs.shared().pool.take()?,
        };
        Ok(self.conn.insert(conn))
    }

    fn pending_key(&self) -> String {
        format!("{PENDING_PREFIX}{}", self.id_hex)
    }

    fn send_block(&mut self, index: u64, bytes: &[u8]) -> Result<()> {
        let bound = if index >= self.record.bound {
            index + BOUND_STEP
        } else {
            self.record.bound
        };
        self.show_alive(bound)?;
        if self.in_flight.len() >= self.igfs.settings().write_pipeline.max(1) {
            self.wait_oldest()?;
        }
        let key = block_key(&self.id_hex, index);
        let shared = self.igfs.shared().clone();
        let id = shared
            .data
            .send_put(self.connection()?, None, &key, bytes)?;
        self.in_flight.push_back(id);
        Ok(())
    }

    fn wait_oldest(&mut self) -> Result<()> {
        if let Some(id) = self.in_flight.pop_front() {
            let shared = self.igfs.shared().clone();
            let Some(conn) = self.conn.as_mut() else {
                // Never: the connection is only dropped together with the requests on it.
                self.in_flight.clear();
                return Err(Error::Connection(
                    "the connection of a block write was lost".into(),
                ));
            };
            if let Err(e) = shared.data.receive_ack(conn, id) {
                self.in_flight.clear();
                self.conn = None;
                return Err(e);
            }
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<()> {
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        Ok(())
    }

    /// Before a block is put (up to below `bound`), and on writes and flushes: renews the lease
    /// once half of it has passed, and stores the pending record again once [`HEARTBEAT`] has
    /// passed or the bound moves (before the blocks exist).
    fn show_alive(&mut self, bound: u64) -> Result<()> {
        if self.published.is_some() && self.leased_at.elapsed() >= self.igfs.settings().lease / 2 {
            self.renew_lease()?;
        }
        if bound > self.record.bound || self.beat_at.elapsed() >= HEARTBEAT {
            self.store_record(bound.max(self.record.bound))?;
        }
        Ok(())
    }

    /// Stores the pending record with `bound` and a fresh time, if it is still the one this
    /// writer stored last (otherwise `gc` took the writer for dead, or another appender took
    /// the file over).
    fn store_record(&mut self, bound: u64) -> Result<()> {
        let key = self.pending_key();
        let (path, expected) = (&self.path, &self.record);
        let started = Instant::now();
        let next = self.igfs.transaction("igfs: writer alive", |tx| {
            check_record(tx, &key, expected, path)?;
            let next = expected.refreshed(bound);
            tx.put_record(&key, &next.encode())?;
            Ok(next)
        })?;
        self.record = next;
        self.beat_at = started;
        Ok(())
    }

    /// Removes the pending record if it is still this writer's (a reaped one is `gc`'s).
    fn remove_record(&mut self) {
        let key = self.pending_key();
        let expected = &self.record;
        let _ = self.igfs.transaction("igfs: writer ends", |tx| {
            let current = tx
                .record(&key)?
                .map(|v| PendingRecord::decode(&key, &v))
                .transpose()?;
            if current.as_ref() == Some(expected) {
                tx.remove(std::slice::from_ref(&key))?;
            }
            Ok(())
        });
    }

    /// Extends the lease on the published file, if this writer still holds it (even if it ran
    /// out: nobody took it meanwhile).
    fn renew_lease(&mut self) -> Result<()> {
        let (path, owner, id, published) = (&self.path, self.owner, self.id, self.published);
        let lease_ms = millis(self.igfs.settings().lease);
        let started = Instant::now();
        self.igfs.transaction("igfs: renew lease", |tx| {
            let mut entry = tx.entry(path)?.ok_or_else(|| lease_lost(path))?;
            match &mut entry.node {
                Node::File(info)
                    if info.id == id
                        && Some(info.size) == published
                        && info.lease.map(|l| l.owner) == Some(owner) =>
                {
                    info.lease = Some(Lease {
                        owner,
                        until_ms: now_ms().saturating_add(lease_ms),
                    });
                }
                _ => return Err(lease_lost(path)),
            }
            tx.put_entry(path, &entry)
        })?;
        self.leased_at = started;
        Ok(())
    }

    /// Gives the lease back if this writer still holds it.
    fn release_lease(&self) {
        let (path, owner, id) = (&self.path, self.owner, self.id);
        let _ = self.igfs.transaction("igfs: release", |tx| {
            let Some(mut entry) = tx.entry(path)? else {
                return Ok(());
            };
            let Node::File(info) = &mut entry.node else {
                return Ok(());
            };
            if info.id != id || info.lease.map(|l| l.owner) != Some(owner) {
                return Ok(());
            }
            info.lease = None;
            tx.put_entry(path, &entry)
        });
    }

    fn publish(&mut self, last: bool) -> Result<()> {
        let stored = self.guarded(|w| {
            if !w.buf.is_empty() {
                let block = std::mem::take(&mut w.buf);
                let sent = w.send_block(w.index, &block);
                w.buf = block;
                sent?;
            }
            w.drain()?;
            if last && w.inherited_bound > block_count(w.size, w.block_size) {
                // Blocks a dead appender left past this writer's end; the lease keeps anyone
                // else from writing there until this publish releases it.
                let end = block_count(w.size, w.block_size);
                w.igfs.delete_blocks(&w.id_hex, end, w.inherited_bound)?;
            }
            Ok(())
        });
        stored?;
        let parent = path::parent(&self.path)
            .ok_or_else(|| is_a_directory(&self.path))?
            .to_string();
        let (path, mode, owner, published) =
            (self.path.clone(), self.mode, self.owner, self.published);
        let info = FileInfo {
            id: self.id,
            size: self.size,
            block_size: self.block_size,
            lease: None,
        };
        let lease_ms = millis(self.igfs.settings().lease);
        let pending_key = self.pending_key();
        let expected = &self.record;
        let started = Instant::now();
        let outcome = self.igfs.transaction("igfs: publish", |tx| {
            let mut found = tx.entries(&[path.clone(), parent.clone()])?;
            let mut parent_entry = found.remove(&parent).ok_or_else(|| not_found(&parent))?;
            if parent_entry.children().is_none() {
                return Err(not_a_directory(&parent));
            }
            // Never publish blocks that `gc` took for a dead writer's (and is deleting).
            check_record(tx, &pending_key, expected, &path)?;
            let now = now_ms();
            let current = found.remove(&path);
            let mut replaced = None;
            match (published, &current) {
                (None, None) => {}
                (None, Some(entry)) => match &entry.node {
                    Node::Directory(_) => return Err(is_a_directory(&path)),
                    Node::File(_) if mode == WriteMode::Exclusive => {
                        return Err(Error::fs(FsErrorKind::AlreadyExists, format!("file exists: '{path}' (created by another writer)")))
                    }
                    Node::File(old) => {
                        if old.leased_by_other(&owner, now).is_some() {
                            return Err(Error::fs(FsErrorKind::Conflict, format!("'{path}' is being appended to by another writer")));
                        }
                        replaced = Some(old.clone());
                    }
                },
                (Some(size), Some(Entry { node: Node::File(f), .. }))
                    if f.id == info.id && f.size == size && f.lease.map(|l| l.owner) == Some(owner) => {}
                (Some(_), _) => {
                    return Err(Error::fs(
                        FsErrorKind::Conflict,
                        format!("'{path}' was changed, moved or deleted by someone else while this writer was writing it"),
                    ))
                }
            }
            let lease = if last { None } else { Some(Lease { owner, until_ms: now.saturating_add(lease_ms) }) };
            tx.put_entry(&path, &Entry { node: Node::File(FileInfo { lease, ..info.clone() }), modified_ms: now })?;
            // Listed unless it is new, or a transaction the server applied in part (see
            // `entry::MovingRecord`) stored the entry without its name in the directory.
            let listed = parent_entry
                .children()
                .is_some_and(|c| c.contains_key(path::name(&path)));
            if !listed {
                parent_entry
                    .children_mut()
                    .ok_or_else(|| not_a_directory(&parent))?
                    .insert(path::name(&path).to_string(), Kind::File);
                parent_entry.modified_ms = now;
                tx.put_entry(&parent, &parent_entry)?;
            }
            if let Some(old) = &replaced {
                trash(tx, old)?;
            }
            let record = if last {
                tx.remove(std::slice::from_ref(&pending_key))?;
                None
            } else {
                let next = expected.refreshed(expected.bound);
                tx.put_record(&pending_key, &next.encode())?;
                Some(next)
            };
            Ok((replaced, record))
        });
        match outcome {
            Ok((replaced, record)) => {
                self.published = Some(self.size);
                if let Some(record) = record {
                    self.record = record;
                    self.beat_at = started;
                    self.leased_at = started;
                }
                if let Some(old) = replaced {
                    self.igfs.purge(&[old])?;
                }
                Ok(())
            }
            Err(e) => {
                if let Error::Fs {
                    kind: FsErrorKind::Conflict,
                    message,
                } = &e
                {
                    self.conflict = Some(message.clone());
                }
                self.abort();
                Err(e)
            }
        }
    }
}

impl Drop for FileWriter {
    /// A writer dropped without `close` publishes nothing: a crash or an exception in the middle
    /// of writing leaves the previous version of the file in place.
    fn drop(&mut self) {
        if self.state == State::Open {
            self.abort();
        }
    }
}

impl PendingRecord {
    /// The next record of the same writer: `bound`, and a time after the last one's (so that
    /// the record changes even within one millisecond, and `gc` sees the change).
    fn refreshed(&self, bound: u64) -> PendingRecord {
        PendingRecord {
            bound,
            updated_ms: now_ms().max(self.updated_ms.saturating_add(1)),
            reaped_from: None,
        }
    }
}

/// Checks, inside a transaction, that the writer's pending record is still `expected`.
fn check_record(tx: &mut Tx<'_>, key: &str, expected: &PendingRecord, path: &str) -> Result<()> {
    let current = tx
        .record(key)?
        .map(|v| PendingRecord::decode(key, &v))
        .transpose()?;
    match current {
        Some(current) if current == *expected => Ok(()),
        None
        | Some(PendingRecord {
            reaped_from: Some(_),
            ..
        }) => Err(Error::fs(
            FsErrorKind::Conflict,
            format!(
                "gc took the writer of '{path}' for dead (no write, flush or sync for longer than \
                 its older_than) and deleted its unpublished blocks; nothing of it is published"
            ),
        )),
        Some(_) => Err(lease_lost(path)),
    }
}

fn lease_lost(path: &str) -> Error {
    Error::fs(
        FsErrorKind::Conflict,
        format!(
            "another writer took '{path}' over, or changed, moved or deleted it, after this \
             writer's lease ran out; nothing more of this writer is written or published"
        ),
    )
}

/// What an appender's claim on a file gives it.
struct Claim {
    /// The file as it is now.
    info: FileInfo,
    /// The pending record the claim stored.
    record: PendingRecord,
    /// The bound of a dead appender's record, replaced by this one.
    inherited_bound: u64,
}

/// Takes the append lease on the existing file at `path` and stores the appender's pending
/// record, in one transaction.
fn claim_lease(igfs: &Igfs, path: &str, owner: [u8; 16]) -> Result<Claim> {
    let lease_ms = millis(igfs.settings().lease);
    igfs.transaction("igfs: append", |tx| {
        let mut entry = tx.entry(path)?.ok_or_else(|| not_found(path))?;
        let now = now_ms();
        let Node::File(info) = &mut entry.node else {
            return Err(is_a_directory(path));
        };
        if info.leased_by_other(&owner, now).is_some() {
            return Err(Error::fs(
                FsErrorKind::Conflict,
                format!("'{path}' is being written by another writer"),
            ));
        }
        let key = format!("{PENDING_PREFIX}{}", id_hex(&info.id));
        let earlier = tx
            .record(&key)?
            .map(|v| PendingRecord::decode(&key, &v))
            .transpose()?;
        if earlier.as_ref().is_some_and(|r| r.reaped_from.is_some()) {
            return Err(Error::fs(
                FsErrorKind::Conflict,
                format!(
                    "gc is deleting the blocks an earlier appender of '{path}' left; try again \
                     once it has finished"
                ),
            ));
        }
        // An earlier appender whose lease ran out: its record (and blocks) become this one's.
        let inherited_bound = earlier.as_ref().map_or(0, |r| r.bound);
        let index = info.size / info.block_size as u64;
        let record = PendingRecord {
            bound: inherited_bound.max(index + BOUND_STEP),
            updated_ms: earlier
                .as_ref()
                .map_or(now, |r| now.max(r.updated_ms.saturating_add(1))),
            reaped_from: None,
        };
        tx.put_record(&key, &record.encode())?;
        info.lease = Some(Lease {
            owner,
            until_ms: now.saturating_add(lease_ms),
        });
        let claimed = info.clone();
        tx.put_entry(path, &entry)?;
        Ok(Claim {
            info: claimed,
            record,
            inherited_bound,
        })
    })
}
