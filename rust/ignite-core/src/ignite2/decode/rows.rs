//! The rows of a scan or query page (`int count | values | bool more`) into column builders: a
//! scan row is two values (key, val), a query row one value per column. The page itself keeps
//! the read position, so that a batch may end part-way through a page and the next go on.

use std::sync::Arc;

use crate::decode::column::Batch;
use crate::decode::column_builder::{ColumnBuilder, DecodeOptions};
use crate::decode::selection::Selection;
use crate::error::{Error, Result};
use crate::ignite2::decode::budget::Budget;
use crate::ignite2::decode::value::push_value_within;
use crate::ignite2::format::metadata::TypeResolver;
use crate::ignite2::format::values::{object_type_id, value_end};
use crate::ignite2::wire::Reader;

/// How the rows of a page become a batch: the column names of a row and what to decode.
#[derive(Clone)]
pub struct RowDecoder {
    /// Names of the values of one row.
    pub column_names: Vec<String>,
    pub decode: DecodeOptions,
    /// Scans: the value fields to decode, and the value type to keep.
    pub fields: Option<Arc<Selection>>,
    pub value_type: Option<i32>,
    pub union_types: bool,
    /// What the rows come from, for errors: `cache 'name'`, `SQL query`.
    pub source: String,
}

impl RowDecoder {
    /// Rows of one value per column, all decoded: an SQL query's.
    pub fn for_columns(column_names: Vec<String>, decode: DecodeOptions) -> RowDecoder {
        RowDecoder {
            column_names,
            decode,
            fields: None,
            value_type: None,
            union_types: false,
            source: "SQL query".to_string(),
        }
    }

    /// Empty column builders sized for about `rows_hint` rows.
    pub fn builders(&self, rows_hint: usize) -> Vec<ColumnBuilder> {
        self.column_names
            .iter()
            .map(|name| {
                let builder = ColumnBuilder::with_options(name.clone(), rows_hint, self.decode);
                if name == "val" {
                    builder
                        .select(self.fields.clone())
                        .union_of_types(self.union_types)
                } else {
                    builder
                }
            })
            .collect()
    }

    /// Decodes up to `max_rows` rows of `page` into `builders`; returns how many it kept
    /// (entries of another value type are skipped undecoded and not counted). The page's
    /// [`Budget`] bounds the work, across batches that share the page.
    pub fn decode_rows(
        &self,
        page: &mut Page,
        max_rows: usize,
        builders: &mut [ColumnBuilder],
        types: &mut dyn TypeResolver,
    ) -> Result<usize> {
        self.decode_rows_within_budget(page, max_rows, builders, types)
            .map_err(|e| match e {
                Error::Schema(m) if page.budget.is_exceeded() => {
                    Error::Schema(format!("{}: {m}", self.source))
                }
                other => other,
            })
    }

    fn decode_rows_within_budget(
        &self,
        page: &mut Page,
        max_rows: usize,
        builders: &mut [ColumnBuilder],
        types: &mut dyn TypeResolver,
    ) -> Result<usize> {
        let mut rows = 0;
        let mut pos = page.pos;
        while page.rows_left > 0 && rows < max_rows {
            page.rows_left -= 1;
            if let Some(wanted) = self.value_type {
                // Skip entries whose value is not an object of the wanted type, undecoded.
                let val_at = value_end(&page.bytes, pos, 0)?;
                if object_type_id(&page.bytes, val_at)? != Some(wanted) {
                    pos = value_end(&page.bytes, val_at, 0)?;
                    continue;
                }
            }
            for builder in builders.iter_mut() {
                pos = push_value_within(builder, &page.bytes, pos, types, 0, &mut page.budget)?;
            }
            rows += 1;
        }
        page.pos = pos;
        Ok(rows)
    }

    /// The batch of `len` rows that `builders` hold, or the error their last strings hold.
    pub fn finish(&self, builders: Vec<ColumnBuilder>, len: usize) -> Result<Batch> {
        let columns = self
            .column_names
            .iter()
            .cloned()
            .zip(builders)
            .map(|(name, b)| Ok((name, b.finish(None)?)))
            .collect::<Result<_>>()?;
        Ok(Batch { columns, len })
    }
}

/// A received page of rows and the read position in it.
#[derive(Default)]
pub struct Page {
    pub bytes: Vec<u8>,
    /// Read position of the next row.
    pub pos: usize,
    pub rows_left: usize,
    /// The server has more pages after this one.
    pub more: bool,
    /// What decoding the page may still cost.
    pub budget: Budget,
}

impl Page {
    /// Takes the page in `bytes` whose row count starts at `count_pos`, after checking the count
    /// against the page's size (rows of `columns` values each).
    pub fn start(&mut self, count_pos: usize, columns: usize) -> Result<()> {
        let mut r = Reader::at(&self.bytes, count_pos)?;
        let count = r.i32()?;
        if count < 0 {
            return Err(Error::protocol(format!(
                "page with negative row count {count}"
            )));
        }
        // Every value is at least one byte (a null), plus the trailing `more` flag.
        if (count as usize).saturating_mul(columns.max(1)) + 1 > r.remaining() {
            return Err(Error::protocol(format!(
                "page claims {count} rows in {} bytes",
                r.remaining()
            )));
        }
        self.more = *self.bytes.last().expect("checked non-empty") != 0;
        self.pos = r.pos();
        self.rows_left = count as usize;
        self.budget = Budget::for_page(self.bytes.len());
        Ok(())
    }

    /// Checks, once every row is read, that only the `more` flag is left.
    pub fn check_consumed(&self) -> Result<()> {
        if self.pos + 1 != self.bytes.len() {
            return Err(Error::protocol(format!(
                "page has {} unexpected bytes after its last row",
                self.bytes.len().saturating_sub(self.pos + 1)
            )));
        }
        Ok(())
    }

    /// Gives up the rest of the page undecoded (the raw page reader).
    pub fn skip_rest(&mut self) {
        self.rows_left = 0;
        self.pos = self.bytes.len().saturating_sub(1);
    }
}
