//! Query cursors: scan queries (op 2000 / 2001) and SQL fields queries (op 2004 / 2005). Pages
//! are prefetched one ahead and decoded into columnar batches; an abandoned cursor is closed on
//! the server (op 0). A scan row is two values (key, val); a query row is one value per column.

use std::sync::Arc;

use crate::format::values as binary;
use crate::columns::{Column, ColumnBuilder, DecodeOptions, Selection};
use crate::net::connection::Connection;
use crate::error::{Error, Result};
use crate::format::metadata::TypeResolver;
use crate::read::known_types::{ConnectionResolver, KnownTypes};
use crate::net::pool::ConnectionPool;
use crate::protocol::{java_string_hash, op, type_code, SCAN_FLAG_KEEP_BINARY};
use crate::net::wire::{Reader, Writer};

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Entries per server page.
    pub page_size: i32,
    /// One partition, or -1 for all.
    pub partition: i32,
    /// Only entries held by the node we are connected to.
    pub local: bool,
    pub decode: DecodeOptions,
    /// Decode only these fields of the value objects (dotted paths for nested fields).
    pub fields: Option<Arc<Selection>>,
    /// Read only entries whose value is an object of this type id; others are skipped.
    pub value_type: Option<i32>,
    /// Read value objects of every type into one column set (fields merged by name, plus `_type`).
    pub union_types: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions { page_size: 1024, partition: -1, local: false, decode: DecodeOptions::default(), fields: None, value_type: None, union_types: false }
    }
}

impl ScanOptions {
    pub fn validate(&self) -> Result<()> {
        validate_page_size(self.page_size)?;
        if self.partition < -1 {
            return Err(Error::InvalidArgument(format!(
                "part must be a partition number or -1 for all partitions, got {}",
                self.partition
            )));
        }
        Ok(())
    }
}

fn validate_page_size(page_size: i32) -> Result<()> {
    if page_size <= 0 {
        return Err(Error::InvalidArgument(format!("page_size must be positive, got {page_size}")));
    }
    Ok(())
}

/// An SQL query argument.
#[derive(Debug, Clone)]
pub enum SqlArg {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    String(String),
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// SQL schema the query runs in.
    pub schema: String,
    pub page_size: i32,
    /// 0: no limit.
    pub max_rows: i32,
    pub distributed_joins: bool,
    pub local: bool,
    pub replicated_only: bool,
    pub enforce_join_order: bool,
    pub collocated: bool,
    pub lazy: bool,
    /// 0: no timeout.
    pub timeout_ms: i64,
    pub decode: DecodeOptions,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            schema: "PUBLIC".into(),
            page_size: 1024,
            max_rows: 0,
            distributed_joins: false,
            local: false,
            replicated_only: false,
            enforce_join_order: false,
            collocated: false,
            lazy: false,
            timeout_ms: 0,
            decode: DecodeOptions::default(),
        }
    }
}

/// Decoded rows: one column per name (`key` and `val` for scans), `len` rows each.
#[derive(Debug)]
pub struct Batch {
    pub columns: Vec<(String, Column)>,
    pub len: usize,
}

/// How the rows of a page become a batch: the column names of a row and what to decode.
/// Shared by [`Cursor`] and [`crate::partition_scan::PartitionScan`].
#[derive(Clone)]
pub(crate) struct RowDecoder {
    /// Names of the values of one row.
    pub column_names: Vec<String>,
    pub decode: DecodeOptions,
    /// Scans: the value fields to decode, and the value type to keep.
    pub fields: Option<Arc<Selection>>,
    pub value_type: Option<i32>,
    pub union_types: bool,
}

impl RowDecoder {
    pub fn for_scan(options: &ScanOptions) -> RowDecoder {
        RowDecoder {
            column_names: vec!["key".to_string(), "val".to_string()],
            decode: options.decode,
            fields: options.fields.clone(),
            value_type: options.value_type,
            union_types: options.union_types,
        }
    }

    /// Empty column builders sized for about `rows_hint` rows.
    pub fn builders(&self, rows_hint: usize) -> Vec<ColumnBuilder> {
        self.column_names
            .iter()
            .map(|name| {
                let builder = ColumnBuilder::with_options(name.clone(), rows_hint, self.decode);
                if name == "val" {
                    builder.select(self.fields.clone()).union_of_types(self.union_types)
                } else {
                    builder
                }
            })
            .collect()
    }

