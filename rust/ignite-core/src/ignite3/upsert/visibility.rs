//! The wait until this client's reads see the rows the streamer wrote (Ignite 3.1 acknowledges
//! a batch before its rows are visible at the answer's timestamp).

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::ignite3::connection::Connection;
use crate::ignite3::sql::{self, SqlOptions};
use crate::ignite3::transaction;
use crate::kinds::SqlArg;

use super::cells::Source;
use super::plan::Plan;

/// How long written rows may take to become visible to reads (seen: up to 2 s).
const VISIBILITY_WAIT: Duration = Duration::from_secs(30);

/// Waits until this client's reads see the rows just written. Ignite 3.1 acknowledges a
/// streamer batch before its rows are visible at the hybrid timestamp of the answer: a read
/// right after `put_batches` saw none of 1,000 rows for up to 2 s here. Commits in a partition
/// are ordered, so the last row written to each partition being visible means all of them are:
/// those rows are looked up by key, first in a read-write transaction (which reads the latest
/// commits, and whose commit answer carries the server's clock, so the connection's later reads
/// see them: 0.1-0.4 s a call here), else (a lookup missed, or the transaction failed, say on a
/// lock) by implicit reads until every one is found (an error after [`VISIBILITY_WAIT`]).
pub(super) fn await_visible(
    conn: &mut Connection,
    table: &str,
    plan: &Plan,
    last_rows: &[usize],
) -> Result<()> {
    let mut keys: Vec<&Source> = plan
        .sources
        .iter()
        .flatten()
        .filter(|s| s.sql.key_index >= 0)
        .collect();
    keys.sort_by_key(|s| s.sql.key_index);
    if keys.is_empty() || last_rows.is_empty() {
        return Ok(());
    }
    let quoted = |s: &Source| format!("\"{}\"", s.sql.name.replace('"', "\"\""));
    // One key column: one IN query for all rows. Several: one query per row (a long OR of ANDs
    // sent the planner of a 1 GB node out of memory).
    let lookups: Vec<(String, Vec<SqlArg>)> = if keys.len() == 1 {
        let marks = vec!["?"; last_rows.len()].join(", ");
        let args = last_rows
            .iter()
            .map(|&row| keys[0].checked_cell(row).as_arg())
            .collect();
        vec![(
            format!(
                "SELECT 1 FROM {table} WHERE {} IN ({marks})",
                quoted(keys[0])
            ),
            args,
        )]
    } else {
        let condition = keys
            .iter()
            .map(|k| format!("{} = ?", quoted(k)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let query = format!("SELECT 1 FROM {table} WHERE {condition}");
        last_rows
            .iter()
            .map(|&row| {
                (
                    query.clone(),
                    keys.iter().map(|k| k.checked_cell(row).as_arg()).collect(),
                )
            })
            .collect()
    };
    let expected = |args: &[SqlArg]| if keys.len() == 1 { args.len() } else { 1 };
    let options = SqlOptions {
        page_size: last_rows.len() as i32 + 1,
        ..SqlOptions::default()
    };
    // Lookups that found fewer rows than they look for.
    let missing =
        |conn: &mut Connection, lookups: Vec<(String, Vec<SqlArg>)>, options: &SqlOptions| {
            let mut page = sql::Page::default();
            let mut still = Vec::new();
            for (query, args) in lookups {
                let mut cursor = sql::execute(conn, &query, &args, options)?;
                let mut seen = 0;
                while cursor.next_page_into(conn, &mut page)? {
                    seen += page.len();
                }
                if seen < expected(&args) {
                    still.push((query, args));
                }
            }
            Ok::<_, Error>(still)
        };
    if let Ok(tx) = transaction::begin_read_write(conn) {
        let in_tx = SqlOptions {
            transaction: Some(tx),
            ..options.clone()
        };
        match missing(conn, lookups.clone(), &in_tx) {
            Ok(still) if still.is_empty() && transaction::commit(conn, tx).is_ok() => {
                return Ok(());
            }
            _ => {
                let _ = transaction::rollback(conn, tx);
            }
        }
    }
    let deadline = Instant::now() + VISIBILITY_WAIT;
    let mut pending = lookups;
    loop {
        let still = missing(conn, pending, &options)?;
        if still.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::Timeout(format!(
                "the rows written to {table} were stored, but some were still not visible to \
                 reads after {VISIBILITY_WAIT:?}"
            )));
        }
        pending = still;
        std::thread::sleep(Duration::from_millis(25));
    }
}
