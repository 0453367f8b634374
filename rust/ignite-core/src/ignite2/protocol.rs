//! Ignite 2's codes: every number its thin-client protocol gives a meaning to (versions, op
//! codes, status codes, flags, cache settings, transaction modes, type codes) and the
//! Java-compatible hashes that name caches, types, fields and schemas. Other rooms use these names
//! and never spell a code themselves, so one file answers "what does 1054 mean".
//! Everything here is checked against Ignite's sources (see PROTOCOL.md in the shared docs).

use crate::net::stream::ProtocolVersion;

/// Protocol versions we speak, newest first.
pub const VERSION_1_7_0: ProtocolVersion = ProtocolVersion(1, 7, 0);
pub const VERSION_1_4_0: ProtocolVersion = ProtocolVersion(1, 4, 0);
pub const VERSION_1_1_0: ProtocolVersion = ProtocolVersion(1, 1, 0);
/// The oldest version we accept when the server asks us to fall back.
pub const OLDEST_SUPPORTED: ProtocolVersion = ProtocolVersion(1, 1, 0);

pub mod op {
    pub const RESOURCE_CLOSE: i16 = 0;
    pub const CACHE_GET: i16 = 1000;
    pub const CACHE_PUT: i16 = 1001;
    pub const CACHE_GET_ALL: i16 = 1003;
    pub const CACHE_PUT_ALL: i16 = 1004;
    pub const CACHE_REMOVE_KEY: i16 = 1016;
    pub const CACHE_REMOVE_KEYS: i16 = 1018;
    pub const CACHE_GET_NAMES: i16 = 1050;
    pub const CACHE_GET_OR_CREATE_WITH_CONFIGURATION: i16 = 1054;
    pub const CACHE_GET_CONFIGURATION: i16 = 1055;
    pub const CACHE_GET_OR_CREATE_WITH_NAME: i16 = 1052;
    pub const CACHE_PARTITIONS: i16 = 1101;
    pub const QUERY_SCAN: i16 = 2000;
    pub const QUERY_SCAN_CURSOR_GET_PAGE: i16 = 2001;
    pub const QUERY_SQL_FIELDS: i16 = 2004;
    pub const QUERY_SQL_FIELDS_CURSOR_GET_PAGE: i16 = 2005;
    pub const REGISTER_TYPE_NAME: i16 = 3001;
    pub const GET_BINARY_TYPE: i16 = 3002;
    pub const PUT_BINARY_TYPE: i16 = 3003;
    pub const TX_START: i16 = 4000;
    pub const TX_END: i16 = 4001;
    pub const CLUSTER_GROUP_GET_NODE_ENDPOINTS: i16 = 5102;
}

/// Handshake feature bits (protocol 1.7.0) this client implements. Only bits that change no
/// message layout: 3 = the cluster's node endpoints (op 5102).
pub const CLIENT_FEATURES: &[u8] = &[1 << 3];

/// Handshake codes.
pub const HANDSHAKE_CODE: u8 = 1;
pub const THIN_CLIENT_CODE: u8 = 2;

/// Response status codes: 0 is success; the server's message follows any other.
pub mod status {
    pub const SUCCESS: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const INVALID_OP_CODE: i32 = 2;
    pub const FUNCTIONALITY_DISABLED: i32 = 100;
    pub const CACHE_DOES_NOT_EXIST: i32 = 1000;
    pub const CACHE_EXISTS: i32 = 1001;
    pub const TOO_MANY_CURSORS: i32 = 1010;
    pub const RESOURCE_DOES_NOT_EXIST: i32 = 1011;
    pub const SECURITY_VIOLATION: i32 = 1012;
    pub const TX_LIMIT: i32 = 1020;
    pub const TX_NOT_FOUND: i32 = 1021;
    pub const AUTH_FAILED: i32 = 2000;
}

/// Response flags (protocol >= 1.4.0).
pub mod response_flag {
    pub const ERROR: i16 = 1;
    pub const AFFINITY_TOPOLOGY_CHANGED: i16 = 2;
    pub const NOTIFICATION: i16 = 4;
}

/// Scan request flags.
pub const SCAN_FLAG_KEEP_BINARY: u8 = 0x01;

/// Flags of the `cache id | flags` header of key-value requests.
pub mod request_flag {
    /// The operation runs inside the transaction whose id follows the flags.
    pub const TRANSACTIONAL: u8 = 0x02;
}

/// Cache configuration (op 1054): property codes and the values of the settings we use. Mode
/// values are the ordinals of Ignite's Java enums.
pub mod cache_config {
    pub const PROPERTY_NAME: i16 = 0;
    pub const PROPERTY_CACHE_MODE: i16 = 1;
    pub const PROPERTY_ATOMICITY_MODE: i16 = 2;
    pub const PROPERTY_BACKUPS: i16 = 3;
    pub const PROPERTY_WRITE_SYNCHRONIZATION_MODE: i16 = 4;
    pub const PROPERTY_READ_FROM_BACKUP: i16 = 6;

    /// `CacheMode.PARTITIONED`.
    pub const CACHE_MODE_PARTITIONED: i32 = 2;
    /// `CacheAtomicityMode.TRANSACTIONAL` and `ATOMIC`.
    pub const ATOMICITY_TRANSACTIONAL: i32 = 0;
    pub const ATOMICITY_ATOMIC: i32 = 1;
    /// `CacheWriteSynchronizationMode.FULL_SYNC`.
    pub const WRITE_SYNC_FULL: i32 = 0;
}

