//! What a scan or an SQL query is asked for: page size, partition, fields and types to decode;
//! the query and its arguments. Checked before anything is sent.

use std::sync::Arc;

use crate::decode::{DecodeOptions, Selection};
use crate::error::{Error, Result};
use crate::ignite2::decode::RowDecoder;
pub use crate::kinds::SqlArg;

#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Entries per server page.
    pub page_size: i32,
    /// One partition, or -1 for all.
    pub partition: i32,
    /// Only entries held by the node we are connected to.
    pub local: bool,
    pub decode: DecodeOptions,
    /// Decode only these fields of the value objects (dotted paths for nested fields).
    pub fields: Option<Arc<Selection>>,
    /// Read only entries whose value is an object of this type id; others are skipped.
    pub value_type: Option<i32>,
    /// Read value objects of every type into one column set (fields merged by name, plus `_type`).
    pub union_types: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            page_size: 1024,
            partition: -1,
            local: false,
            decode: DecodeOptions::default(),
            fields: None,
            value_type: None,
            union_types: false,
        }
    }
}

impl ScanOptions {
    pub fn validate(&self) -> Result<()> {
        validate_page_size(self.page_size)?;
        if self.partition < -1 {
            return Err(Error::InvalidArgument(format!(
                "part must be a partition number or -1 for all partitions, got {}",
                self.partition
            )));
        }
        Ok(())
    }

    /// How the rows of this scan of `cache_name` become batches: (key, val), with the value's
    /// fields and types.
    pub(crate) fn row_decoder(&self, cache_name: &str) -> RowDecoder {
        RowDecoder {
            column_names: vec!["key".to_string(), "val".to_string()],
            decode: self.decode,
            fields: self.fields.clone(),
            value_type: self.value_type,
            union_types: self.union_types,
            source: format!("cache '{cache_name}'"),
        }
    }
}

pub(crate) fn validate_page_size(page_size: i32) -> Result<()> {
    if page_size <= 0 {
        return Err(Error::InvalidArgument(format!(
            "page_size must be positive, got {page_size}"
        )));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub struct SqlOptions {
    /// SQL schema the query runs in.
    pub schema: String,
    pub page_size: i32,
    /// 0: no limit.
    pub max_rows: i32,
    pub distributed_joins: bool,
    pub local: bool,
    pub replicated_only: bool,
    pub enforce_join_order: bool,
    pub collocated: bool,
    pub lazy: bool,
    /// 0: no timeout.
    pub timeout_ms: i64,
    pub decode: DecodeOptions,
}

impl Default for SqlOptions {
    fn default() -> Self {
        SqlOptions {
            schema: "PUBLIC".into(),
            page_size: 1024,
            max_rows: 0,
            distributed_joins: false,
            local: false,
            replicated_only: false,
            enforce_join_order: false,
            collocated: false,
            lazy: false,
            timeout_ms: 0,
            decode: DecodeOptions::default(),
        }
    }
}
