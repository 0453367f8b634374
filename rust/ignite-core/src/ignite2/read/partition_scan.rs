//! Several partitions scanned at once over one connection. Up to `max_cursors` scan cursors
//! (op 2000, one partition each) are open together, each with its next page already asked for
//! (op 2001), and pages are decoded in the order they arrive, so the server prepares pages for
//! several partitions while the client decodes. Every batch holds rows of one partition and says
//! when that partition is complete: a caller can hand partitions over whole, and read one again
//! elsewhere when a node dies. Partitions small enough to arrive in one page can share a batch
//! (all of them complete), so a cache of many small partitions still gives full batches without
//! copying them together afterwards.
//!
//! Thin-client responses carry their request id and may come in any order; the connection keeps
//! those that arrive while it waits for a specific one (a type lookup during decoding).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::decode::{Batch, ColumnBuilder};
use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::decode::{Page, RowDecoder};
use crate::ignite2::protocol::{java_string_hash, op};
use crate::ignite2::read::known_types::{ConnectionResolver, KnownTypes};
use crate::ignite2::read::options::ScanOptions;
use crate::ignite2::read::requests::{next_page_body, ScanRequest};
use crate::ignite2::wire::Reader;
use crate::net::pool::ConnectionPool;

/// The server's default limit of open cursors per connection is 128
/// (`ClientConnectorConfiguration.maxOpenCursorsPerConnection`); stay well below it.
pub const MAX_CURSORS_PER_CONNECTION: usize = 64;

/// Rows of one partition, or of several whole ones.
#[derive(Debug)]
pub struct PartitionBatch {
    pub partition: i32,
    pub batch: Batch,
    /// This was the partition's last batch.
    pub finished: bool,
    /// Further partitions whose rows all follow in this batch (then `partition` is whole in it
    /// too); empty unless asked for with `whole_partitions`.
    pub merged: Vec<i32>,
}

/// A page fetched and thrown away undecoded (the benchmarks' server-and-wire limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawPage {
    pub partition: i32,
    pub rows: usize,
    pub bytes: usize,
    pub finished: bool,
}

/// One partition's cursor on the shared connection.
struct PartitionCursor {
    /// `None` until the server answers the request that opens it.
    cursor_id: Option<i64>,
    /// The received page, read by the caller in turn.
    page: Page,
    /// The page is the partition's first and none of it has been read yet.
    first_page_unread: bool,
}

impl PartitionCursor {
    /// The partition is whole in its page, and that page is unread and fits in `rows`.
    fn whole_within(&self, rows: usize) -> bool {
        self.first_page_unread && !self.page.more && self.page.rows_left <= rows
    }
}

pub struct PartitionScan {
    pool: Arc<ConnectionPool<Connection>>,
    metadata: Arc<KnownTypes>,
    /// `None` after a failure (the connection is dropped) or once given back.
    conn: Option<Connection>,
    cache_name: String,
    cache_id: i32,
    page_size: i32,
    decoder: RowDecoder,
    max_cursors: usize,
    /// Partitions added but not opened yet.
    queued: VecDeque<i32>,
    /// Open (or opening) cursors by partition.
    cursors: HashMap<i32, PartitionCursor>,
    /// Which partition each unanswered request is for.
    requests: HashMap<i64, i32>,
    /// Partitions with a received page not yet read through, in arrival order.
    ready: VecDeque<i32>,
    /// Where the next response lands before it moves into its cursor (buffers circulate).
    incoming: Vec<u8>,
}

impl PartitionScan {
    /// Takes a connection for a scan of `cache_name` with `options` (its `partition` and `local`
    /// do not apply: partitions come from [`PartitionScan::add`]).
    pub fn new(
        pool: Arc<ConnectionPool<Connection>>,
        metadata: Arc<KnownTypes>,
        cache_name: &str,
        options: &ScanOptions,
        max_cursors: usize,
    ) -> Result<PartitionScan> {
        options.validate()?;
        if !(1..=MAX_CURSORS_PER_CONNECTION).contains(&max_cursors) {
            return Err(Error::InvalidArgument(format!(
                "cursors per connection must be 1 to {MAX_CURSORS_PER_CONNECTION}, got {max_cursors}"
            )));
        }
        let conn = pool.take()?;
        Ok(PartitionScan {
            pool,
            metadata,
            conn: Some(conn),
            cache_name: cache_name.to_string(),
            cache_id: java_string_hash(cache_name),
            page_size: options.page_size,
            decoder: options.row_decoder(cache_name),
            max_cursors,
            queued: VecDeque::new(),
            cursors: HashMap::new(),
            requests: HashMap::new(),
            ready: VecDeque::new(),
            incoming: Vec::new(),
        })
    }

