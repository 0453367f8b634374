//! SQL on Ignite 3: `SQL_EXEC` with arguments, the column metadata of the answer, and a cursor
//! whose pages hold their rows as BinaryTuple byte ranges of the one frame they arrived in (no
//! per-row copy), with the next page requested before the caller decodes the current one.
//!
//! The cursor does not hold the connection (so that bindings can keep it without a lifetime): each
//! call takes it, and a call with another connection than the one that ran the query is refused.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::ignite3::codes::{column_type, op};
use crate::ignite3::connection::Connection;
use crate::ignite3::msgpack::MsgReader;
use crate::ignite3::sql_type::SqlType;
use crate::ignite3::tuple::writer::{
    put_date, put_datetime, put_decimal, put_instant, put_time, put_uuid, TupleBuilder,
};
use crate::net::mux::Pipelined;

pub use crate::kinds::SqlArg;

/// How a query runs.
#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// Rows per page (the server's default is 1024).
    pub page_size: i32,
    /// The default schema; `None`: PUBLIC.
    pub schema: Option<String>,
    /// The server cancels the query after this long; 0: no limit.
    pub timeout_ms: i64,
    /// Run in this explicit transaction (its id from [`crate::ignite3::transaction::begin_read_write`]);
    /// `None`: an implicit one.
    pub transaction: Option<i64>,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            page_size: 1024,
            schema: None,
            timeout_ms: 0,
            transaction: None,
        }
    }
}

/// One result column as the server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMeta {
    pub name: String,
    /// A `codes::column_type` id.
    pub type_id: i32,
    pub nullable: bool,
    /// DECIMAL scale.
    pub scale: i32,
    /// DECIMAL precision; fractional-second digits of TIME/TIMESTAMP; VARCHAR/VARBINARY length.
    pub precision: i32,
}

impl ColumnMeta {
    /// The SQL name of the column's type ("BIGINT", "TIMESTAMP WITH LOCAL TIME ZONE", ...).
    pub fn type_name(&self) -> &'static str {
        SqlType::from_id(self.type_id).map_or("unknown type", SqlType::name)
    }
}

/// A page of rows: the frame it arrived in, and where each row's BinaryTuple lies in it.
/// Reuse one `Page` across `next_page_into` calls to keep its buffers.
#[derive(Debug, Default)]
pub struct Page {
    buf: Vec<u8>,
    rows: Vec<Range<usize>>,
}

impl Page {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Row `i`'s BinaryTuple (one element per column).
    pub fn row(&self, i: usize) -> &[u8] {
        &self.buf[self.rows[i].clone()]
    }

    pub fn rows(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.rows.iter().map(|r| &self.buf[r.clone()])
    }

    /// The frame bytes (e.g. for a raw throughput bound).
    pub fn frame_len(&self) -> usize {
        self.buf.len()
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.rows.clear();
    }
}

/// The answer to a query: column metadata, counters, and its pages.
pub struct SqlCursor {
    columns: Vec<ColumnMeta>,
    has_row_set: bool,
    applied: bool,
    affected_rows: i64,
    /// The server-side cursor, while it has pages left.
    resource_id: Option<i64>,
    /// The first page, which came with the `SQL_EXEC` answer.
    first_page: Option<Page>,
    /// The NEXT_PAGE request in flight.
    pending: Option<i64>,
    /// Which connection the query ran on (its address and the node's id).
    connection: (String, [u8; 16]),
}

