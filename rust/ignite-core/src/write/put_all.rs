//! The bulk writer: rows of columns sent with put-all (op 1004) in chunks of a few MB, several
//! requests in flight, each chunk encoded straight into its message by [`EntryEncoder`]. An object
//! value's type is registered first ([`super::binary_type`]) so that every reader, Java's
//! included, can read the objects.

use std::collections::VecDeque;

use crate::error::{Error, Result};
use crate::net::connection::Connection;
use crate::protocol::{java_string_hash, op};
use crate::write::binary_type::register;
use crate::write::entries::{EntryEncoder, WriteColumn, WriteValues};

/// Bytes of entries per put-all request.
const CHUNK_BYTES: usize = 4 << 20;
/// Put-all requests sent before waiting for the first answer.
const IN_FLIGHT: usize = 4;

/// Writes `keys[i] -> values[i]` for every row into `cache_name`; returns the rows written.
/// Rows go in chunks: a failure part-way leaves the chunks before it written (put-all is not a
/// transaction), which the error message says.
pub fn put_all(
    conn: &mut Connection,
    cache_name: &str,
    keys: &WriteColumn,
    values: &WriteValues,
) -> Result<usize> {
    let rows = keys.rows();
    keys.check_strings("key")?;
    match values {
        WriteValues::Plain(column) => {
            check_rows(column, rows, "val")?;
            column.check_strings("val")?;
        }
        WriteValues::Object { type_name, fields } => {
            if fields.is_empty() {
                return Err(Error::InvalidArgument(
                    "an object value needs at least one field".into(),
                ));
            }
            for (name, column) in fields {
                check_rows(column, rows, name)?;
                column.check_strings(name)?;
            }
            register(conn, type_name, fields)?;
        }
    }
    let cache_id = java_string_hash(cache_name);
    let mut entries = EntryEncoder::new(keys, values);
    let max_entry = entries.max_entry_len();
    let mut in_flight: VecDeque<(i64, usize)> = VecDeque::new();
    let mut acknowledged = 0usize;
    let mut row = 0;
    while row < rows {
        if in_flight.len() == IN_FLIGHT {
            acknowledged += wait(conn, &mut in_flight, acknowledged, cache_name)?;
        }
        let first = row;
        // Entries are encoded straight into the outgoing message: values are copied once.
        let id = conn.send_with(op::CACHE_PUT_ALL, 9 + CHUNK_BYTES + max_entry, |msg| {
            let start = msg.len();
            msg.extend_from_slice(&cache_id.to_le_bytes());
            msg.push(0); // flags
            msg.extend_from_slice(&0i32.to_le_bytes()); // count, patched below
            while row < rows && (row == first || msg.len() - start < CHUNK_BYTES) {
                entries.encode_key(row, msg);
                entries.encode_value(row, msg);
                row += 1;
            }
            let count = (row - first) as i32;
            msg[start + 5..start + 9].copy_from_slice(&count.to_le_bytes());
        })?;
        in_flight.push_back((id, row - first));
    }
    while !in_flight.is_empty() {
        acknowledged += wait(conn, &mut in_flight, acknowledged, cache_name)?;
    }
    Ok(acknowledged)
}

fn check_rows(column: &WriteColumn, rows: usize, name: &str) -> Result<()> {
    if column.rows() != rows {
        return Err(Error::InvalidArgument(format!(
            "column '{name}' has {} rows, the keys have {rows}",
            column.rows()
        )));
    }
    Ok(())
}

/// Waits for the oldest request in flight; returns the rows it acknowledged.
fn wait(
    conn: &mut Connection,
    in_flight: &mut VecDeque<(i64, usize)>,
    done: usize,
    cache_name: &str,
) -> Result<usize> {
    let (id, rows) = in_flight.pop_front().expect("a request in flight");
    let mut buf = Vec::new();
    conn.receive(id, &mut buf).map_err(|e| match e {
        Error::CacheNotFound(_) => {
            Error::CacheNotFound(format!("cache '{cache_name}' does not exist"))
        }
        Error::Server { status, message } => Error::Server {
            status,
            message: format!(
                "writing to '{cache_name}' failed after {done} rows were stored: {message}"
            ),
        },
        other => other,
    })?;
    Ok(rows)
}