    /// Queues `partition` for reading; its cursor opens as soon as one of `max_cursors` is free.
    pub fn add(&mut self, partition: i32) -> Result<()> {
        if partition < 0 {
            return Err(Error::InvalidArgument(format!(
                "partition must be non-negative, got {partition}"
            )));
        }
        if self.queued.contains(&partition) || self.cursors.contains_key(&partition) {
            return Err(Error::InvalidArgument(format!(
                "partition {partition} is already being read"
            )));
        }
        self.queued.push_back(partition);
        self.guarded(|scan| scan.open_queued())
    }

    /// Partitions added and not yet finished.
    pub fn pending(&self) -> usize {
        self.queued.len() + self.cursors.len()
    }

    /// How many partitions can be added without waiting for a cursor to free up.
    pub fn free_cursors(&self) -> usize {
        self.max_cursors.saturating_sub(self.pending())
    }

    /// Decodes up to `max_rows` rows of one partition, from the first page to arrive; `None`
    /// when every added partition has been read. With `whole_partitions`, a partition that came
    /// whole in one page is followed in the same batch by the next ones to arrive that did too,
    /// while they fit in `max_rows` (see [`PartitionBatch::merged`]).
    pub fn next_batch(
        &mut self,
        max_rows: usize,
        whole_partitions: bool,
    ) -> Result<Option<PartitionBatch>> {
        if max_rows == 0 {
            return Err(Error::InvalidArgument("batch_size must be positive".into()));
        }
        self.guarded(|scan| loop {
            let Some(partition) = scan.next_ready()? else {
                return Ok(None);
            };
            let cursor = &scan.cursors[&partition];
            let merging = whole_partitions && cursor.whole_within(max_rows);
            let rows_hint = if merging {
                max_rows
            } else {
                max_rows.min(cursor.page.rows_left)
            };
            let mut builders = scan.decoder.builders(rows_hint.max(1));
            let mut rows = scan.decode_from(partition, max_rows, &mut builders)?;
            let finished = scan.page_done(partition)?;
            let mut merged = Vec::new();
            while merging && rows < max_rows {
                // the next page to arrive (waiting for it: it is the next thing to read anyway)
                let Some(next) = scan.next_arrival()? else {
                    break;
                };
                if !scan.cursors[&next].whole_within(max_rows - rows) {
                    break;
                }
                rows += scan.decode_from(next, max_rows - rows, &mut builders)?;
                let done = scan.page_done(next)?;
                debug_assert!(done, "a whole partition's page is its last");
                merged.push(next);
            }
            if rows > 0 || finished {
                return Ok(Some(PartitionBatch {
                    partition,
                    batch: scan.decoder.finish(builders, rows)?,
                    finished,
                    merged,
                }));
            }
            // a page whose entries were all of another value type: go on
        })
    }

    /// Decodes up to `max_rows` rows of `partition`'s received page into `builders`.
    fn decode_from(
        &mut self,
        partition: i32,
        max_rows: usize,
        builders: &mut [ColumnBuilder],
    ) -> Result<usize> {
        let cursor = self
            .cursors
            .get_mut(&partition)
            .expect("ready partitions have cursors");
        let conn = self.conn.as_mut().expect("checked by guarded");
        let mut types = ConnectionResolver {
            types: &self.metadata,
            conn,
        };
        cursor.first_page_unread = false;
        self.decoder
            .decode_rows(&mut cursor.page, max_rows, builders, &mut types)
    }

    /// Takes the next page to arrive and throws it away undecoded.
    pub fn next_raw_page(&mut self) -> Result<Option<RawPage>> {
        self.guarded(|scan| {
            let Some(partition) = scan.next_ready()? else {
                return Ok(None);
            };
            let page = &mut scan
                .cursors
                .get_mut(&partition)
                .expect("ready partitions have cursors")
                .page;
            let (rows, bytes) = (page.rows_left, page.bytes.len());
            page.skip_rest();
            let finished = scan.page_done(partition)?;
            Ok(Some(RawPage {
                partition,
                rows,
                bytes,
                finished,
            }))
        })
    }