/// Runs `query` and returns its cursor with the first page read (and the second requested).
pub fn execute(
    conn: &mut Connection,
    query: &str,
    args: &[SqlArg],
    options: &SqlOptions,
) -> Result<SqlCursor> {
    if options.page_size <= 0 {
        return Err(Error::InvalidArgument(format!(
            "page size must be positive, not {}",
            options.page_size
        )));
    }
    if let Some(why) = args.iter().find_map(SqlArg::invalid) {
        return Err(Error::InvalidArgument(why));
    }
    let arg_tuple = args_tuple(args);
    let observable = conn.observable_timestamp();
    let id = conn.send(op::SQL_EXEC, |w| {
        match options.transaction {
            Some(id) => w.int(id),
            None => w.nil(), // an implicit transaction
        };
        w.str_or_nil(options.schema.as_deref());
        w.int(options.page_size as i64);
        w.int(options.timeout_ms);
        w.nil(); // session idle timeout, unused
        w.nil(); // time zone: the server's
        w.int(0).bin(&[0x00]); // no statement properties: an empty tuple
        w.str(query);
        match &arg_tuple {
            None => w.nil(),
            Some(tuple) => w.int(args.len() as i64).bin(tuple),
        };
        w.int(observable);
    })?;
    let mut buf = Vec::new();
    let start = conn.receive(id, &mut buf)?;
    let mut cursor = SqlCursor::from_answer(buf, start, connection_key(conn))?;
    if cursor.has_row_set {
        cursor.request_next(conn)?;
    }
    Ok(cursor)
}

/// Parses an `SQL_EXEC` answer as [`execute`] does, with no connection: `frame` is the message
/// after its length prefix, `start` where the answer's fields begin (after the response header).
/// Gives the columns, the first page (for a query) and whether more pages follow. Public so that
/// the fuzzer (`tests/fuzz_ignite3.rs`) can feed the cursor's own parsing hostile bytes at full
/// speed, without a server.
pub fn parse_exec_answer(
    frame: Vec<u8>,
    start: usize,
) -> Result<(Vec<ColumnMeta>, Option<Page>, bool)> {
    let cursor = SqlCursor::from_answer(frame, start, (String::new(), [0; 16]))?;
    let has_more = cursor.has_more();
    Ok((cursor.columns, cursor.first_page, has_more))
}

/// Parses a `SQL_CURSOR_NEXT_PAGE` answer as [`SqlCursor::next_page_into`] does (see
/// [`parse_exec_answer`] for why it is public): the page, and whether more pages follow.
pub fn parse_next_page(frame: Vec<u8>, start: usize) -> Result<(Page, bool)> {
    let mut page = Page {
        buf: frame,
        rows: Vec::new(),
    };
    let has_more = read_next_page(&mut page, start)?;
    Ok((page, has_more))
}

/// The rows of a NEXT_PAGE answer whose frame `page` holds, from `start`; whether more follow.
fn read_next_page(page: &mut Page, start: usize) -> Result<bool> {
    let mut r = MsgReader::at(&page.buf, start)?;
    read_rows(&mut r, &mut page.rows)?;
    r.bool()
}

/// Arguments as the tuple of (type id, scale, value) triples; `None` when there are none.
fn args_tuple(args: &[SqlArg]) -> Option<Vec<u8>> {
    if args.is_empty() {
        return None;
    }
    let mut b = TupleBuilder::new();
    for arg in args {
        let (type_id, scale) = match arg {
            SqlArg::Null => {
                b.null().null().null();
                continue;
            }
            SqlArg::Bool(_) => (column_type::BOOLEAN, 0),
            SqlArg::Long(_) => (column_type::INT64, 0),
            SqlArg::Double(_) => (column_type::DOUBLE, 0),
            SqlArg::String(_) => (column_type::STRING, 0),
            SqlArg::Bytes(_) => (column_type::BYTE_ARRAY, 0),
            SqlArg::Date(_) => (column_type::DATE, 0),
            SqlArg::Time(_) => (column_type::TIME, 0),
            SqlArg::DateTime { .. } => (column_type::DATETIME, 0),
            SqlArg::Instant { .. } => (column_type::TIMESTAMP, 0),
            SqlArg::Uuid(_) => (column_type::UUID, 0),
            SqlArg::Decimal { scale, .. } => (column_type::DECIMAL, *scale),
        };
        b.int(type_id as i64).int(scale as i64);
        match arg {
            SqlArg::Null => unreachable!("handled above"),
            SqlArg::Bool(v) => b.bool(*v),
            SqlArg::Long(v) => b.int(*v),
            SqlArg::Double(v) => b.double(*v),
            SqlArg::String(v) => b.str(v),
            SqlArg::Bytes(v) => b.bytes(v),
            SqlArg::Date(days) => b.element(|o| put_date(o, *days)),
            SqlArg::Time(nanos) => b.element(|o| put_time(o, *nanos)),
            SqlArg::DateTime { seconds, nanos } => b.element(|o| put_datetime(o, *seconds, *nanos)),
            SqlArg::Instant { seconds, nanos } => b.element(|o| put_instant(o, *seconds, *nanos)),
            SqlArg::Uuid(bytes) => b.element(|o| put_uuid(o, bytes)),
            SqlArg::Decimal { unscaled, scale } => b.element(|o| put_decimal(o, *unscaled, *scale)),
        };
    }
    Some(b.build())
}

