//! `read`: scans and SQL queries, from the request to decoded batches. What is asked for
//! ([`options`]) and how it is encoded ([`requests`]), the binary types the decoder looks up
//! ([`known_types`]), one cursor with its page prefetch ([`cursor`]), and several partitions'
//! cursors in flight on one connection ([`partition_scan`]).

pub mod cursor;
pub mod known_types;
pub mod options;
pub mod partition_scan;
pub mod requests;

pub use cursor::Cursor;
pub use options::{ScanOptions, SqlArg, SqlOptions};
pub use partition_scan::{PartitionBatch, PartitionScan, RawPage};
