//! The bulk writer: columns of values (borrowed bytes, e.g. of numpy arrays) become binary
//! objects with compact footers, sent with put-all (op 1004) in chunks of a few MB, several
//! requests in flight. The value type is registered first (op 3001, 3003) so that every reader,
//! Java's included, can read the objects.

use std::collections::VecDeque;

use crate::binary::{PrimKind, HEADER_LEN};
use crate::net::connection::Connection;
use crate::error::{Error, Result};
use crate::protocol::{java_string_hash, name_id, object_flag as flag, op, schema_id, type_code as tc};
use crate::net::wire::Writer;

/// Bytes of entries per put-all request.
const CHUNK_BYTES: usize = 4 << 20;
/// Put-all requests sent before waiting for the first answer.
const IN_FLIGHT: usize = 4;

/// One column to write, over borrowed bytes: `rows` values.
#[derive(Debug, Clone, Copy)]
pub enum WriteColumn<'a> {
    /// One primitive per row, little-endian.
    Scalar { kind: PrimKind, data: &'a [u8] },
    /// An array of `width` primitives per row.
    FixedArray { kind: PrimKind, data: &'a [u8], width: usize },
    /// UTF-8 strings padded with NULs to `width` bytes (numpy `S<width>`).
    Strings { data: &'a [u8], width: usize },
}

impl WriteColumn<'_> {
    pub fn rows(&self) -> usize {
        match *self {
            WriteColumn::Scalar { kind, data } => data.len() / kind.size(),
            // zero-width arrays and strings hold no bytes to count rows by
            WriteColumn::FixedArray { kind, data, width } => data.len().checked_div(kind.size() * width).unwrap_or(0),
            WriteColumn::Strings { data, width } => data.len().checked_div(width).unwrap_or(0),
        }
    }

    /// The most bytes one value of this column takes when written (type code included).
    fn max_encoded_len(&self) -> usize {
        match *self {
            WriteColumn::Scalar { kind, .. } => 1 + kind.size(),
            WriteColumn::FixedArray { kind, width, .. } => 5 + width * kind.size(),
            WriteColumn::Strings { width, .. } => 5 + width,
        }
    }

    fn type_code(&self) -> u8 {
        match *self {
            WriteColumn::Scalar { kind, .. } => kind.code(),
            WriteColumn::FixedArray { kind, .. } => kind.array_code(),
            WriteColumn::Strings { .. } => tc::STRING,
        }
    }

    /// Appends the value of `row` (type code included).
    #[inline]
    fn write(&self, row: usize, out: &mut Vec<u8>) {
        match *self {
            WriteColumn::Scalar { kind, data } => {
                out.push(kind.code());
                let n = kind.size();
                out.extend_from_slice(&data[row * n..(row + 1) * n]);
            }
            WriteColumn::FixedArray { kind, data, width } => {
                out.push(kind.array_code());
                out.extend_from_slice(&(width as i32).to_le_bytes());
                let n = kind.size() * width;
                out.extend_from_slice(&data[row * n..(row + 1) * n]);
            }
            WriteColumn::Strings { data, width } => {
                let cell = &data[row * width..(row + 1) * width];
                let len = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                out.push(tc::STRING);
                out.extend_from_slice(&(len as i32).to_le_bytes());
                out.extend_from_slice(&cell[..len]);
            }
        }
    }

    fn check_strings(&self, what: &str) -> Result<()> {
        if let WriteColumn::Strings { data, width } = *self {
            for row in 0..self.rows() {
                let cell = &data[row * width..(row + 1) * width];
                let len = cell.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
                if std::str::from_utf8(&cell[..len]).is_err() {
                    return Err(Error::InvalidArgument(format!("{what}: row {row} is not valid UTF-8")));
                }
            }
        }
        Ok(())
    }
}

/// What each entry's value is: a plain column, or an object made of named columns.
#[derive(Debug)]
pub enum WriteValues<'a> {
    Plain(WriteColumn<'a>),
    Object { type_name: String, fields: Vec<(String, WriteColumn<'a>)> },
}

/// Writes `keys[i] -> values[i]` for every row into `cache_name`; returns the rows written.
/// Rows go in chunks: a failure part-way leaves the chunks before it written (put-all is not a
/// transaction), which the error message says.
pub fn put_all(conn: &mut Connection, cache_name: &str, keys: &WriteColumn, values: &WriteValues) -> Result<usize> {
    let rows = keys.rows();
    keys.check_strings("key")?;
    match values {
        WriteValues::Plain(column) => {
            check_rows(column, rows, "val")?;
            column.check_strings("val")?;
        }
        WriteValues::Object { type_name, fields } => {
            if fields.is_empty() {
                return Err(Error::InvalidArgument("an object value needs at least one field".into()));
            }
            for (name, column) in fields {
                check_rows(column, rows, name)?;
                column.check_strings(name)?;
            }
            register_type(conn, type_name, fields)?;
        }
    }
    let cache_id = java_string_hash(cache_name);
    let (type_id, schema) = match values {
        WriteValues::Object { type_name, fields } => {
            let ids: Vec<i32> = fields.iter().map(|(n, _)| name_id(n)).collect();
            (name_id(type_name), schema_id(&ids))
        }
        WriteValues::Plain(_) => (0, 0),
    };
    let max_entry = keys.max_encoded_len()
        + match values {
            WriteValues::Plain(column) => column.max_encoded_len(),
            WriteValues::Object { fields, .. } => {
                HEADER_LEN + fields.iter().map(|(_, c)| c.max_encoded_len() + 4).sum::<usize>()
            }
        };
    let mut in_flight: VecDeque<(i64, usize)> = VecDeque::new();
    let mut acknowledged = 0usize;
    let mut row = 0;
    let mut scratch = Vec::new();
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
                keys.write(row, msg);
                match values {
                    WriteValues::Plain(column) => column.write(row, msg),
                    WriteValues::Object { fields, .. } => write_object(msg, &mut scratch, type_id, schema, fields, row),
                }
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
        return Err(Error::InvalidArgument(format!("column '{name}' has {} rows, the keys have {rows}", column.rows())));
    }
    Ok(())
}

/// Waits for the oldest request in flight; returns the rows it acknowledged.
fn wait(conn: &mut Connection, in_flight: &mut VecDeque<(i64, usize)>, done: usize, cache_name: &str) -> Result<usize> {
    let (id, rows) = in_flight.pop_front().expect("a request in flight");
    let mut buf = Vec::new();
    conn.receive(id, &mut buf).map_err(|e| match e {
        Error::CacheNotFound(_) => Error::CacheNotFound(format!("cache '{cache_name}' does not exist")),
        Error::Server { status, message } => Error::Server {
            status,
            message: format!("writing to '{cache_name}' failed after {done} rows were stored: {message}"),
        },
        other => other,
    })?;
    Ok(rows)
}

/// One object: header, field values in order, compact footer of offsets.
fn write_object(out: &mut Vec<u8>, scratch: &mut Vec<u8>, type_id: i32, schema: i32, fields: &[(String, WriteColumn)], row: usize) {
    scratch.clear();
    let mut offsets = [0usize; 64];
    let mut many = Vec::new();
    for (i, (_, column)) in fields.iter().enumerate() {
        let offset = HEADER_LEN + scratch.len();
        if i < offsets.len() { offsets[i] = offset } else { many.push(offset) }
        column.write(row, scratch);
    }
    let data_end = HEADER_LEN + scratch.len();
    let offset_size = if data_end <= 0xFF { 1 } else if data_end <= 0xFFFF { 2 } else { 4 };
    let total = data_end + offset_size * fields.len();
    let mut flags = flag::USER_TYPE | flag::HAS_SCHEMA | flag::COMPACT_FOOTER;
    flags |= match offset_size { 1 => flag::OFFSET_ONE_BYTE, 2 => flag::OFFSET_TWO_BYTES, _ => 0 };
    out.push(tc::OBJECT);
    out.push(1);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&type_id.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes()); // hash code: used for keys only
    out.extend_from_slice(&(total as i32).to_le_bytes());
    out.extend_from_slice(&schema.to_le_bytes());
    out.extend_from_slice(&(data_end as i32).to_le_bytes());
    out.extend_from_slice(scratch);
    for i in 0..fields.len() {
        let offset = if i < offsets.len() { offsets[i] } else { many[i - offsets.len()] };
        match offset_size {
            1 => out.push(offset as u8),
            2 => out.extend_from_slice(&(offset as u16).to_le_bytes()),
            _ => out.extend_from_slice(&(offset as i32).to_le_bytes()),
        }
    }
}

/// Registers the type's name (op 3001) and its fields and schema (op 3003).
fn register_type(conn: &mut Connection, type_name: &str, fields: &[(String, WriteColumn)]) -> Result<()> {
    let type_id = name_id(type_name);
    let mut w = Writer::new();
    w.u8(0).i32(type_id).string_object(Some(type_name)); // platform 0: Java
    conn.request(op::REGISTER_TYPE_NAME, &w.buf)?;
    let ids: Vec<i32> = fields.iter().map(|(n, _)| name_id(n)).collect();
    let mut w = Writer::new();
    w.i32(type_id).string_object(Some(type_name)).string_object(None).i32(fields.len() as i32);
    for ((name, column), id) in fields.iter().zip(&ids) {
        w.string_object(Some(name)).i32(column.type_code() as i32).i32(*id);
    }
    w.bool(false).i32(1).i32(schema_id(&ids)).i32(ids.len() as i32);
    for id in &ids {
        w.i32(*id);
    }
    conn.request(op::PUT_BINARY_TYPE, &w.buf).map_err(|e| match e {
        Error::Server { status, message } => Error::Schema(format!(
            "the cluster refused type '{type_name}' (status {status}): {message}; a type keeps its field types for good"
        )),
        other => other,
    })?;
    Ok(())
}
