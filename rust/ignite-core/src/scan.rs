//! Scan queries (op 2000 / 2001): a cursor over a cache whose pages are prefetched one ahead and
//! decoded into columnar batches. An abandoned cursor is closed on the server (op 0).

use std::sync::Arc;

use crate::columns::{Column, ColumnBuilder, DecodeOptions};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::metadata::{ConnectionResolver, MetadataCache};
use crate::pool::ConnectionPool;
use crate::protocol::{java_string_hash, op, SCAN_FLAG_KEEP_BINARY, type_code};
use crate::wire::{Reader, Writer};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Entries per server page.
    pub page_size: i32,
    /// One partition, or -1 for all.
    pub partition: i32,
    /// Only entries held by the node we are connected to.
    pub local: bool,
    pub decode: DecodeOptions,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { page_size: 1024, partition: -1, local: false, decode: DecodeOptions::default() }
    }
}

impl ScanOptions {
    pub fn validate(&self) -> Result<()> {
        if self.page_size <= 0 {
            return Err(Error::InvalidArgument(format!("page_size must be positive, got {}", self.page_size)));
        }
        if self.partition < -1 {
            return Err(Error::InvalidArgument(format!(
                "part must be a partition number or -1 for all partitions, got {}",
                self.partition
            )));
        }
        Ok(())
    }
}

/// Decoded rows: the key column and the value column, `len` rows each.
#[derive(Debug)]
pub struct Batch {
    pub key: Column,
    pub val: Column,
    pub len: usize,
}

pub struct Scan {
    pool: Arc<ConnectionPool>,
    metadata: Arc<MetadataCache>,
    cache_name: String,
    /// `None` once the scan has finished (connection returned) or failed (connection dropped).
    conn: Option<Connection>,
    cursor_id: i64,
    /// Entries per page, as asked of the server.
    page_size: usize,
    decode: DecodeOptions,
    page: Vec<u8>,
    /// Read position of the next entry in `page`.
    pos: usize,
    rows_left_in_page: usize,
    /// The request id of the next page, already asked for.
    next_page_request: Option<i64>,
    wire_bytes: u64,
}

impl Scan {
    pub fn open(
        pool: Arc<ConnectionPool>,
        metadata: Arc<MetadataCache>,
        cache_name: &str,
        options: &ScanOptions,
    ) -> Result<Scan> {
        options.validate()?;
        let mut conn = pool.take()?;
        let mut w = Writer::new();
        w.i32(java_string_hash(cache_name))
            .u8(SCAN_FLAG_KEEP_BINARY)
            .u8(type_code::NULL) // no filter
            .i32(options.page_size)
            .i32(options.partition)
            .bool(options.local);
        let mut page = Vec::new();
        let first = conn
            .send(op::QUERY_SCAN, &w.buf)
            .and_then(|id| conn.receive(id, &mut page));
        let start = match first {
            Ok(start) => start,
            Err(e) => {
                pool.give_back(conn);
                return Err(match e {
                    Error::CacheNotFound(_) => Error::CacheNotFound(format!("cache '{cache_name}' does not exist")),
                    Error::Server { status, message } => Error::Server {
                        status,
                        message: format!("scan of cache '{cache_name}' failed: {message}"),
                    },
                    other => other,
                });
            }
        };
        let cursor_id = Reader::at(&page, start)?.i64()?;
        let mut scan = Scan {
            pool,
            metadata,
            cache_name: cache_name.to_string(),
            conn: Some(conn),
            cursor_id,
            page_size: options.page_size as usize,
            decode: options.decode,
            page,
            pos: 0,
            rows_left_in_page: 0,
            next_page_request: None,
            wire_bytes: 0,
        };
        scan.start_page(start + 8).inspect_err(|_| scan.fail())?;
        Ok(scan)
    }

    pub fn cache_name(&self) -> &str {
        &self.cache_name
    }

    /// Bytes of page payload received so far.
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Takes a received page whose entry count starts at `count_pos`, and asks for the next page
    /// at once, before this one is decoded, so that the server works while we decode.
    fn start_page(&mut self, count_pos: usize) -> Result<()> {
        let mut r = Reader::at(&self.page, count_pos)?;
        let count = r.i32()?;
        if count < 0 {
            return Err(Error::protocol(format!("scan page with negative entry count {count}")));
        }
        // Every entry is at least two bytes (two nulls), plus the trailing `more` flag.
        if (count as usize).saturating_mul(2) + 1 > r.remaining() {
            return Err(Error::protocol(format!("scan page claims {count} entries in {} bytes", r.remaining())));
        }
        let more = *self.page.last().expect("checked non-empty") != 0;
        self.pos = r.pos();
        self.rows_left_in_page = count as usize;
        self.wire_bytes += self.page.len() as u64;
        self.next_page_request = None;
        if more {
            let mut w = Writer::new();
            w.i64(self.cursor_id);
            let conn = self.conn.as_mut().expect("open scan has a connection");
            self.next_page_request = Some(conn.send(op::QUERY_SCAN_CURSOR_GET_PAGE, &w.buf)?);
        }
        Ok(())
    }

