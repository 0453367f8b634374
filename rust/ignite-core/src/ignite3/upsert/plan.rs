//! Which given column fills each table column (every given column checked against its table
//! column before anything is sent), the colocation columns in hash order, and one row as the
//! streamer sends it: its no-value bit set, then its BinaryTuple.

use crate::error::{Error, Result};
use crate::ignite3::codes::column_type;
use crate::ignite3::msgpack::MsgWriter;
use crate::ignite3::tuple::TupleBuilder;
use crate::kinds::{PrimKind, WriteColumn};

use super::cells::{encode, kind_name, sql_type_name, Source};
use super::colocation::{combine, value_hash};
use super::schema::TableSchema;
use super::UpsertColumn;

/// MessagePack ext type of a bit set (`ClientMsgPackType.BITMASK`).
const EXT_BITMASK: u8 = 8;

/// Which given column fills each table column, and the colocation columns in hash order.
pub(super) struct Plan<'a> {
    pub(super) rows: usize,
    /// One per table column, in schema order; `None`: not given (the default applies).
    pub(super) sources: Vec<Option<Source<'a>>>,
    /// Indexes into `sources` of the colocation columns, by colocation index.
    colocation: Vec<usize>,
    /// The no-value bit set of every row (the columns not given), as `BitSet.toByteArray`.
    no_value: Vec<u8>,
}