fn read_columns(r: &mut MsgReader) -> Result<Vec<ColumnMeta>> {
    let count = r.count()?;
    let mut columns = Vec::with_capacity(count.min(r.remaining()));
    for i in 0..count {
        let fields = r.count()?;
        if fields < 6 {
            return Err(Error::protocol(format!(
                "column {i} is described by {fields} fields, fewer than the 6 every column has"
            )));
        }
        let name = r.str()?.to_string();
        let nullable = r.bool()?;
        let type_id = r.i32()?;
        let scale = r.i32()?;
        let precision = r.i32()?;
        // origin: a flag, then (column name, schema, table) when set; later fields skipped too
        for _ in 5..fields {
            r.skip()?;
        }
        columns.push(ColumnMeta {
            name,
            type_id,
            nullable,
            scale,
            precision,
        });
    }
    Ok(columns)
}

/// Reads `int count` and that many bin rows, recording each row's range.
fn read_rows(r: &mut MsgReader, rows: &mut Vec<Range<usize>>) -> Result<()> {
    let count = r.count()?;
    // Every row takes at least two bytes, so the frame bounds the count.
    if count > r.remaining() / 2 {
        return Err(Error::protocol(format!(
            "a page claims {count} rows but only {} bytes follow",
            r.remaining()
        )));
    }
    rows.reserve(count);
    for _ in 0..count {
        rows.push(r.bin_range()?);
    }
    Ok(())
}

fn connection_key(conn: &Connection) -> (String, [u8; 16]) {
    (conn.address().to_string(), conn.server_info().node_id)
}

impl SqlCursor {
    /// The cursor an `SQL_EXEC` answer describes (its fields from `start` in `buf`), with its
    /// first page when it has a row set.
    fn from_answer(
        buf: Vec<u8>,
        start: usize,
        connection: (String, [u8; 16]),
    ) -> Result<SqlCursor> {
        let mut r = MsgReader::at(&buf, start)?;
        let mut resource_id = if r.try_nil()? { None } else { Some(r.i64()?) };
        let has_row_set = r.bool()?;
        let has_more = r.bool()?;
        let applied = r.bool()?;
        let affected_rows = r.i64()?;
        let columns = read_columns(&mut r)?;
        if !has_more {
            resource_id = None; // the server closed it
        } else if resource_id.is_none() {
            return Err(Error::protocol(
                "the server said more pages follow but gave no cursor id",
            ));
        }
        let first_page = if has_row_set {
            let mut rows = Vec::new();
            read_rows(&mut r, &mut rows)?;
            Some(Page { buf, rows })
        } else {
            None
        };
        Ok(SqlCursor {
            columns,
            has_row_set,
            applied,
            affected_rows,
            resource_id,
            first_page,
            pending: None,
            connection,
        })
    }

    pub fn columns(&self) -> &[ColumnMeta] {
        &self.columns
    }