    /// Decodes up to `max_rows` rows of `page` into `builders`; returns how many it kept
    /// (entries of another value type are skipped undecoded and not counted).
    pub fn decode_rows(&self, page: &mut Page, max_rows: usize, builders: &mut [ColumnBuilder], types: &mut dyn TypeResolver) -> Result<usize> {
        let mut rows = 0;
        let mut pos = page.pos;
        while page.rows_left > 0 && rows < max_rows {
            page.rows_left -= 1;
            if let Some(wanted) = self.value_type {
                // Skip entries whose value is not an object of the wanted type, undecoded.
                let val_at = binary::value_end(&page.bytes, pos, 0)?;
                if binary::object_type_id(&page.bytes, val_at)? != Some(wanted) {
                    pos = binary::value_end(&page.bytes, val_at, 0)?;
                    continue;
                }
            }
            for builder in builders.iter_mut() {
                pos = builder.push_value(&page.bytes, pos, types, 0)?;
            }
            rows += 1;
        }
        page.pos = pos;
        Ok(rows)
    }

    pub fn finish(&self, builders: Vec<ColumnBuilder>, len: usize) -> Batch {
        let columns = self.column_names.iter().cloned().zip(builders.into_iter().map(|b| b.finish(None))).collect();
        Batch { columns, len }
    }
}

/// A received page of rows and the read position in it.
#[derive(Default)]
pub(crate) struct Page {
    pub bytes: Vec<u8>,
    /// Read position of the next row.
    pub pos: usize,
    pub rows_left: usize,
    /// The server has more pages after this one.
    pub more: bool,
}

impl Page {
    /// Takes the page in `bytes` whose row count starts at `count_pos`, after checking the count
    /// against the page's size (rows of `columns` values each).
    pub fn start(&mut self, count_pos: usize, columns: usize) -> Result<()> {
        let mut r = Reader::at(&self.bytes, count_pos)?;
        let count = r.i32()?;
        if count < 0 {
            return Err(Error::protocol(format!("page with negative row count {count}")));
        }
        // Every value is at least one byte (a null), plus the trailing `more` flag.
        if (count as usize).saturating_mul(columns.max(1)) + 1 > r.remaining() {
            return Err(Error::protocol(format!("page claims {count} rows in {} bytes", r.remaining())));
        }
        self.more = *self.bytes.last().expect("checked non-empty") != 0;
        self.pos = r.pos();
        self.rows_left = count as usize;
        Ok(())
    }

    /// Checks, once every row is read, that only the `more` flag is left.
    pub fn check_consumed(&self) -> Result<()> {
        if self.pos + 1 != self.bytes.len() {
            return Err(Error::protocol(format!(
                "page has {} unexpected bytes after its last row",
                self.bytes.len().saturating_sub(self.pos + 1)
            )));
        }
        Ok(())
    }

    /// Gives up the rest of the page undecoded (the raw page reader).
    pub fn skip_rest(&mut self) {
        self.rows_left = 0;
        self.pos = self.bytes.len().saturating_sub(1);
    }
}

pub struct Cursor {
    pool: Arc<ConnectionPool>,
    metadata: Arc<KnownTypes>,
    /// `None` once the cursor has finished (connection returned) or failed (connection dropped).
    conn: Option<Connection>,
    cursor_id: i64,
    /// The op that fetches the next page.
    page_op: i16,
    decoder: RowDecoder,
    /// Rows per page, as asked of the server.
    page_size: usize,
    page: Page,
    /// The request id of the next page, already asked for.
    next_page_request: Option<i64>,
    wire_bytes: u64,
}

/// Closes a server-side resource such as a cursor (op 0).
fn close_resource(conn: &mut Connection, resource_id: i64) -> Result<()> {
    let mut w = Writer::new();
    w.i64(resource_id);
    conn.request(op::RESOURCE_CLOSE, &w.buf).map(|_| ())
}

/// Sends the request that opens a cursor and returns the connection and the first page.
fn open_request(pool: &ConnectionPool, op_code: i16, body: &[u8], what: &str) -> Result<(Connection, Vec<u8>, usize)> {
    let mut conn = pool.take()?;
    let mut page = Vec::new();
    match conn.send(op_code, body).and_then(|id| conn.receive(id, &mut page)) {
        Ok(start) => Ok((conn, page, start)),
        Err(e) => {
            pool.give_back(conn);
            Err(match e {
                Error::Server { status, message } => Error::Server { status, message: format!("{what} failed: {message}") },
                other => other,
            })
        }
    }
}

