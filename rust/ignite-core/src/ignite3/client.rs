//! What the bindings use for Ignite 3: pooled connections to one cluster (or one node of it), and
//! query results as batches of columns. Pages come from [`SqlCursor`] (the next one requested
//! while this one is decoded); rows go through `ignite3::tuple` into the same column builders as
//! Ignite 2's, so that numpy, Arrow and TensorFlow see one column contract.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use crate::decode::{Batch, ColumnBuilder, DecodeOptions};
use crate::error::{Error, Result};
use crate::ignite3::cluster;
use crate::ignite3::connection::Connection;
use crate::ignite3::sql::{
    execute, execute_update, ColumnMeta, Page, SqlArg, SqlCursor, SqlOptions,
};
use crate::ignite3::sql_type::{SqlType, TupleColumn};
use crate::ignite3::tuple::push_tuple;
use crate::ignite3::upsert::{upsert_columns, UpsertColumn};
use crate::net::pool::ConnectionPool;
use crate::net::stream::ConnectionConfig;

/// `net`'s pool, and the newest hybrid timestamp its connections have seen.
struct Pool {
    connections: ConnectionPool<Connection>,
    /// The newest hybrid timestamp any connection of this client has seen (shared with the
    /// clients made by `for_address`). Every query carries it: a connection that has not seen a
    /// write would otherwise read as of 1.5 s ago and miss it.
    observed: Arc<AtomicI64>,
}

impl Pool {
    fn take(&self) -> Result<Connection> {
        let mut conn = self.connections.take()?;
        conn.observe_timestamp(self.observed.load(Ordering::Acquire));
        Ok(conn)
    }

    fn give_back(&self, conn: Connection) {
        self.observed
            .fetch_max(conn.observable_timestamp(), Ordering::AcqRel);
        self.connections.give_back(conn);
    }

    /// Runs `f` on a pooled connection. A request that failed on an idle connection the node
    /// had closed meanwhile is not retried: the caller sees the error and its kind.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        let mut conn = self.take()?;
        let result = f(&mut conn);
        self.give_back(conn);
        result
    }
}

/// Connections to an Ignite 3 cluster, opened as `config` says (the first address that answers).
pub struct Ignite3Client {
    pool: Arc<Pool>,
    node_name: String,
}

impl Ignite3Client {
    /// Connects once (so that a wrong address or credentials fail here) and keeps the connection.
    pub fn connect(config: ConnectionConfig) -> Result<Ignite3Client> {
        Self::connect_sharing(config, Arc::new(AtomicI64::new(0)))
    }

    fn connect_sharing(
        config: ConnectionConfig,
        observed: Arc<AtomicI64>,
    ) -> Result<Ignite3Client> {
        let pool = Pool {
            connections: ConnectionPool::new(config),
            observed,
        };
        let conn = pool.connections.open()?;
        let node_name = conn.node_name().to_string();
        pool.connections.give_back(conn);
        Ok(Ignite3Client {
            pool: Arc::new(pool),
            node_name,
        })
    }

    /// A client of the node at `address` alone, with this one's settings, that shares what
    /// this one has seen (so that it reads this client's writes): for reading partitions from
    /// their primaries.
    pub fn for_address(&self, address: &str) -> Result<Ignite3Client> {
        let config = ConnectionConfig {
            addresses: vec![address.to_string()],
            ..self.pool.connections.config().clone()
        };
        Self::connect_sharing(config, self.pool.observed.clone())
    }

    /// The name of the node the first connection reached (as partition maps name nodes).
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// Runs `query`; its rows come as batches of columns.
    pub fn query(
        &self,
        query: &str,
        args: &[SqlArg],
        options: &SqlOptions,
        decode: DecodeOptions,
    ) -> Result<QueryBatches> {
        let mut conn = self.pool.take()?;
        let cursor = match execute(&mut conn, query, args, options) {
            Ok(cursor) => cursor,
            Err(e) => {
                self.pool.give_back(conn);
                return Err(e);
            }
        };
        QueryBatches::new(self.pool.clone(), conn, cursor, decode)
    }

    /// Runs a statement without rows (DDL, DML); the rows it changed (-1 for DDL).
    pub fn execute(&self, statement: &str, args: &[SqlArg], options: &SqlOptions) -> Result<i64> {
        self.pool
            .with(|conn| execute_update(conn, statement, args, options))
    }

    /// Writes `columns` into `table` through the data streamer (see [`upsert_columns`]) on a
    /// pooled connection, so that this client's reads see the rows afterwards.
    pub fn upsert(&self, table: &str, columns: &[UpsertColumn]) -> Result<usize> {
        self.pool.with(|conn| upsert_columns(conn, table, columns))
    }

    /// The primary node's name of each partition of `table` (SQL name); `None` where none is
    /// known. Its length is the table's partition count.
    pub fn partition_primaries(&self, table: &str) -> Result<Vec<Option<String>>> {
        self.pool.with(|conn| {
            let info = cluster::table(conn, table)?
                .ok_or_else(|| Error::CacheNotFound(format!("table {table} does not exist")))?;
            Ok(cluster::partition_primaries(conn, info.id, cluster::PLACEMENT_WAIT)?.primaries)
        })
    }
}

