//! Every number the Ignite 3 client protocol gives a meaning to that this crate uses: op codes,
//! response flags, column type ids (their names are `sql_type::SqlType`'s), error groups.
//! Sources and layouts: docs/IGNITE3-PROTOCOL.md.

/// Declares each `NAME = value` as `pub const NAME: i32`: every code Ignite 3 sends or reads is
/// a msgpack int that Java holds as an `int`.
macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $value:expr,)*) => {
        $($(#[$doc])* pub const $name: i32 = $value;)*
    };
}

/// The bytes each side sends once before its first frame.
pub const MAGIC: &[u8; 4] = b"IGNI";

/// The only protocol version a 3.x server accepts (`ProtocolVersion.LATEST_VER`).
pub const PROTOCOL_VERSION: (i32, i32, i32) = (3, 0, 0);

/// Client type: general client (`HandshakeUtils.CLIENT_TYPE_GENERAL`).
pub const CLIENT_CODE_GENERAL: i32 = 2;

/// Request op codes (`ClientOp.java`).
pub mod op {
    codes! {
        HEARTBEAT = 1,
        TABLES_GET = 3,
        TABLE_GET = 4,
        SCHEMAS_GET = 5,
        TX_BEGIN = 43,
        TX_COMMIT = 44,
        TX_ROLLBACK = 45,
        CLUSTER_GET_NODES = 48,
        SQL_EXEC = 50,
        SQL_CURSOR_NEXT_PAGE = 51,
        SQL_CURSOR_CLOSE = 52,
        PARTITION_ASSIGNMENT_GET = 53,
        STREAMER_BATCH_SEND = 62,
        SQL_EXEC_BATCH = 63,
        PRIMARY_REPLICAS_GET = 65,
        TABLE_GET_QUALIFIED = 72,
    }
}

/// Response flag bits (`ResponseFlags.java`).
pub mod flag {
    codes! {
        /// A long (the newest primary-replica start time) follows the flags.
        PARTITION_ASSIGNMENT_CHANGED = 1,
        /// Not the answer to the request id it carries, but a message about it.
        NOTIFICATION = 2,
        /// An error record replaces the answer.
        ERROR = 4,
        /// A request from the server (compute executors only).
        SERVER_OP = 8,
    }
}

/// Column type ids (`org.apache.ignite.sql.ColumnType`).
pub mod column_type {
    codes! {
        NULL = 0,
        BOOLEAN = 1,
        INT8 = 2,
        INT16 = 3,
        INT32 = 4,
        INT64 = 5,
        FLOAT = 6,
        DOUBLE = 7,
        DECIMAL = 8,
        DATE = 9,
        TIME = 10,
        /// SQL TIMESTAMP (a local date-time).
        DATETIME = 11,
        /// SQL TIMESTAMP WITH LOCAL TIME ZONE (an instant).
        TIMESTAMP = 12,
        UUID = 13,
        STRING = 15,
        BYTE_ARRAY = 16,
        PERIOD = 17,
        DURATION = 18,
    }
}

/// Error codes are `group << 16 | code` (`ErrorGroup.registerErrorCode`).
pub mod error_code {
    codes! {
        GROUP_TABLE = 2,
        GROUP_CLIENT = 3,
        GROUP_SQL = 4,
        GROUP_AUTHENTICATION = 15,

        TABLE_NOT_FOUND = GROUP_TABLE << 16 | 2,
        STMT_PARSE = GROUP_SQL << 16 | 3,
        STMT_VALIDATION = GROUP_SQL << 16 | 4,
        INVALID_CREDENTIALS = GROUP_AUTHENTICATION << 16 | 2,
    }

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