    /// Whether the statement returns rows (a query) rather than a count (DML) or nothing (DDL).
    pub fn has_row_set(&self) -> bool {
        self.has_row_set
    }

    /// Rows changed by DML; -1 for a query.
    pub fn affected_rows(&self) -> i64 {
        self.affected_rows
    }

    /// Whether a DDL statement changed anything.
    pub fn was_applied(&self) -> bool {
        self.applied
    }

    /// Whether pages remain to be read from the server (beyond the first page, if unread).
    pub fn has_more(&self) -> bool {
        self.resource_id.is_some()
    }

    fn check_connection(&self, conn: &Connection) -> Result<()> {
        if connection_key(conn) != self.connection {
            return Err(Error::InvalidArgument(format!(
                "this cursor belongs to the connection to {}, not to {}",
                self.connection.0,
                conn.address()
            )));
        }
        Ok(())
    }

    /// Sends NEXT_PAGE if the server has pages left and none is in flight.
    fn request_next(&mut self, conn: &mut Connection) -> Result<()> {
        if let (Some(resource), None) = (self.resource_id, self.pending) {
            self.pending = Some(conn.send(op::SQL_CURSOR_NEXT_PAGE, |w| {
                w.int(resource);
            })?);
        }
        Ok(())
    }

    /// Fills `page` with the next page (reusing its buffers) and asks for the one after it
    /// before returning. False when the result is exhausted (`page` is then empty).
    pub fn next_page_into(&mut self, conn: &mut Connection, page: &mut Page) -> Result<bool> {
        self.check_connection(conn)?;
        if let Some(first) = self.first_page.take() {
            *page = first;
            return Ok(true);
        }
        page.clear();
        let Some(id) = self.pending.take() else {
            return Ok(false);
        };
        let start = conn.receive(id, &mut page.buf).inspect_err(|_| {
            self.resource_id = None;
        })?;
        if !read_next_page(page, start)? {
            self.resource_id = None; // the server closed it after the last page
        }
        self.request_next(conn)?;
        Ok(true)
    }

    /// The next page, or `None` when the result is exhausted.
    pub fn next_page(&mut self, conn: &mut Connection) -> Result<Option<Page>> {
        let mut page = Page::default();
        Ok(self.next_page_into(conn, &mut page)?.then_some(page))
    }

    /// Frees the server-side cursor if it still has pages (waiting for the page in flight first).
    pub fn close(mut self, conn: &mut Connection) -> Result<()> {
        self.check_connection(conn)?;
        if let Some(id) = self.pending.take() {
            let mut buf = Vec::new();
            let start = conn.receive(id, &mut buf)?;
            let mut page = Page {
                buf,
                rows: Vec::new(),
            };
            if !read_next_page(&mut page, start)? {
                self.resource_id = None;
            }
        }
        if let Some(resource) = self.resource_id.take() {
            conn.request(op::SQL_CURSOR_CLOSE, |w| {
                w.int(resource);
            })?;
        }
        Ok(())
    }
}

/// Runs a statement that returns no rows (DDL or DML) and gives its affected-row count.
pub fn execute_update(
    conn: &mut Connection,
    statement: &str,
    args: &[SqlArg],
    options: &SqlOptions,
) -> Result<i64> {
    let cursor = execute(conn, statement, args, options)?;
    let affected = cursor.affected_rows();
    cursor.close(conn)?;
    Ok(affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_type_scale_value_triples() {
        let t = args_tuple(&[SqlArg::Long(7), SqlArg::Null, SqlArg::String("a".into())]).unwrap();
        // 9 elements, 1-byte offsets: INT64,0,7 | null x3 | STRING,0,"a"
        assert_eq!(t[0], 0);
        assert_eq!(&t[1..10], &[1, 2, 3, 3, 3, 3, 4, 5, 6]);
        assert_eq!(&t[10..], &[5, 0, 7, 15, 0, b'a']);
        assert!(args_tuple(&[]).is_none());
    }
}