impl<'a> Plan<'a> {
    pub(super) fn new(schema: &'a TableSchema, columns: &[UpsertColumn<'a>]) -> Result<Plan<'a>> {
        let Some(first) = columns.first() else {
            return Err(Error::InvalidArgument("no columns to write".into()));
        };
        let rows = first.values.rows();
        let mut sources: Vec<Option<Source>> = schema.columns.iter().map(|_| None).collect();
        for column in columns {
            let Some(i) = schema.columns.iter().position(|c| c.name == column.name) else {
                let names: Vec<&str> = schema.columns.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "the table has no column '{}' (its columns: {})",
                    column.name,
                    names.join(", ")
                )));
            };
            if sources[i].is_some() {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' is given twice",
                    column.name
                )));
            }
            if column.values.rows() != rows {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' has {} rows, column '{}' has {rows}",
                    column.name,
                    column.values.rows(),
                    first.name
                )));
            }
            if column.nulls.is_some_and(|n| n.len() != rows) {
                return Err(Error::InvalidArgument(format!(
                    "column '{}': its null mask has {} rows, not {rows}",
                    column.name,
                    column.nulls.map_or(0, <[u8]>::len)
                )));
            }
            let source = Source {
                column: *column,
                sql: &schema.columns[i],
            };
            if !source.kind_fits() {
                return Err(Error::InvalidArgument(format!(
                    "column '{}' is {}: values of kind {} cannot be written to it",
                    column.name,
                    sql_type_name(source.sql.type_id),
                    kind_name(&column.values)
                )));
            }
            sources[i] = Some(source);
        }
        if let Some(missing) = schema
            .columns
            .iter()
            .zip(&sources)
            .find(|(c, s)| c.key_index >= 0 && s.is_none())
        {
            return Err(Error::InvalidArgument(format!(
                "key column '{}' is not given",
                missing.0.name
            )));
        }
        let mut colocation: Vec<usize> = (0..schema.columns.len())
            .filter(|&i| schema.columns[i].colocation_index >= 0)
            .collect();
        colocation.sort_by_key(|&i| schema.columns[i].colocation_index);
        let mut no_value = vec![0u8; schema.columns.len().div_ceil(8)];
        for (i, source) in sources.iter().enumerate() {
            if source.is_none() {
                no_value[i / 8] |= 1 << (i % 8);
            }
        }
        // BitSet.toByteArray drops trailing zero bytes.
        while no_value.last() == Some(&0) {
            no_value.pop();
        }
        Ok(Plan {
            rows,
            sources,
            colocation,
            no_value,
        })
    }

    /// Every value checked against its column, before anything is sent.
    pub(super) fn check_values(&self) -> Result<()> {
        for source in self.sources.iter().flatten() {
            let always_fits = source.sql.type_id != column_type::DECIMAL
                && matches!(
                    source.column.values,
                    WriteColumn::Scalar {
                        kind: PrimKind::Bool | PrimKind::F32 | PrimKind::F64,
                        ..
                    }
                );
            if always_fits && source.column.nulls.is_none() {
                continue;
            }
            for row in 0..self.rows {
                source.check(row, source.cell(row)?)?;
            }
        }
        Ok(())
    }

    pub(super) fn colocation_hash(&self, row: usize) -> i32 {
        self.colocation.iter().fold(0, |hash, &i| {
            let source = self.sources[i]
                .as_ref()
                .expect("colocation columns are key columns");
            combine(
                hash,
                value_hash(source.checked_cell(row), source.sql.type_id),
            )
        })
    }

    /// An upper bound of one row's bytes in a request.
    pub(super) fn max_row_bytes(&self) -> usize {
        let values: usize = self
            .sources
            .iter()
            .flatten()
            .map(|s| match s.column.values {
                // a decimal: its scale and up to 16 bytes of unscaled value
                _ if s.sql.type_id == column_type::DECIMAL => 18,
                WriteColumn::Scalar { kind, .. } => kind.size(),
                WriteColumn::FixedArray { kind, width, .. } => kind.size() * width + 1,
                WriteColumn::Strings { width, .. } => width + 1,
            })
            .sum();
        16 + self.no_value.len() + 4 * self.sources.len() + values
    }

    /// Appends row `row`: its no-value bit set, then its tuple as bin.
    pub(super) fn write_row(&self, row: usize, tuple: &mut TupleBuilder, w: &mut MsgWriter) {
        tuple.clear();
        for source in &self.sources {
            match source {
                Some(source) => tuple.element(|out| encode(source.checked_cell(row), out)),
                None => tuple.null(), // not given: its bit is set below
            };
        }
        // The bit set as an ext (Java's packExtensionTypeHeader: fixext for 1/2/4/8/16 bytes).
        let bits = &self.no_value;
        match bits.len() {
            1 => w.buf.push(0xd4),
            2 => w.buf.push(0xd5),
            4 => w.buf.push(0xd6),
            8 => w.buf.push(0xd7),
            16 => w.buf.push(0xd8),
            n if n < 256 => w.buf.extend_from_slice(&[0xc7, n as u8]),
            n => {
                w.buf.push(0xc8);
                w.buf.extend_from_slice(&(n as u16).to_be_bytes());
            }
        }
        w.buf.push(EXT_BITMASK);
        w.buf.extend_from_slice(bits);
        w.bin_header(tuple.encoded_len());
        tuple.build_into(w.buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ignite3::upsert::schema::SchemaColumn;

    #[test]
    fn rows_are_tuples_with_a_no_value_bitset() {
        let schema = TableSchema {
            version: 1,
            columns: vec![
                SchemaColumn {
                    name: "ID".into(),
                    type_id: column_type::INT32,
                    key_index: 0,
                    nullable: false,
                    colocation_index: 0,
                    scale: 0,
                    precision: 0,
                },
                SchemaColumn {
                    name: "V".into(),
                    type_id: column_type::STRING,
                    key_index: -1,
                    nullable: true,
                    colocation_index: -1,
                    scale: 0,
                    precision: 10,
                },
            ],
        };
        let ids = 300i64.to_le_bytes();
        let columns = [UpsertColumn {
            name: "ID",
            values: WriteColumn::Scalar {
                kind: PrimKind::I64,
                data: &ids,
            },
            nulls: None,
        }];
        let plan = Plan::new(&schema, &columns).unwrap();
        let mut out = Vec::new();
        plan.write_row(0, &mut TupleBuilder::new(), &mut MsgWriter::new(&mut out));
        // fixext1 bitmask {1}, then bin of [flags 0, ends 2, 2, 300 as i16 LE]
        assert_eq!(out, vec![0xd4, 8, 0b10, 0xc4, 5, 0, 2, 2, 0x2c, 0x01]);
    }
}
