//! Every number the Ignite 3 client protocol gives a meaning to that this crate uses: op codes,
//! response flags, column type ids (their names are `sql_type::SqlType`'s), error groups.
//! Sources and layouts: docs/IGNITE3-PROTOCOL.md.

/// The bytes each side sends once before its first frame.
pub const MAGIC: &[u8; 4] = b"IGNI";

/// The only protocol version a 3.x server accepts (`ProtocolVersion.LATEST_VER`).
pub const PROTOCOL_VERSION: (i32, i32, i32) = (3, 0, 0);

/// Client type: general client (`HandshakeUtils.CLIENT_TYPE_GENERAL`).
pub const CLIENT_CODE_GENERAL: i32 = 2;

/// Request op codes (`ClientOp.java`).
pub mod op {
    pub const HEARTBEAT: i32 = 1;
    pub const TABLES_GET: i32 = 3;
    pub const TABLE_GET: i32 = 4;
    pub const SCHEMAS_GET: i32 = 5;
    pub const TX_BEGIN: i32 = 43;
    pub const TX_COMMIT: i32 = 44;
    pub const TX_ROLLBACK: i32 = 45;
    pub const CLUSTER_GET_NODES: i32 = 48;
    pub const SQL_EXEC: i32 = 50;
    pub const SQL_CURSOR_NEXT_PAGE: i32 = 51;
    pub const SQL_CURSOR_CLOSE: i32 = 52;
    pub const PARTITION_ASSIGNMENT_GET: i32 = 53;
    pub const STREAMER_BATCH_SEND: i32 = 62;
    pub const SQL_EXEC_BATCH: i32 = 63;
    pub const PRIMARY_REPLICAS_GET: i32 = 65;
    pub const TABLE_GET_QUALIFIED: i32 = 72;
}

/// Response flag bits (`ResponseFlags.java`).
pub mod flag {
    /// A long (the newest primary-replica start time) follows the flags.
    pub const PARTITION_ASSIGNMENT_CHANGED: i32 = 1;
    /// Not the answer to the request id it carries, but a message about it.
    pub const NOTIFICATION: i32 = 2;
    /// An error record replaces the answer.
    pub const ERROR: i32 = 4;
    /// A request from the server (compute executors only).
    pub const SERVER_OP: i32 = 8;
}

/// Column type ids (`org.apache.ignite.sql.ColumnType`).
pub mod column_type {
    pub const NULL: i32 = 0;
    pub const BOOLEAN: i32 = 1;
    pub const INT8: i32 = 2;
    pub const INT16: i32 = 3;
    pub const INT32: i32 = 4;
    pub const INT64: i32 = 5;
    pub const FLOAT: i32 = 6;
    pub const DOUBLE: i32 = 7;
    pub const DECIMAL: i32 = 8;
    pub const DATE: i32 = 9;
    pub const TIME: i32 = 10;
    /// SQL TIMESTAMP (a local date-time).
    pub const DATETIME: i32 = 11;
    /// SQL TIMESTAMP WITH LOCAL TIME ZONE (an instant).
    pub const TIMESTAMP: i32 = 12;
    pub const UUID: i32 = 13;
    pub const STRING: i32 = 15;
    pub const BYTE_ARRAY: i32 = 16;
    pub const PERIOD: i32 = 17;
    pub const DURATION: i32 = 18;
}

/// Error codes are `group << 16 | code` (`ErrorGroup.registerErrorCode`).
pub mod error_code {
    pub const GROUP_TABLE: i32 = 2;
    pub const GROUP_CLIENT: i32 = 3;
    pub const GROUP_SQL: i32 = 4;
    pub const GROUP_AUTHENTICATION: i32 = 15;

    pub const TABLE_NOT_FOUND: i32 = GROUP_TABLE << 16 | 2;
    pub const STMT_PARSE: i32 = GROUP_SQL << 16 | 3;
    pub const STMT_VALIDATION: i32 = GROUP_SQL << 16 | 4;
    pub const INVALID_CREDENTIALS: i32 = GROUP_AUTHENTICATION << 16 | 2;

    pub fn group(code: i32) -> i32 {
        (code >> 16) & 0xffff
    }

    /// The code as Ignite prints it, e.g. `IGN-SQL-3` (`ErrorGroup.errorMessage`).
    pub fn display(code: i32) -> String {
        const GROUPS: [&str; 25] = [
            "",
            "CMN",
            "TBL",
            "CLIENT",
            "SQL",
            "META",
            "IDX",
            "TX",
            "REP",
            "STORAGE",
            "DISTRZONES",
            "NETWORK",
            "NODECFG",
            "CODEDEPLOY",
            "GC",
            "AUTHENTICATION",
            "COMPUTE",
            "CATALOG",
            "PLACEMENTDRIVER",
            "WORKERS",
            "RECOVERY",
            "EMBEDDED",
            "MARSHALLING",
            "REST",
            "COMMONCFG",
        ];
        let group = group(code);
        let name = GROUPS.get(group as usize).copied().unwrap_or("");
        let name = if name.is_empty() {
            group.to_string()
        } else {
            name.to_string()
        };
        format!("IGN-{name}-{}", code & 0xffff)
    }
}