impl Cursor {
    /// Opens a scan query over `cache_name`; rows are (key, val).
    pub fn scan(pool: Arc<ConnectionPool>, metadata: Arc<KnownTypes>, cache_name: &str, options: &ScanOptions) -> Result<Cursor> {
        options.validate()?;
        let mut w = Writer::new();
        w.i32(java_string_hash(cache_name))
            .u8(SCAN_FLAG_KEEP_BINARY)
            .u8(type_code::NULL) // no filter
            .i32(options.page_size)
            .i32(options.partition)
            .bool(options.local);
        let (conn, page, start) = open_request(&pool, op::QUERY_SCAN, &w.buf, &format!("scan of cache '{cache_name}'"))
            .map_err(|e| match e {
                Error::CacheNotFound(_) => Error::CacheNotFound(format!("cache '{cache_name}' does not exist")),
                other => other,
            })?;
        // cursor id, then the rows as in every page
        let cursor_id = Reader::at(&page, start)?.i64()?;
        let decoder = RowDecoder::for_scan(options);
        let mut cursor = Cursor::new(pool, metadata, conn, page, cursor_id, decoder, op::QUERY_SCAN_CURSOR_GET_PAGE, options.page_size);
        cursor.start_page(start + 8).inspect_err(|_| cursor.fail())?;
        Ok(cursor)
    }

    /// Runs an SQL fields query; rows have one value per result column.
    pub fn sql(pool: Arc<ConnectionPool>, metadata: Arc<KnownTypes>, query: &str, args: &[SqlArg], options: &SqlOptions) -> Result<Cursor> {
        validate_page_size(options.page_size)?;
        if query.trim().is_empty() {
            return Err(Error::InvalidArgument("the SQL query is empty".into()));
        }
        let mut w = Writer::new();
        w.i32(0) // no cache: the schema says where the query runs
            .u8(0)
            .string_object(Some(&options.schema))
            .i32(options.page_size)
            .i32(options.max_rows)
            .string_object(Some(query))
            .i32(args.len() as i32);
        for arg in args {
            match arg {
                SqlArg::Null => w.u8(type_code::NULL),
                SqlArg::Bool(v) => w.u8(type_code::BOOL).bool(*v),
                SqlArg::Long(v) => w.u8(type_code::LONG).i64(*v),
                SqlArg::Double(v) => w.u8(type_code::DOUBLE).bytes(&v.to_le_bytes()),
                SqlArg::String(v) => w.string_object(Some(v)),
                SqlArg::Bytes(v) => w.byte_array_object(v),
            };
        }
        w.u8(0) // statement type: any
            .bool(options.distributed_joins)
            .bool(options.local)
            .bool(options.replicated_only)
            .bool(options.enforce_join_order)
            .bool(options.collocated)
            .bool(options.lazy)
            .i64(options.timeout_ms)
            .bool(true); // include field names
        let (conn, page, start) = open_request(&pool, op::QUERY_SQL_FIELDS, &w.buf, "SQL query")?;
        // cursor id | column count | column names, then the rows as in every page
        let mut r = Reader::at(&page, start)?;
        let cursor_id = r.i64()?;
        let n = r.len(1)?;
        let names = (0..n).map(|_| r.string_object().map(|s| s.unwrap_or_default())).collect::<Result<Vec<_>>>()?;
        let rows_at = r.pos();
        let decoder = RowDecoder { column_names: names, decode: options.decode, fields: None, value_type: None, union_types: false };
        let mut cursor = Cursor::new(pool, metadata, conn, page, cursor_id, decoder, op::QUERY_SQL_FIELDS_CURSOR_GET_PAGE, options.page_size);
        cursor.start_page(rows_at).inspect_err(|_| cursor.fail())?;
        Ok(cursor)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        pool: Arc<ConnectionPool>,
        metadata: Arc<KnownTypes>,
        conn: Connection,
        page: Vec<u8>,
        cursor_id: i64,
        decoder: RowDecoder,
        page_op: i16,
        page_size: i32,
    ) -> Cursor {
        Cursor {
            pool,
            metadata,
            conn: Some(conn),
            cursor_id,
            page_op,
            decoder,
            page_size: page_size as usize,
            page: Page { bytes: page, ..Page::default() },
            next_page_request: None,
            wire_bytes: 0,
        }
    }