    /// Moves to the next page. Returns false when the cursor is exhausted (and gives the
    /// connection back to the pool).
    fn advance_page(&mut self) -> Result<bool> {
        if self.pos + 1 != self.page.len() {
            return Err(Error::protocol(format!(
                "scan page has {} unexpected bytes after its last entry",
                self.page.len().saturating_sub(self.pos + 1)
            )));
        }
        let Some(request) = self.next_page_request else {
            // The server freed the cursor after the last page.
            if let Some(conn) = self.conn.take() {
                self.pool.give_back(conn);
            }
            return Ok(false);
        };
        let conn = self.conn.as_mut().expect("open scan has a connection");
        let start = conn.receive(request, &mut self.page)?;
        self.next_page_request = None;
        self.start_page(start)?;
        Ok(true)
    }

    /// Drops the connection after an error: its stream position is no longer known.
    fn fail(&mut self) {
        self.conn = None;
        self.next_page_request = None;
        self.rows_left_in_page = 0;
    }

    pub fn is_finished(&self) -> bool {
        self.conn.is_none()
    }

    /// Decodes up to `max_rows` entries into a batch; `None` when the scan is exhausted.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        let result = self.next_batch_inner(max_rows);
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn next_batch_inner(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        if max_rows == 0 {
            return Err(Error::InvalidArgument("batch_size must be positive".into()));
        }
        // Size buffers for the rows this batch will most likely hold.
        let rows_hint = max_rows.min(self.rows_left_in_page.max(self.page_size)).min(1 << 20);
        let mut key = ColumnBuilder::with_options("key", rows_hint, self.decode);
        let mut val = ColumnBuilder::with_options("val", rows_hint, self.decode);
        let mut rows = 0;
        while rows < max_rows && self.conn.is_some() {
            if self.rows_left_in_page == 0 {
                if !self.advance_page()? {
                    break;
                }
                continue;
            }
            let conn = self.conn.as_mut().expect("checked above");
            let mut types = ConnectionResolver { cache: &self.metadata, conn };
            let take = self.rows_left_in_page.min(max_rows - rows);
            let mut pos = self.pos;
            for _ in 0..take {
                pos = key.push_value(&self.page, pos, &mut types, 0)?;
                pos = val.push_value(&self.page, pos, &mut types, 0)?;
            }
            self.pos = pos;
            self.rows_left_in_page -= take;
            rows += take;
        }
        if rows == 0 {
            return Ok(None);
        }
        Ok(Some(Batch { key: key.finish(None), val: val.finish(None), len: rows }))
    }

    /// Fetches the next page and throws it away undecoded: the server-and-wire limit that the
    /// benchmarks compare the decoder against. Returns (entries, bytes) or `None` at the end.
    pub fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>> {
        if self.conn.is_none() {
            return Ok(None);
        }
        let entries = self.rows_left_in_page;
        let bytes = self.page.len();
        let Some(request) = self.next_page_request else {
            self.rows_left_in_page = 0;
            if let Some(conn) = self.conn.take() {
                self.pool.give_back(conn);
            }
            return Ok(Some((entries, bytes)));
        };
        let conn = self.conn.as_mut().expect("open scan has a connection");
        let result = conn.receive(request, &mut self.page).and_then(|start| self.start_page(start));
        if let Err(e) = result {
            self.fail();
            return Err(e);
        }
        Ok(Some((entries, bytes)))
    }
}

impl Drop for Scan {
    /// An abandoned scan collects its prefetched page and closes its cursor, so that the
    /// connection goes back to the pool clean and the server does not keep the cursor.
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let Some(request) = self.next_page_request.take() else {
            // Last page already received: the server has freed the cursor.
            self.pool.give_back(conn);
            return;
        };
        let mut scratch = Vec::new();
        let cursor_still_open = match conn.receive(request, &mut scratch) {
            Ok(start) => scratch.last().copied().unwrap_or(0) != 0 && start < scratch.len(),
            Err(_) => return, // broken connection: dropping it frees the cursor
        };
        if cursor_still_open && conn.close_resource(self.cursor_id).is_err() {
            return;
        }
        self.pool.give_back(conn);
    }
}