    /// Runs `f`; after an error the connection's state is unknown, so it is dropped (which also
    /// frees the server's cursors) and the scan ends.
    fn guarded<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        if self.conn.is_none() {
            return Err(Error::Connection(
                "this partition scan failed earlier and its connection is closed".into(),
            ));
        }
        let result = f(self);
        if result.is_err() {
            self.conn = None;
            self.queued.clear();
            self.cursors.clear();
            self.requests.clear();
            self.ready.clear();
        }
        result
    }

    fn conn(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("checked by guarded")
    }

    /// Opens cursors for queued partitions while fewer than `max_cursors` are open; the
    /// requests go out together and are answered in any order.
    fn open_queued(&mut self) -> Result<()> {
        while self.cursors.len() < self.max_cursors {
            let Some(partition) = self.queued.pop_front() else {
                break;
            };
            // not local: the caller picked the node
            let body = ScanRequest {
                cache_id: self.cache_id,
                page_size: self.page_size,
                partition,
                local: false,
            }
            .body();
            let request = self.conn().send(op::QUERY_SCAN, &body)?;
            self.requests.insert(request, partition);
            self.cursors.insert(
                partition,
                PartitionCursor {
                    cursor_id: None,
                    page: Page::default(),
                    first_page_unread: false,
                },
            );
        }
        Ok(())
    }

    /// The partition whose page is to be read next, waiting for one to arrive if none has;
    /// `None` when nothing is asked for, after giving the connection back.
    fn next_ready(&mut self) -> Result<Option<i32>> {
        let next = self.next_arrival()?;
        if next.is_none() {
            debug_assert!(self.cursors.is_empty() && self.queued.is_empty());
            if let Some(conn) = self.conn.take() {
                self.pool.give_back(conn);
            }
        }
        Ok(next)
    }

    /// Like [`Self::next_ready`], but keeps the connection when nothing is asked for (more
    /// partitions may be added).
    fn next_arrival(&mut self) -> Result<Option<i32>> {
        loop {
            if let Some(&partition) = self.ready.front() {
                return Ok(Some(partition));
            }
            if self.requests.is_empty() {
                return Ok(None);
            }
            self.receive_page()?;
        }
    }

    /// Receives the next response to arrive, moves it into its partition's cursor and asks
    /// for that partition's next page at once.
    fn receive_page(&mut self) -> Result<()> {
        let mut incoming = std::mem::take(&mut self.incoming);
        let (request, answer) = self.conn().receive_next(&mut incoming)?;
        let Some(partition) = self.requests.remove(&request) else {
            return Err(Error::protocol(format!(
                "response for request {request}, which no partition of this scan is waiting for"
            )));
        };
        let start = answer.map_err(|e| self.in_context(partition, e))?;
        let cursor = self
            .cursors
            .get_mut(&partition)
            .expect("requested partitions have cursors");
        std::mem::swap(&mut cursor.page.bytes, &mut incoming);
        self.incoming = incoming;
        let mut count_at = start;
        cursor.first_page_unread = cursor.cursor_id.is_none();
        let started = (|| {
            if cursor.cursor_id.is_none() {
                // the open request's answer: the cursor id, then the first page
                cursor.cursor_id = Some(Reader::at(&cursor.page.bytes, start)?.i64()?);
                count_at += 8;
            }
            cursor.page.start(count_at, 2)
        })();
        started.map_err(|e| self.in_context(partition, e))?;
        let cursor = &self.cursors[&partition];
        if cursor.page.more {
            let body = next_page_body(cursor.cursor_id.expect("set above"));
            let next = self.conn().send(op::QUERY_SCAN_CURSOR_GET_PAGE, &body)?;
            self.requests.insert(next, partition);
        }
        self.ready.push_back(partition);
        Ok(())
    }

    /// After reading from `partition`'s page: when the page is read through, takes it off the
    /// ready list, and when it was the last one, frees the cursor (the server already has).
    /// Returns whether the partition is complete.
    fn page_done(&mut self, partition: i32) -> Result<bool> {
        let page = &self.cursors[&partition].page;
        if page.rows_left > 0 {
            return Ok(false);
        }
        page.check_consumed()
            .map_err(|e| self.in_context(partition, e))?;
        self.ready.pop_front();
        if self.cursors[&partition].page.more {
            return Ok(false);
        }
        self.cursors.remove(&partition);
        self.open_queued()?;
        Ok(true)
    }

    fn in_context(&self, partition: i32, error: Error) -> Error {
        let what = format!(
            "scan of partition {partition} of cache '{}'",
            self.cache_name
        );
        match error {
            Error::CacheNotFound(_) => {
                Error::CacheNotFound(format!("cache '{}' does not exist", self.cache_name))
            }
            Error::Server { status, message } => Error::Server {
                status,
                message: format!("{what} failed: {message}"),
            },
            Error::Protocol(message) => Error::Protocol(format!("{what}: {message}")),
            other => other,
        }
    }
}

impl Drop for PartitionScan {
    /// A finished scan has given its connection back. One left early still has cursors open on
    /// the server: closing the socket frees them all at once, so the connection is not reused.
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if self.requests.is_empty() {
                // no page asked for: the server has freed every cursor of this scan
                self.pool.give_back(conn);
            } else {
                conn.mark_broken();
            }
        }
    }
}