/// An open query: its columns, and batches decoded from its pages. Dropping it closes the
/// server's cursor and returns the connection.
pub struct QueryBatches {
    pool: Arc<Pool>,
    /// `None` once the rows are exhausted or an error broke the query.
    conn: Option<Connection>,
    cursor: Option<SqlCursor>,
    columns: Vec<ColumnMeta>,
    types: Vec<TupleColumn>,
    decode: DecodeOptions,
    page: Page,
    /// The next row of `page` to decode.
    next_row: usize,
    /// Whether a batch was given: a result without rows gives one empty batch, typed.
    gave_batch: bool,
}

impl QueryBatches {
    fn new(
        pool: Arc<Pool>,
        conn: Connection,
        cursor: SqlCursor,
        decode: DecodeOptions,
    ) -> Result<QueryBatches> {
        let columns = cursor.columns().to_vec();
        let mut batches = QueryBatches {
            pool,
            conn: Some(conn),
            cursor: Some(cursor),
            columns: Vec::new(),
            types: Vec::new(),
            decode,
            page: Page::default(),
            next_row: 0,
            gave_batch: false,
        };
        // Every column's type is known before any row: an undecodable one fails the query now.
        let types = columns
            .iter()
            .map(|c| {
                let sql_type = SqlType::from_id(c.type_id)?;
                sql_type.value_kind(decode).map(|_| TupleColumn {
                    sql_type,
                    scale: Some(c.scale),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        batches.columns = columns;
        batches.types = types;
        Ok(batches)
    }

    pub fn columns(&self) -> &[ColumnMeta] {
        &self.columns
    }

    /// Decodes up to `max_rows` rows; `None` at the end. A result with no rows gives one empty
    /// batch first, so that its columns and their kinds are seen.
    pub fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        if max_rows == 0 {
            return Err(Error::InvalidArgument("batch_size must be positive".into()));
        }
        let result = self.next_batch_inner(max_rows);
        if result.is_err() {
            self.fail();
        }
        result
    }

    fn next_batch_inner(&mut self, max_rows: usize) -> Result<Option<Batch>> {
        let rows_hint = max_rows.min(1 << 20);
        let mut builders: Vec<ColumnBuilder> = self
            .columns
            .iter()
            .zip(&self.types)
            .map(|(c, t)| {
                let kind = t.sql_type.value_kind(self.decode).ok().flatten();
                ColumnBuilder::with_options(c.name.clone(), rows_hint, self.decode).declare(kind)
            })
            .collect();
        let mut rows = 0;
        while rows < max_rows {
            if self.next_row == self.page.len() && !self.advance()? {
                break;
            }
            let take = (self.page.len() - self.next_row).min(max_rows - rows);
            for i in self.next_row..self.next_row + take {
                push_tuple(self.page.row(i), &self.types, &mut builders)?;
            }
            self.next_row += take;
            rows += take;
        }
        // A result without rows still gives its columns once, with their types (an empty table's
        // schema); after that the end.
        if rows == 0 && (self.gave_batch || self.columns.is_empty()) {
            return Ok(None);
        }
        self.gave_batch = true;
        let columns = self
            .columns
            .iter()
            .zip(builders)
            .map(|(c, b)| Ok((c.name.clone(), b.finish(None)?)))
            .collect::<Result<_>>()?;
        Ok(Some(Batch { columns, len: rows }))
    }

    /// Moves to the next page; false at the end (the connection then goes back to the pool).
    fn advance(&mut self) -> Result<bool> {
        let (Some(conn), Some(cursor)) = (self.conn.as_mut(), self.cursor.as_mut()) else {
            return Ok(false);
        };
        self.next_row = 0;
        if cursor.next_page_into(conn, &mut self.page)? {
            return Ok(true);
        }
        self.finish();
        Ok(false)
    }

    /// Fetches one page and discards it undecoded: `(rows, bytes)`, `None` at the end.
    pub fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>> {
        let result = self.advance();
        match result {
            Ok(true) => {
                let page = (self.page.len(), self.page.frame_len());
                self.next_row = self.page.len();
                Ok(Some(page))
            }
            Ok(false) => Ok(None),
            Err(e) => {
                self.fail();
                Err(e)
            }
        }
    }

    /// The rows are exhausted: the server closed its cursor; the connection is clean.
    fn finish(&mut self) {
        self.cursor = None;
        if let Some(conn) = self.conn.take() {
            self.pool.give_back(conn);
        }
    }

    /// An error: the connection may hold unread answers, so it is not reused.
    fn fail(&mut self) {
        self.cursor = None;
        if let Some(mut conn) = self.conn.take() {
            conn.mark_broken();
            self.pool.give_back(conn); // keeps what it saw, drops the socket
        }
    }
}

impl Drop for QueryBatches {
    /// An abandoned query closes its server cursor (collecting the page in flight), so that the
    /// connection goes back to the pool clean; if that fails the connection is dropped.
    fn drop(&mut self) {
        let (Some(mut conn), Some(cursor)) = (self.conn.take(), self.cursor.take()) else {
            return;
        };
        if cursor.close(&mut conn).is_ok() {
            self.pool.give_back(conn);
        }
    }
}
