//! Writing a file: blocks are stored under the writer's own file id as they fill (pipelined), and
//! the path only points at them once [`FileWriter::close`] (or [`FileWriter::sync`]) publishes
//! them in a metadata transaction.

use std::collections::VecDeque;

use super::entry::{
    block_count, block_key, id_hex, Entry, FileId, FileInfo, Lease, Node, PendingRecord,
    PENDING_PREFIX,
};
use super::{
    is_a_directory, not_a_directory, not_found, now_ms, path, random_id, trash, Igfs, Kind,
};
use crate::error::{Error, FsErrorKind, Result};
use crate::net::connection::Connection;

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
    bound: u64,
    conn: Option<Connection>,
    in_flight: VecDeque<i64>,
    state: State,
}

impl FileWriter {
    pub(crate) fn open(igfs: Igfs, path: String, mode: WriteMode) -> Result<FileWriter> {
        let parent = path::parent(&path)
            .ok_or_else(|| is_a_directory(&path))?
            .to_string();
        match igfs.lookup(&parent)? {
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
        let owner = random_id();
        let block_size = igfs.settings().block_size;
        let mut writer = FileWriter {
            igfs,
            path,
            mode,
            id: [0; 16],
            id_hex: String::new(),
            block_size,
            owner,
            buf: Vec::new(),
            index: 0,
            size: 0,
            published: None,
            bound: 0,
            conn: None,
            in_flight: VecDeque::new(),
            state: State::Open,
        };
        let appending = if mode == WriteMode::Append && existing.is_some() {
            Some(writer.claim_lease()?)
        } else {
            None
        };
        match appending {
            Some(info) => {
                writer.id = info.id;
                writer.block_size = info.block_size;
                writer.size = info.size;
                writer.published = Some(info.size);
                writer.index = info.size / info.block_size as u64;
                writer.id_hex = id_hex(&info.id);
                let tail = (info.size % info.block_size as u64) as usize;
                if tail > 0 {
                    let key = block_key(&writer.id_hex, writer.index);
                    let shared = writer.igfs.shared().clone();
                    let block = shared.data.get(writer.connection()?, None, &key)?;
                    match block {
                        Some(b) if b.len() >= tail => writer.buf.extend_from_slice(&b[..tail]),
                        _ => {
                            writer.state = State::Failed;
                            writer.release_lease();
                            return Err(Error::fs(
                                FsErrorKind::Corrupt,
                                format!("the last block of '{}' is missing or short", writer.path),
                            ));
                        }
                    }
                }
            }
            None => {
                writer.id = random_id();
                writer.id_hex = id_hex(&writer.id);
            }
        }
        writer
            .buf
            .reserve(writer.block_size as usize - writer.buf.len());
        writer.move_bound(writer.index + BOUND_STEP)?;
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
        self.guarded(|w| w.drain())
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
        let first_unpublished = block_count(self.published.unwrap_or(0), self.block_size);
        match self.published {
            None => {
                let _ = self.igfs.delete_blocks(&self.id_hex, 0, self.index + 1);
                self.remove_pending();
            }
            Some(_) => {
                // Only while the lease is ours is nobody else extending this file.
                if self.release_lease() {
                    let _ =
                        self.igfs
                            .delete_blocks(&self.id_hex, first_unpublished, self.index + 1);
                    self.remove_pending();
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
        Error::InvalidArgument(format!(
            "an earlier error ended the writer of '{}'; nothing more was published",
            self.path
        ))
    }

    /// Runs a block operation; if it fails, the writer is aborted (its unpublished blocks go).
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        let result = f(self);
        if result.is_err() {
            self.abort();
        }
        result
    }

    fn connection(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            self.conn = Some(self.igfs.shared().pool.take()?);
        }
        Ok(self.conn.as_mut().unwrap())
    }

    fn send_block(&mut self, index: u64, bytes: &[u8]) -> Result<()> {
        if index >= self.bound {
            self.move_bound(index + BOUND_STEP)?;
        }
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
            let conn = self.conn.as_mut().expect("a request was sent on it");
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

    /// Records (before the blocks exist) how far this writer's blocks may reach, for `gc`.
    fn move_bound(&mut self, bound: u64) -> Result<()> {
        let record = PendingRecord {
            bound,
            updated_ms: now_ms(),
        }
        .encode();
        let key = format!("{PENDING_PREFIX}{}", self.id_hex);
        let shared = self.igfs.shared().clone();
        shared.meta.put(self.connection()?, None, &key, &record)?;
        self.bound = bound;
        Ok(())
    }

    fn remove_pending(&mut self) {
        let key = format!("{PENDING_PREFIX}{}", self.id_hex);
        let shared = self.igfs.shared().clone();
        let _ = shared
            .pool
            .with_connection(|c| shared.meta.remove(c, None, &key));
    }

    /// Takes the append lease on the existing file; returns the file as it is now.
    fn claim_lease(&self) -> Result<FileInfo> {
        let (path, owner, lease_ms) = (
            &self.path,
            self.owner,
            self.igfs.settings().lease.as_millis() as i64,
        );
        self.igfs.transaction("igfs: append", |tx| {
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
            info.lease = Some(Lease {
                owner,
                until_ms: now + lease_ms,
            });
            let claimed = info.clone();
            tx.put_entry(path, &entry)?;
            Ok(claimed)
        })
    }

    /// Gives the lease back if this writer still holds it; returns whether it did.
    fn release_lease(&self) -> bool {
        let (path, owner, id) = (&self.path, self.owner, self.id);
        self.igfs
            .transaction("igfs: release", |tx| {
                let Some(mut entry) = tx.entry(path)? else {
                    return Ok(false);
                };
                let Node::File(info) = &mut entry.node else {
                    return Ok(false);
                };
                if info.id != id || info.lease.map(|l| l.owner) != Some(owner) {
                    return Ok(false);
                }
                info.lease = None;
                tx.put_entry(path, &entry)?;
                Ok(true)
            })
            .unwrap_or(false)
    }

    fn publish(&mut self, last: bool) -> Result<()> {
        let stored = self.guarded(|w| {
            if !w.buf.is_empty() {
                let block = std::mem::take(&mut w.buf);
                let sent = w.send_block(w.index, &block);
                w.buf = block;
                sent?;
            }
            w.drain()
        });
        stored?;
        let parent = path::parent(&self.path)
            .expect("files are below the root")
            .to_string();
        let (path, mode, owner, published) =
            (self.path.clone(), self.mode, self.owner, self.published);
        let info = FileInfo {
            id: self.id,
            size: self.size,
            block_size: self.block_size,
            lease: None,
        };
        let lease_ms = self.igfs.settings().lease.as_millis() as i64;
        let pending_key = format!("{PENDING_PREFIX}{}", self.id_hex);
        let outcome = self.igfs.transaction("igfs: publish", |tx| {
            let mut found = tx.entries(&[path.clone(), parent.clone()])?;
            let mut parent_entry = found.remove(&parent).ok_or_else(|| not_found(&parent))?;
            if parent_entry.children().is_none() {
                return Err(not_a_directory(&parent));
            }
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
            let lease = if last { None } else { Some(Lease { owner, until_ms: now + lease_ms }) };
            tx.put_entry(&path, &Entry { node: Node::File(FileInfo { lease, ..info.clone() }), modified_ms: now })?;
            if current.is_none() {
                parent_entry.children_mut().unwrap().insert(path::name(&path).to_string(), Kind::File);
                parent_entry.modified_ms = now;
                tx.put_entry(&parent, &parent_entry)?;
            }
            if let Some(old) = &replaced {
                trash(tx, old)?;
            }
            if last {
                tx.remove(std::slice::from_ref(&pending_key))?;
            }
            Ok(replaced)
        });
        match outcome {
            Ok(replaced) => {
                self.published = Some(self.size);
                if let Some(old) = replaced {
                    self.igfs.purge(&[old])?;
                }
                Ok(())
            }
            Err(e) => {
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
