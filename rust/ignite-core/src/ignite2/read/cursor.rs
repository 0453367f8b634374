//! Query cursors: scan queries (op 2000 / 2001) and SQL fields queries (op 2004 / 2005). Pages
//! are prefetched one ahead and decoded into columnar batches; an abandoned cursor is closed on
//! the server (op 0). A scan row is two values (key, val); a query row is one value per column.

use std::sync::Arc;

use crate::decode::Batch;
use crate::error::{Error, Result};
use crate::ignite2::connection::Connection;
use crate::ignite2::decode::{Page, RowDecoder};
use crate::ignite2::protocol::{java_string_hash, op};
use crate::ignite2::read::known_types::{ConnectionResolver, KnownTypes};
use crate::ignite2::read::options::{validate_page_size, ScanOptions, SqlArg, SqlOptions};
use crate::ignite2::read::requests::{
    close_resource, next_page_body, sql_fields_body, ScanRequest,
};
use crate::ignite2::wire::Reader;
use crate::net::mux::Pipelined;
use crate::net::pool::ConnectionPool;

pub struct Cursor {
    pool: Arc<ConnectionPool<Connection>>,
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
}

/// Sends the request that opens a cursor and returns the connection and the first page.
fn open_request(
    pool: &ConnectionPool<Connection>,
    op_code: i16,
    body: &[u8],
    what: &str,
) -> Result<(Connection, Vec<u8>, usize)> {
    let mut conn = pool.take()?;
    let mut page = Vec::new();
    match conn
        .send(op_code, body)
        .and_then(|id| conn.receive(id, &mut page))
    {
        Ok(start) => Ok((conn, page, start)),
        Err(e) => {
            pool.give_back(conn);
            Err(match e {
                Error::Server { status, message } => Error::Server {
                    status,
                    message: format!("{what} failed: {message}"),
                },
                other => other,
            })
        }
    }
}

impl Cursor {
    /// Opens a scan query over `cache_name`; rows are (key, val).
    pub fn scan(
        pool: Arc<ConnectionPool<Connection>>,
        metadata: Arc<KnownTypes>,
        cache_name: &str,
        options: &ScanOptions,
    ) -> Result<Cursor> {
        options.validate()?;
        let request = ScanRequest {
            cache_id: java_string_hash(cache_name),
            page_size: options.page_size,
            partition: options.partition,
            local: options.local,
        };
        let (conn, page, start) = open_request(
            &pool,
            op::QUERY_SCAN,
            &request.body(),
            &format!("scan of cache '{cache_name}'"),
        )
        .map_err(|e| match e {
            Error::CacheNotFound(_) => {
                Error::CacheNotFound(format!("cache '{cache_name}' does not exist"))
            }
            other => other,
        })?;
        // cursor id, then the rows as in every page
        let cursor_id = Reader::at(&page, start)?.i64()?;
        let decoder = options.row_decoder(cache_name);
        let mut cursor = Cursor::new(
            pool,
            metadata,
            conn,
            page,
            cursor_id,
            decoder,
            op::QUERY_SCAN_CURSOR_GET_PAGE,
            options.page_size,
        );
        cursor
            .start_page(start + 8)
            .inspect_err(|_| cursor.fail())?;
        Ok(cursor)
    }

    /// Runs an SQL fields query; rows have one value per result column.
    pub fn sql(
        pool: Arc<ConnectionPool<Connection>>,
        metadata: Arc<KnownTypes>,
        query: &str,
        args: &[SqlArg],
        options: &SqlOptions,
    ) -> Result<Cursor> {
        validate_page_size(options.page_size)?;
        if query.trim().is_empty() {
            return Err(Error::InvalidArgument("the SQL query is empty".into()));
        }
        if let Some(why) = args.iter().find_map(SqlArg::invalid) {
            return Err(Error::InvalidArgument(why));
        }
        let (conn, page, start) = open_request(
            &pool,
            op::QUERY_SQL_FIELDS,
            &sql_fields_body(query, args, options),
            "SQL query",
        )?;
        // cursor id | column count | column names, then the rows as in every page
        let mut r = Reader::at(&page, start)?;
        let cursor_id = r.i64()?;
        let n = r.len(1)?;
        let names = (0..n)
            .map(|_| r.string_object().map(|s| s.unwrap_or_default()))
            .collect::<Result<Vec<_>>>()?;
        let rows_at = r.pos();
        let decoder = RowDecoder::for_columns(names, options.decode);
        let mut cursor = Cursor::new(
            pool,
            metadata,
            conn,
            page,
            cursor_id,
            decoder,
            op::QUERY_SQL_FIELDS_CURSOR_GET_PAGE,
            options.page_size,
        );
        cursor.start_page(rows_at).inspect_err(|_| cursor.fail())?;
        Ok(cursor)
    }

    #[allow(clippy::too_many_arguments)]
    fn new(
        pool: Arc<ConnectionPool<Connection>>,
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
            page: Page {
                bytes: page,
                ..Page::default()
            },
            next_page_request: None,
        }
    }

    /// Names of the values of a row: `key`, `val` for scans, the result columns for queries.
    pub fn column_names(&self) -> &[String] {
        &self.decoder.column_names
    }

    /// Takes a received page whose row count starts at `count_pos`, and asks for the next page
    /// at once, before this one is decoded, so that the server works while we decode.
    fn start_page(&mut self, count_pos: usize) -> Result<()> {
        self.page
            .start(count_pos, self.decoder.column_names.len())?;
        self.next_page_request = None;
        if self.page.more {
            let conn = self.conn.as_mut().expect("open cursor has a connection");
            self.next_page_request =
                Some(conn.send(self.page_op, &next_page_body(self.cursor_id))?);
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
        let rows_hint = if within_two_pages {
            max_rows
        } else {
            max_rows.min(promised)
        }
        .min(1 << 20);
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
            let mut types = ConnectionResolver {
                types: &self.metadata,
                conn,
            };
            rows += self.decoder.decode_rows(
                &mut self.page,
                max_rows - rows,
                &mut builders,
                &mut types,
            )?;
        }
        if rows == 0 && self.conn.is_none() {
            return Ok(None);
        }
        Ok(Some(self.decoder.finish(builders, rows)?))
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
        let result = conn
            .receive(request, &mut self.page.bytes)
            .and_then(|start| self.start_page(start));
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
        let Some(mut conn) = self.conn.take() else {
            return;
        };
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
