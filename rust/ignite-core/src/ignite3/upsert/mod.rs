//! Columns into an Ignite 3 table through the data streamer (`STREAMER_BATCH_SEND`): each row
//! becomes a BinaryTuple in the schema's column order, goes to its partition (the colocation hash
//! of its key, computed here exactly as Ignite computes it, because the server trusts the
//! partition it is given), and partitions' batches are upserted with several requests in flight.
//!
//! Why the streamer and not SQL `INSERT`: it skips the SQL engine (no parse, plan or per-row
//! argument tuple), and its semantics are an upsert, as Ignite 2's put-all: an existing key is
//! overwritten. Each batch is one implicit transaction on its partition: a failed batch stores
//! none of its rows, so the rows acknowledged before a failure are exactly the rows stored.
//!
//! One job a file: the table's schema (`schema.rs`), each given value as its table column holds
//! it (`cells.rs`), given columns matched to table columns and rows laid out (`plan.rs`), the
//! colocation hash (`colocation.rs`), batches sent with several in flight (`stream.rs`), and the
//! wait until written rows are visible to reads (`visibility.rs`).
//!
//! Facts used (Ignite 3.1.0): `ClientStreamerBatchSendRequest`, `ClientSchemasGetRequest` /
//! `ClientTableCommon.writeSchema`, `HashCalculator`, `HashUtils` (murmur3 x64 128 folded to 32
//! bits), `ColocationUtils`, and the Java client's `Math.abs(hash % partitions)`.

mod cells;
mod colocation;
mod plan;
mod schema;
mod stream;
mod visibility;

use crate::error::{Error, Result};
use crate::ignite3::cluster;
use crate::ignite3::connection::Connection;
use crate::kinds::WriteColumn;
use plan::Plan;

/// A column to write: the table column it fills, its values, and optionally which rows are NULL
/// (one byte per row, nonzero = NULL; numpy's mask of a masked array).
#[derive(Debug, Clone, Copy)]
pub struct UpsertColumn<'a> {
    pub name: &'a str,
    pub values: WriteColumn<'a>,
    pub nulls: Option<&'a [u8]>,
}

/// Writes the rows of `columns` into `table` (SQL name) with the data streamer: an upsert, so an
/// existing key's row is replaced (columns not given take their defaults). Every column is
/// checked against the table's schema, and every value against its column, before any row is
/// sent. Returns the rows written. A failure part-way says how many rows were stored: those of
/// the batches acknowledged before it (a batch is stored whole or not at all).
pub fn upsert_columns(
    conn: &mut Connection,
    table: &str,
    columns: &[UpsertColumn],
) -> Result<usize> {
    let info = cluster::table(conn, table)?
        .ok_or_else(|| Error::CacheNotFound(format!("table {table} does not exist")))?;
    let mut schema = schema::latest_schema(conn, info.id)?;
    schema::set_lengths(conn, table, &mut schema)?;
    let partitions =
        cluster::partition_primaries(conn, info.id, cluster::PLACEMENT_WAIT)?.partition_count();
    let plan = Plan::new(&schema, columns)?;
    plan.check_values()?;
    let by_partition = stream::rows_by_partition(&plan, partitions);
    let stored = stream::send_batches(conn, table, info.id, &schema, &plan, &by_partition)?;
    let last_rows: Vec<usize> = by_partition
        .iter()
        .filter_map(|rows| rows.last().map(|&row| row as usize))
        .collect();
    visibility::await_visible(conn, table, &plan, &last_rows)?;
    Ok(stored)
}
