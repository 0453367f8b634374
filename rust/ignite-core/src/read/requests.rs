//! The bodies of the read requests, each encoded here once: a scan (op 2000), a cursor's next page
//! (ops 2001, 2005), an SQL fields query (op 2004), and closing a cursor (op 0).

use crate::error::Result;
use crate::net::connection::Connection;
use crate::net::wire::Writer;
use crate::protocol::{op, type_code, SCAN_FLAG_KEEP_BINARY};
use crate::read::options::{SqlArg, SqlOptions};

/// A scan query of one cache: keep-binary, no filter.
#[derive(Debug, Clone, Copy)]
pub struct ScanRequest {
    pub cache_id: i32,
    /// Entries per page.
    pub page_size: i32,
    /// One partition, or -1 for all.
    pub partition: i32,
    /// Only entries held by the node the request goes to.
    pub local: bool,
}

impl ScanRequest {
    pub fn body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.i32(self.cache_id)
            .u8(SCAN_FLAG_KEEP_BINARY)
            .u8(type_code::NULL) // no filter
            .i32(self.page_size)
            .i32(self.partition)
            .bool(self.local);
        w.buf
    }
}

/// The body that asks for a cursor's next page.
pub fn next_page_body(cursor_id: i64) -> Vec<u8> {
    let mut w = Writer::new();
    w.i64(cursor_id);
    w.buf
}

/// An SQL fields query with its arguments; the answer names its columns.
pub fn sql_fields_body(query: &str, args: &[SqlArg], options: &SqlOptions) -> Vec<u8> {
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
    w.buf
}

/// Closes a server-side resource such as a cursor (op 0).
pub fn close_resource(conn: &mut Connection, resource_id: i64) -> Result<()> {
    let mut w = Writer::new();
    w.i64(resource_id);
    conn.request(op::RESOURCE_CLOSE, &w.buf).map(|_| ())
}
