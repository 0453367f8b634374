//! The partition scan class: several partitions read at once over one connection (see the core's
//! `PartitionScan`); the parallel readers in Python keep one per worker connection.

use ignite_core::ignite2::{PartitionBatch, PartitionScan};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::columns::columns_to_py;
use crate::errors::{detach, Held};

#[pyclass(module = "ignite_fast._native")]
pub(crate) struct NativePartitionScan {
    /// Gone once closed (a failed scan stays and refuses further use); garbage-collected
    /// without `close`, the connection still goes without the GIL.
    inner: Held<PartitionScan>,
}

impl NativePartitionScan {
    pub(crate) fn new(scan: PartitionScan) -> Self {
        NativePartitionScan {
            inner: Held::new(scan),
        }
    }

    fn scan(&mut self) -> PyResult<&mut PartitionScan> {
        self.inner.or_closed("the partition scan is closed")
    }
}

#[pymethods]
impl NativePartitionScan {
    /// Queues a partition; its cursor opens (the request goes out) as soon as a cursor is free.
    fn add(&mut self, py: Python<'_>, partition: i32) -> PyResult<()> {
        let scan = self.scan()?;
        detach(py, || scan.add(partition))
    }

    /// How many partitions can be added without waiting for a cursor.
    #[getter]
    fn free_cursors(&self) -> usize {
        self.inner.get().map_or(0, |s| s.free_cursors())
    }

    /// Partitions added and not finished.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.get().map_or(0, |s| s.pending())
    }

    /// Up to `max_rows` rows of one partition: `(partition, finished, rows, {name: column},
    /// merged)`, or None once every added partition is read. With `whole_partitions`, partitions
    /// that arrived whole in one page share batches: `merged` lists those after `partition`
    /// (all of them, and `partition`, complete in this batch).
    #[pyo3(signature = (max_rows, whole_partitions=false))]
    fn next_batch<'py>(
        &mut self,
        py: Python<'py>,
        max_rows: usize,
        whole_partitions: bool,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let scan = self.scan()?;
        match detach(py, || scan.next_batch(max_rows, whole_partitions))? {
            None => Ok(None),
            Some(PartitionBatch {
                partition,
                batch,
                finished,
                merged,
            }) => Ok(Some(
                (
                    partition,
                    finished,
                    batch.len,
                    columns_to_py(py, batch.columns)?,
                    merged,
                )
                    .into_pyobject(py)?,
            )),
        }
    }

    /// The next page to arrive, discarded: `(partition, finished, entries, bytes)`, or None.
    fn next_raw_page(&mut self, py: Python<'_>) -> PyResult<Option<(i32, bool, usize, usize)>> {
        let scan = self.scan()?;
        let page = detach(py, || scan.next_raw_page())?;
        Ok(page.map(|p| (p.partition, p.finished, p.rows, p.bytes)))
    }

    /// Lets go of the connection (closing it if cursors are still open on the server); idempotent.
    fn close(&mut self, py: Python<'_>) {
        self.inner.release(py);
    }
}
