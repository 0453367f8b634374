//! An open cursor held by a Python object (an Ignite 2 scan or query, an Ignite 3 query): every
//! step runs with the GIL released, and the end of the results or an error lets go of the cursor,
//! and so of its connection (dropping it closes it on the server if it is still open there).

use ignite_core::Error;
use pyo3::prelude::*;

use crate::errors::to_py_err;

pub(crate) struct OpenCursor<C: Send> {
    /// `None` once the cursor ended, failed or was closed.
    cursor: Option<C>,
}

impl<C: Send> OpenCursor<C> {
    pub(crate) fn new(cursor: C) -> Self {
        OpenCursor {
            cursor: Some(cursor),
        }
    }

    pub(crate) fn get(&self) -> Option<&C> {
        self.cursor.as_ref()
    }

    /// Runs one step of the cursor without the GIL; `None` once the cursor is gone.
    pub(crate) fn step<T: Send>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut C) -> Result<Option<T>, Error> + Send,
    ) -> PyResult<Option<T>> {
        let Some(cursor) = self.cursor.as_mut() else {
            return Ok(None);
        };
        let result = py.detach(|| f(cursor));
        if !matches!(result, Ok(Some(_))) {
            self.release(py);
        }
        result.map_err(to_py_err)
    }

    /// Drops the cursor without the GIL; idempotent.
    pub(crate) fn release(&mut self, py: Python<'_>) {
        if let Some(cursor) = self.cursor.take() {
            py.detach(move || drop(cursor));
        }
    }
}