/// Transaction start (op 4000): concurrency and isolation, ordinals of Ignite's Java enums.
pub mod tx {
    pub const CONCURRENCY_PESSIMISTIC: u8 = 1;
    pub const ISOLATION_REPEATABLE_READ: u8 = 1;
}

/// Flags of a binary object's header.
pub mod object_flag {
    pub const USER_TYPE: u16 = 0x01;
    pub const HAS_SCHEMA: u16 = 0x02;
    pub const HAS_RAW_DATA: u16 = 0x04;
    pub const OFFSET_ONE_BYTE: u16 = 0x08;
    pub const OFFSET_TWO_BYTES: u16 = 0x10;
    pub const COMPACT_FOOTER: u16 = 0x20;
}

/// Binary type codes (PROTOCOL.md, "Type codes").
pub mod type_code {
    pub const BYTE: u8 = 1;
    pub const SHORT: u8 = 2;
    pub const INT: u8 = 3;
    pub const LONG: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const DOUBLE: u8 = 6;
    pub const CHAR: u8 = 7;
    pub const BOOL: u8 = 8;
    pub const STRING: u8 = 9;
    pub const UUID: u8 = 10;
    pub const DATE: u8 = 11;
    pub const BYTE_ARR: u8 = 12;
    pub const SHORT_ARR: u8 = 13;
    pub const INT_ARR: u8 = 14;
    pub const LONG_ARR: u8 = 15;
    pub const FLOAT_ARR: u8 = 16;
    pub const DOUBLE_ARR: u8 = 17;
    pub const CHAR_ARR: u8 = 18;
    pub const BOOL_ARR: u8 = 19;
    pub const STRING_ARR: u8 = 20;
    pub const UUID_ARR: u8 = 21;
    pub const DATE_ARR: u8 = 22;
    pub const OBJ_ARR: u8 = 23;
    pub const COLLECTION: u8 = 24;
    pub const MAP: u8 = 25;
    pub const WRAPPED: u8 = 27;
    pub const ENUM: u8 = 28;
    pub const ENUM_ARR: u8 = 29;
    pub const DECIMAL: u8 = 30;
    pub const DECIMAL_ARR: u8 = 31;
    pub const TIMESTAMP: u8 = 33;
    pub const TIMESTAMP_ARR: u8 = 34;
    pub const TIME: u8 = 36;
    pub const TIME_ARR: u8 = 37;
    pub const BINARY_ENUM: u8 = 38;
    pub const NULL: u8 = 101;
    pub const HANDLE: u8 = 102;
    pub const OBJECT: u8 = 103;
}

/// Human names of type codes, for schemas and error messages.
pub fn type_code_name(code: u8) -> &'static str {
    use type_code::*;
    match code {
        BYTE => "byte",
        SHORT => "short",
        INT => "int",
        LONG => "long",
        FLOAT => "float",
        DOUBLE => "double",
        CHAR => "char",
        BOOL => "bool",
        STRING => "string",
        UUID => "uuid",
        DATE => "date",
        BYTE_ARR => "byte[]",
        SHORT_ARR => "short[]",
        INT_ARR => "int[]",
        LONG_ARR => "long[]",
        FLOAT_ARR => "float[]",
        DOUBLE_ARR => "double[]",
        CHAR_ARR => "char[]",
        BOOL_ARR => "bool[]",
        STRING_ARR => "string[]",
        UUID_ARR => "uuid[]",
        DATE_ARR => "date[]",
        OBJ_ARR => "object[]",
        COLLECTION => "collection",
        MAP => "map",
        WRAPPED => "wrapped object",
        ENUM => "enum",
        ENUM_ARR => "enum[]",
        DECIMAL => "decimal",
        DECIMAL_ARR => "decimal[]",
        TIMESTAMP => "timestamp",
        TIMESTAMP_ARR => "timestamp[]",
        TIME => "time",
        TIME_ARR => "time[]",
        BINARY_ENUM => "binary enum",
        NULL => "null",
        HANDLE => "handle",
        OBJECT => "object",
        _ => "unknown",
    }
}

/// Java's `String.hashCode()` over UTF-16 code units: the cache id of a cache name.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Type and field ids: Java string hash of the lower-cased name (Ignite's default id mapper).
pub fn name_id(name: &str) -> i32 {
    name.chars()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Schema id: FNV-1 over the field ids' little-endian bytes; no fields gives 0.
pub fn schema_id(field_ids: &[i32]) -> i32 {
    if field_ids.is_empty() {
        return 0;
    }
    let mut h: u32 = 0x811C_9DC5;
    for id in field_ids {
        for b in id.to_le_bytes() {
            h ^= b as u32;
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_id_matches_java() {
        // Values of "x".hashCode() computed by the JVM.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(
            java_string_hash("SQL_PUBLIC_KITTEN_CACHE"),
            "SQL_PUBLIC_KITTEN_CACHE"
                .encode_utf16()
                .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
        );
        assert_eq!(java_string_hash("hello"), 99162322);
        // A name outside the BMP hashes over its surrogate pair, as Java does.
        assert_eq!(java_string_hash("\u{1F600}"), 0xD83D * 31 + 0xDE00);
    }

    #[test]
    fn ids_are_lower_case_hashes() {
        assert_eq!(name_id("Pixels"), java_string_hash("pixels"));
        assert_eq!(name_id("NAME"), java_string_hash("name"));
    }

    #[test]
    fn schema_id_fnv1() {
        assert_eq!(schema_id(&[]), 0);
        // One field id of 0: four zero bytes through FNV-1.
        let mut h: u32 = 0x811C_9DC5;
        for _ in 0..4 {
            h = h.wrapping_mul(0x0100_0193);
        }
        assert_eq!(schema_id(&[0]), h as i32);
    }
}
