//! Reading one file version: random access by offset, with the next blocks requested ahead of a
//! sequential reader so that the network is never idle between blocks.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::entry::{block_key, id_hex, FileInfo};
use super::Shared;
use crate::error::{Error, FsErrorKind, Result};
use crate::ignite2::connection::Connection;
use crate::net::mux::Pipelined;

pub struct FileReader {
    shared: Arc<Shared>,
    path: String,
    info: FileInfo,
    id_hex: String,
    /// Kept for the reader's life: the read-ahead requests in flight belong to it.
    conn: Option<Connection>,
    /// Requested blocks, oldest first.
    requested: VecDeque<(u64, i64)>,
    /// Received blocks: the response frame and where the block's bytes are in it.
    ready: HashMap<u64, (Vec<u8>, std::ops::Range<usize>)>,
    last_block: Option<u64>,
}

impl FileReader {
    pub(crate) fn new(shared: Arc<Shared>, path: String, info: FileInfo) -> FileReader {
        let id_hex = id_hex(&info.id);
        FileReader {
            shared,
            path,
            info,
            id_hex,
            conn: None,
            requested: VecDeque::new(),
            ready: HashMap::new(),
            last_block: None,
        }
    }

    pub fn size(&self) -> u64 {
        self.info.size
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Fills `out` from `offset`; returns the bytes read (fewer only at the end of the file).
    pub fn read_at(&mut self, offset: u64, out: &mut [u8]) -> Result<usize> {
        let block_size = self.info.block_size as u64;
        let mut done = 0usize;
        while done < out.len() {
            let position = offset.saturating_add(done as u64);
            if position >= self.info.size {
                break;
            }
            let index = position / block_size;
            let within = (position % block_size) as usize;
            // `block` checked that the block reaches the file's end or its own, so past `within`.
            let block = self.block(index)?;
            let available = block.len().saturating_sub(within);
            let n = available.min(out.len() - done);
            out[done..done + n].copy_from_slice(&block[within..within + n]);
            done += n;
        }
        Ok(done)
    }

    /// Block `index`, from the read-ahead or fetched now; checked against the size it must have.
    fn block(&mut self, index: u64) -> Result<&[u8]> {
        let sequential = self
            .last_block
            .is_none_or(|last| index == last || index == last + 1);
        self.last_block = Some(index);
        if !self.ready.contains_key(&index) {
            if !self.requested.iter().any(|(b, _)| *b == index) {
                self.request(index)?;
            }
            while let Some((b, id)) = self.requested.pop_front() {
                let value = self.receive(b, id)?;
                self.ready.insert(b, value);
                if b == index {
                    break;
                }
            }
        }
        if sequential {
            let last = self.info.block_count().saturating_sub(1);
            let ahead = self.shared.settings.read_ahead as u64;
            for b in index + 1..=(index + ahead).min(last) {
                if !self.ready.contains_key(&b) && !self.requested.iter().any(|(r, _)| *r == b) {
                    self.request(b)?;
                }
            }
        }
        // Keep the current block (small reads come back to it) and those ahead of it.
        self.ready.retain(|b, _| *b >= index);
        // Never missing: the loop above stopped once it had stored block `index`.
        let (frame, range) = self.ready.get(&index).ok_or_else(|| {
            Error::Connection(format!("block {index} of '{}' was not received", self.path))
        })?;
        let block = frame.get(range.clone()).ok_or_else(|| {
            Error::protocol(format!("block {index} lies outside its response frame"))
        })?;
        let expected = (self.info.size - index * self.info.block_size as u64)
            .min(self.info.block_size as u64) as usize;
        if block.len() < expected {
            return Err(Error::fs(
                FsErrorKind::Corrupt,
                format!(
                    "block {index} of '{}' holds {} bytes, the file needs {expected}",
                    self.path,
                    block.len()
                ),
            ));
        }
        Ok(block)
    }

    fn connection(&mut self) -> Result<&mut Connection> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.shared.pool.take()?,
        };
        Ok(self.conn.insert(conn))
    }

    fn request(&mut self, index: u64) -> Result<()> {
        let key = block_key(&self.id_hex, index);
        let shared = self.shared.clone();
        let id = shared.data.send_get(self.connection()?, None, &key)?;
        self.requested.push_back((index, id));
        Ok(())
    }

    fn receive(
        &mut self,
        index: u64,
        request_id: i64,
    ) -> Result<(Vec<u8>, std::ops::Range<usize>)> {
        let key = block_key(&self.id_hex, index);
        let shared = self.shared.clone();
        let Some(conn) = self.conn.as_mut() else {
            // Never: the connection is only dropped together with the requests on it.
            self.requested.clear();
            return Err(Error::Connection(format!(
                "the connection reading '{}' was lost",
                self.path
            )));
        };
        match shared.data.receive_value_in_frame(conn, request_id, &key) {
            Ok(Some(block)) => Ok(block),
            Ok(None) => Err(Error::fs(
                FsErrorKind::Conflict,
                format!(
                    "'{}' was deleted or replaced while being read (block {index} is gone)",
                    self.path
                ),
            )),
            Err(e) => {
                self.requested.clear();
                self.conn = None; // its answers are out of step now
                Err(e)
            }
        }
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        // Collect the read-ahead answers so the connection can be reused; give up on error.
        if let Some(mut conn) = self.conn.take() {
            let mut buf = Vec::new();
            for (_, id) in self.requested.drain(..) {
                if conn.receive(id, &mut buf).is_err() {
                    return;
                }
            }
            self.shared.pool.give_back(conn);
        }
    }
}
