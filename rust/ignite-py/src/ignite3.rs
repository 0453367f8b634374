//! The native Ignite 3 client and its query cursors: the same column tuples as Ignite 2's
//! (see [`crate::columns`]), SQL arguments from Python values, the GIL released around every
//! network and decode step.

use ignite_core::ignite3::client::{Ignite3Client, QueryBatches};
use ignite_core::ignite3::sql::SqlOptions;
use ignite_core::ignite3::upsert::UpsertColumn;
use ignite_core::DecodeOptions;
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;

use crate::args::{sql_args, write_column, ColumnSpec};
use crate::connection_spec::ConnectionSpec;
use crate::errors::detach;
use crate::open_cursor::cursor_class;

/// `(name, SQL type name, nullable, scale, precision)` of a result column.
type ColumnTuple = (String, &'static str, bool, i32, i32);

fn sql_options(schema: String, page_size: i32) -> SqlOptions {
    SqlOptions {
        page_size,
        schema: Some(schema),
        ..SqlOptions::default()
    }
}

/// Pooled connections to an Ignite 3 cluster.
#[pyclass(module = "ignite_fast._native")]
pub(crate) struct NativeIgnite3Client {
    inner: Ignite3Client,
}

/// A column to write, from Python: `(table column, spec, null mask or None)`; the mask has one
/// byte per row, nonzero = NULL.
type PutColumn<'py> = (String, ColumnSpec<'py>, Option<PyReadonlyArray1<'py, u8>>);

#[pymethods]
impl NativeIgnite3Client {
    /// Connects as `spec` says (its protocol version is Ignite 2's and is not used).
    #[new]
    fn new(py: Python<'_>, spec: &ConnectionSpec) -> PyResult<Self> {
        spec.connect(py, Ignite3Client::connect)
            .map(|inner| NativeIgnite3Client { inner })
    }

    /// The name of the node this client reached first.
    fn node_name(&self) -> String {
        self.inner.node_name().to_string()
    }

    /// A client of the node at `address` alone that sees what this one has seen (its writes).
    fn for_address(&self, py: Python<'_>, address: &str) -> PyResult<Self> {
        let client = &self.inner;
        let inner = detach(py, || client.for_address(address))?;
        Ok(NativeIgnite3Client { inner })
    }

    /// Runs a query: a cursor over its rows.
    #[pyo3(signature = (query, args, schema="PUBLIC".to_string(), page_size=4096, decimal_as_string=false),
           // Written out: pyo3 shows a default that is not a plain literal as `...`.
           text_signature = "($self, query, args, schema='PUBLIC', page_size=4096, decimal_as_string=False)")]
    fn sql(
        &self,
        py: Python<'_>,
        query: &str,
        args: Vec<Bound<'_, PyAny>>,
        schema: String,
        page_size: i32,
        decimal_as_string: bool,
    ) -> PyResult<NativeIgnite3Cursor> {
        let args = sql_args(&args)?;
        let options = sql_options(schema, page_size);
        let decode = DecodeOptions { decimal_as_string };
        let client = &self.inner;
        let batches = detach(py, || client.query(query, &args, &options, decode))?;
        Ok(NativeIgnite3Cursor::from(batches))
    }

    /// Runs a statement without rows; the rows it changed (-1 for DDL).
    #[pyo3(signature = (statement, args, schema="PUBLIC".to_string()),
           text_signature = "($self, statement, args, schema='PUBLIC')")]
    fn execute(
        &self,
        py: Python<'_>,
        statement: &str,
        args: Vec<Bound<'_, PyAny>>,
        schema: String,
    ) -> PyResult<i64> {
        let args = sql_args(&args)?;
        let options = sql_options(schema, 1024);
        let client = &self.inner;
        detach(py, || client.execute(statement, &args, &options))
    }

    /// The primary node's name of each partition of `table` (None where none is known).
    fn primary_replicas(&self, py: Python<'_>, table: &str) -> PyResult<Vec<Option<String>>> {
        let client = &self.inner;
        detach(py, || client.partition_primaries(table))
    }

    /// Upserts the rows of `columns` into `table` through the data streamer (every column and
    /// value checked before anything is sent); returns the rows written.
    fn put_columns(
        &self,
        py: Python<'_>,
        table: &str,
        columns: Vec<PutColumn<'_>>,
    ) -> PyResult<usize> {
        let values = columns
            .iter()
            .map(|(_, spec, _)| write_column(spec))
            .collect::<PyResult<Vec<_>>>()?;
        let nulls = columns
            .iter()
            .map(|(_, _, mask)| mask.as_ref().map(|m| m.as_slice()).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let upserts: Vec<UpsertColumn> = columns
            .iter()
            .zip(values)
            .zip(nulls)
            .map(|(((name, _, _), values), nulls)| UpsertColumn {
                name,
                values,
                nulls,
            })
            .collect();
        let client = &self.inner;
        detach(py, || client.upsert(table, &upserts))
    }

    /// The number of partitions of `table`.
    fn partition_count(&self, py: Python<'_>, table: &str) -> PyResult<usize> {
        Ok(self.primary_replicas(py, table)?.len())
    }
}

cursor_class! {
    /// An open Ignite 3 query.
    #[pyclass(module = "ignite_fast._native", name = "Ignite3Cursor")]
    NativeIgnite3Cursor(QueryBatches) {
        /// The result's columns: `[(name, SQL type, nullable, scale, precision)]` (empty once closed).
        fn columns(&self) -> Vec<ColumnTuple> {
            self.inner.get().map_or_else(Vec::new, |b| {
                b.columns()
                    .iter()
                    .map(|c| (c.name.clone(), c.type_name(), c.nullable, c.scale, c.precision))
                    .collect()
            })
        }
    }
}