    /// Names of the values of a row: `key`, `val` for scans, the result columns for queries.
    pub fn column_names(&self) -> &[String] {
        &self.decoder.column_names
    }

    /// Bytes of page payload received so far.
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Takes a received page whose row count starts at `count_pos`, and asks for the next page
    /// at once, before this one is decoded, so that the server works while we decode.
    fn start_page(&mut self, count_pos: usize) -> Result<()> {
        self.page.start(count_pos, self.decoder.column_names.len())?;
        self.wire_bytes += self.page.bytes.len() as u64;
        self.next_page_request = None;
        if self.page.more {
            let mut w = Writer::new();
            w.i64(self.cursor_id);
            let conn = self.conn.as_mut().expect("open cursor has a connection");
            self.next_page_request = Some(conn.send(self.page_op, &w.buf)?);
        }
        Ok(())
    }

    /// Moves to the next page. Returns false when the cursor is exhausted (and gives the
    /// connection back to the pool).
    fn advance_page(&mut self) -> Result<bool> {
        self.page.check_consumed()?;
        let Some(request) = self.next_page_request else {
            // The server freed the cursor after the last page.
            if let Some(conn) = self.conn.take() {
                self.pool.give_back(conn);
            }
            return Ok(false);
        };
        let conn = self.conn.as_mut().expect("open cursor has a connection");
        let start = conn.receive(request, &mut self.page.bytes)?;
        self.next_page_request = None;
        self.start_page(start)?;
        Ok(true)
    }

    /// Drops the connection after an error: its stream position is no longer known.
    fn fail(&mut self) {
        self.conn = None;
        self.next_page_request = None;
        self.page.rows_left = 0;
    }

    /// Decodes up to `max_rows` rows into a batch; `None` when the cursor is exhausted.
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
        // Size buffers for the rows this batch will most likely hold: all of them when the rest
        // of this page and the next one cover the batch (growing a buffer copies it and, for
        // large values, maps fresh memory), else what the pages promise (a batch far larger than
        // a page grows as it fills).
        let promised = self.page.rows_left.max(self.page_size);
        let within_two_pages = max_rows <= self.page.rows_left + self.page_size;
        let rows_hint = if within_two_pages { max_rows } else { max_rows.min(promised) }.min(1 << 20);
        let mut builders = self.decoder.builders(rows_hint);
        let mut rows = 0;
        while rows < max_rows && self.conn.is_some() {
            if self.page.rows_left == 0 {
                if !self.advance_page()? {
                    break;
                }
                continue;
            }
            let conn = self.conn.as_mut().expect("checked above");
            let mut types = ConnectionResolver { types: &self.metadata, conn };
            rows += self.decoder.decode_rows(&mut self.page, max_rows - rows, &mut builders, &mut types)?;
        }
        if rows == 0 && self.conn.is_none() {
            return Ok(None);
        }
        Ok(Some(self.decoder.finish(builders, rows)))
    }

    /// Fetches the next page and throws it away undecoded: the server-and-wire limit that the
    /// benchmarks compare the decoder against. Returns (rows, bytes) or `None` at the end.
    pub fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>> {
        if self.conn.is_none() {
            return Ok(None);
        }
        let rows = self.page.rows_left;
        let bytes = self.page.bytes.len();
        let Some(request) = self.next_page_request else {
            self.page.rows_left = 0;
            if let Some(conn) = self.conn.take() {
                self.pool.give_back(conn);
            }
            return Ok(Some((rows, bytes)));
        };
        let conn = self.conn.as_mut().expect("open cursor has a connection");
        let result = conn.receive(request, &mut self.page.bytes).and_then(|start| self.start_page(start));
        if let Err(e) = result {
            self.fail();
            return Err(e);
        }
        Ok(Some((rows, bytes)))
    }
}

impl Drop for Cursor {
    /// An abandoned cursor collects its prefetched page and closes itself on the server, so that
    /// the connection goes back to the pool clean and the server does not keep the cursor.
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
        if cursor_still_open && close_resource(&mut conn, self.cursor_id).is_err() {
            return;
        }
        self.pool.give_back(conn);
    }
}
