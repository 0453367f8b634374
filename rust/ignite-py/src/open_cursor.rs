//! An open cursor held by a Python object (an Ignite 2 scan or query, an Ignite 3 query): every
//! step runs with the GIL released, and the end of the results or an error lets go of the cursor,
//! and so of its connection (dropping it closes it on the server if it is still open there).
//! [`cursor_class!`] declares each Python cursor class with the methods all of them share.

use ignite_core::ignite2::Cursor;
use ignite_core::ignite3::client::QueryBatches;
use ignite_core::{Batch, Error};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::columns::batch_to_py;
use crate::errors::{detach_guarded, to_py_err, Held};

/// What both protocols' query cursors do, so that one body serves their Python methods.
pub(crate) trait BatchCursor: Send {
    /// Up to `max_rows` rows decoded, or `None` at the end.
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>, Error>;
    /// One page fetched and thrown away: `(rows, bytes)`, or `None` at the end.
    fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>, Error>;
}

impl BatchCursor for Cursor {
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>, Error> {
        Cursor::next_batch(self, max_rows)
    }
    fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>, Error> {
        Cursor::next_raw_page(self)
    }
}

impl BatchCursor for QueryBatches {
    fn next_batch(&mut self, max_rows: usize) -> Result<Option<Batch>, Error> {
        QueryBatches::next_batch(self, max_rows)
    }
    fn next_raw_page(&mut self) -> Result<Option<(usize, usize)>, Error> {
        QueryBatches::next_raw_page(self)
    }
}

pub(crate) struct OpenCursor<C: Send> {
    /// Gone once the cursor ended, failed or was closed; garbage-collected while open, it
    /// closes on the server without the GIL.
    cursor: Held<C>,
}

impl<C: Send> OpenCursor<C> {
    pub(crate) fn new(cursor: C) -> Self {
        OpenCursor {
            cursor: Held::new(cursor),
        }
    }

    pub(crate) fn get(&self) -> Option<&C> {
        self.cursor.get()
    }

    /// Runs one step of the cursor without the GIL; `None` once the cursor is gone.
    pub(crate) fn step<T: Send>(
        &mut self,
        py: Python<'_>,
        f: impl FnOnce(&mut C) -> Result<Option<T>, Error> + Send,
    ) -> PyResult<Option<T>> {
        let Some(cursor) = self.cursor.get_mut() else {
            return Ok(None);
        };
        let result = detach_guarded(py, || f(cursor)).and_then(|r| r.map_err(to_py_err));
        if !matches!(result, Ok(Some(_))) {
            self.release(py);
        }
        result
    }

    /// Drops the cursor without the GIL; idempotent.
    pub(crate) fn release(&mut self, py: Python<'_>) {
        self.cursor.release(py);
    }
}

impl<C: BatchCursor> OpenCursor<C> {
    /// `(rows, {name: column})` of up to `max_rows` rows, or None at the end.
    pub(crate) fn next_batch<'py>(
        &mut self,
        py: Python<'py>,
        max_rows: usize,
    ) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.step(py, |cursor| cursor.next_batch(max_rows))? {
            Some(batch) => Ok(Some(batch_to_py(py, batch)?)),
            None => Ok(None),
        }
    }

    /// One page fetched and thrown away: `(rows, bytes)`, or None at the end.
    pub(crate) fn next_raw_page(&mut self, py: Python<'_>) -> PyResult<Option<(usize, usize)>> {
        self.step(py, |cursor| cursor.next_raw_page())
    }
}

/// Declares a Python cursor class over an [`OpenCursor`] of `$cursor` (made from one with
/// `From`), with the methods every cursor has (`next_batch`, `next_raw_page`, `close`) and the
/// class's own methods given in braces.
macro_rules! cursor_class {
    ($(#[$attr:meta])* $name:ident($cursor:ty) { $($methods:tt)* }) => {
        $(#[$attr])*
        pub(crate) struct $name {
            inner: $crate::open_cursor::OpenCursor<$cursor>,
        }

        impl From<$cursor> for $name {
            fn from(cursor: $cursor) -> Self {
                $name {
                    inner: $crate::open_cursor::OpenCursor::new(cursor),
                }
            }
        }

        #[pyo3::pymethods]
        impl $name {
            /// Decodes up to `max_rows` rows: `(rows, {name: column})`, or None at the end.
            fn next_batch<'py>(
                &mut self,
                py: pyo3::Python<'py>,
                max_rows: usize,
            ) -> pyo3::PyResult<Option<pyo3::Bound<'py, pyo3::types::PyTuple>>> {
                self.inner.next_batch(py, max_rows)
            }

            /// Fetches one page and discards it: `(rows, bytes)`, or None at the end.
            fn next_raw_page(
                &mut self,
                py: pyo3::Python<'_>,
            ) -> pyo3::PyResult<Option<(usize, usize)>> {
                self.inner.next_raw_page(py)
            }

            /// Closes the cursor on the server if it is still open; idempotent.
            fn close(&mut self, py: pyo3::Python<'_>) {
                self.inner.release(py);
            }

            $($methods)*
        }
    };
}

pub(crate) use cursor_class;
