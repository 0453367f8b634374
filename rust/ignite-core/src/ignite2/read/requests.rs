//! The bodies of the read requests, each encoded here once: a scan (op 2000), a cursor's next page
//! (ops 2001, 2005), an SQL fields query (op 2004), and closing a cursor (op 0).

use crate::calendar::MILLIS_PER_DAY;
use crate::error::Result;
use crate::ignite2::connection::Connection;
use crate::ignite2::protocol::{op, type_code, SCAN_FLAG_KEEP_BINARY};
use crate::ignite2::read::options::{SqlArg, SqlOptions};
use crate::ignite2::wire::Writer;

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
            // Ignite 2 keeps milliseconds in DATE and TIME, and nanoseconds in TIMESTAMP as
            // milliseconds plus the nanoseconds within the millisecond.
            SqlArg::Date(days) => w.u8(type_code::DATE).i64(days * MILLIS_PER_DAY),
            SqlArg::Time(nanos) => w.u8(type_code::TIME).i64(nanos.div_euclid(1_000_000)),
            SqlArg::DateTime { seconds, nanos } | SqlArg::Instant { seconds, nanos } => w
                .u8(type_code::TIMESTAMP)
                .i64(seconds * 1000 + (*nanos / 1_000_000) as i64)
                .i32(nanos % 1_000_000),
            SqlArg::Uuid(bytes) => {
                let (msb, lsb) = bytes.split_at(8);
                w.u8(type_code::UUID)
                    .i64(i64::from_be_bytes(msb.try_into().unwrap()))
                    .i64(i64::from_be_bytes(lsb.try_into().unwrap()))
            }
            SqlArg::Decimal { unscaled, scale } => {
                let magnitude = sign_and_magnitude(*unscaled);
                w.u8(type_code::DECIMAL)
                    .i32(*scale)
                    .i32(magnitude.len() as i32)
                    .bytes(&magnitude)
            }
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

/// An Ignite 2 decimal's unscaled value: the magnitude's big-endian bytes (as few as hold it,
/// with the top bit free) and the sign in that top bit (`BinaryUtils.doWriteDecimal`).
fn sign_and_magnitude(unscaled: i128) -> Vec<u8> {
    let bytes = unscaled.unsigned_abs().to_be_bytes();
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(15);
    let mut magnitude = if bytes[first] & 0x80 != 0 {
        [&[0u8][..], &bytes[first..]].concat()
    } else {
        bytes[first..].to_vec()
    };
    if unscaled < 0 {
        magnitude[0] |= 0x80;
    }
    magnitude
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignite2::format::decimal::read_decimal;
    use crate::ignite2::wire::Reader;

    /// The bytes of one argument as `sql_fields_body` writes it.
    fn encoded(arg: SqlArg) -> Vec<u8> {
        let options = SqlOptions::default();
        let without = sql_fields_body("SELECT ?", &[], &options);
        let with = sql_fields_body("SELECT ?", &[arg], &options);
        // after the arguments: statement type, six flags, the timeout, include field names
        const TAIL: usize = 1 + 6 + 8 + 1;
        with[without.len() - TAIL..with.len() - TAIL].to_vec()
    }

    #[test]
    fn temporal_uuid_and_decimal_arguments_in_ignite2_format() {
        let ms = 1_709_164_800_000i64; // 2024-02-29
        let mut date = vec![type_code::DATE];
        date.extend(ms.to_le_bytes());
        assert_eq!(encoded(SqlArg::Date(19_782)), date);
        let mut time = vec![type_code::TIME];
        time.extend(45_907_123i64.to_le_bytes());
        assert_eq!(encoded(SqlArg::Time(45_907_123_456_789)), time);
        let mut stamp = vec![type_code::TIMESTAMP];
        stamp.extend((-1001i64).to_le_bytes());
        stamp.extend(500_001i32.to_le_bytes());
        let instant = SqlArg::Instant {
            seconds: -2,
            nanos: 999_500_001,
        };
        assert_eq!(encoded(instant), stamp);
        let mut id = vec![type_code::UUID];
        id.extend(0x0102_0304_0506_0708i64.to_le_bytes());
        id.extend((-1i64).to_le_bytes());
        let canonical = [
            1, 2, 3, 4, 5, 6, 7, 8, 255, 255, 255, 255, 255, 255, 255, 255,
        ];
        assert_eq!(encoded(SqlArg::Uuid(canonical)), id);
        for (unscaled, scale, text) in [
            (-1235i128, 2, "-12.35"),
            (128, 0, "128"),
            (0, 3, "0.000"),
            (i128::MIN + 1, 0, "-170141183460469231731687303715884105727"),
        ] {
            let bytes = encoded(SqlArg::Decimal { unscaled, scale });
            assert_eq!(bytes[0], type_code::DECIMAL);
            let mut r = Reader::at(&bytes, 1).unwrap();
            assert_eq!(read_decimal(&mut r).unwrap().to_decimal_string(), text);
        }
    }
}
