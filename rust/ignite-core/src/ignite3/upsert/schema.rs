//! A table's latest schema as the streamer needs it: each column's type, key and colocation
//! positions, scale and precision (`SCHEMAS_GET`, with VARCHAR/VARBINARY lengths from SQL's
//! column metadata).

use crate::error::{Error, Result};
use crate::ignite3::codes::{column_type, op};
use crate::ignite3::connection::Connection;
use crate::ignite3::msgpack::MsgReader;
use crate::ignite3::sql::{self, SqlOptions};

/// A column of a table's schema, as `SCHEMAS_GET` describes it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SchemaColumn {
    pub name: String,
    /// A `codes::column_type` id.
    pub type_id: i32,
    /// Position in the primary key; -1 for a value column.
    pub key_index: i32,
    pub nullable: bool,
    /// Position among the colocation columns; -1 when not one.
    pub colocation_index: i32,
    pub scale: i32,
    /// Temporal types: fractional digits; DECIMAL: digits. VARCHAR/VARBINARY: the most
    /// characters/bytes, once [`set_lengths`] has set it (`SCHEMAS_GET` gives 0).
    pub precision: i32,
}

/// A table's latest schema: its version and its columns in storage order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TableSchema {
    pub version: i32,
    pub columns: Vec<SchemaColumn>,
}

/// The latest schema of table `table_id` (`SCHEMAS_GET` without versions).
pub(super) fn latest_schema(conn: &mut Connection, table_id: i32) -> Result<TableSchema> {
    let (buf, start) = conn.request(op::SCHEMAS_GET, |w| {
        w.int(table_id as i64).nil();
    })?;
    let mut r = MsgReader::at(&buf, start)?;
    if r.count()? != 1 {
        return Err(Error::protocol(
            "SCHEMAS_GET did not answer with one schema",
        ));
    }
    let version = r.i32()?;
    if r.try_nil()? {
        return Err(Error::protocol(format!(
            "the server has no schema {version} of table {table_id}"
        )));
    }
    let count = r.count()?;
    let mut columns = Vec::with_capacity(count.min(r.remaining()));
    for i in 0..count {
        let fields = r.count()?;
        if fields < 7 {
            return Err(Error::protocol(format!(
                "schema column {i} has {fields} fields, fewer than the 7 every column has"
            )));
        }
        columns.push(SchemaColumn {
            name: r.str()?.to_string(),
            type_id: r.i32()?,
            key_index: r.i32()?,
            nullable: r.bool()?,
            colocation_index: r.i32()?,
            scale: r.i32()?,
            precision: r.i32()?,
        });
        for _ in 7..fields {
            r.skip()?;
        }
    }
    Ok(TableSchema { version, columns })
}

/// VARCHAR and VARBINARY lengths into `precision`: `SCHEMAS_GET` leaves them out (0), SQL's
/// column metadata has them.
pub(super) fn set_lengths(
    conn: &mut Connection,
    table: &str,
    schema: &mut TableSchema,
) -> Result<()> {
    let query = format!("SELECT * FROM {table} LIMIT 0");
    let cursor = sql::execute(conn, &query, &[], &SqlOptions::default())?;
    for meta in cursor.columns() {
        if let Some(column) = schema.columns.iter_mut().find(|c| c.name == meta.name) {
            if matches!(
                column.type_id,
                column_type::STRING | column_type::BYTE_ARRAY
            ) {
                column.precision = meta.precision;
            }
        }
    }
    cursor.close(conn)
}
