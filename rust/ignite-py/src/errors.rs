//! Core errors raised as the exceptions of `ignite_fast.errors`, through one table.
//!
//! Panics never reach Python as pyo3's `PanicException` (a `BaseException`, which `except Exception`
//! misses): core work runs through [`detach`], which turns a panic into
//! `IgniteError("internal error: ...")`.
//!
//! The classes are bound by name at compile time (`import_exception!`: the module is imported once,
//! on first use, and a missing class panics loudly instead of degrading to a bare `Exception`).
//! The table maps every core error kind to its class with one `match` and no catch-all, so the
//! compiler refuses a new core variant until it has a row here.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use ignite_core::{Error, FsErrorKind};
use pyo3::prelude::*;

/// The exception classes of `ignite_fast.errors` that core errors become.
mod classes {
    pyo3::import_exception!(ignite_fast.errors, IgniteError);
    pyo3::import_exception!(ignite_fast.errors, IgniteConnectionError);
    pyo3::import_exception!(ignite_fast.errors, IgniteTimeoutError);
    pyo3::import_exception!(ignite_fast.errors, AuthenticationError);
    pyo3::import_exception!(ignite_fast.errors, TlsError);
    pyo3::import_exception!(ignite_fast.errors, ProtocolError);
    pyo3::import_exception!(ignite_fast.errors, ServerError);
    pyo3::import_exception!(ignite_fast.errors, CacheNotFoundError);
    pyo3::import_exception!(ignite_fast.errors, SchemaError);
    pyo3::import_exception!(ignite_fast.errors, UnsupportedTypeError);
    pyo3::import_exception!(ignite_fast.errors, InvalidArgumentError);
    pyo3::import_exception!(ignite_fast.errors, IgfsNotFoundError);
    pyo3::import_exception!(ignite_fast.errors, IgfsExistsError);
    pyo3::import_exception!(ignite_fast.errors, IgfsNotADirectoryError);
    pyo3::import_exception!(ignite_fast.errors, IgfsIsADirectoryError);
    pyo3::import_exception!(ignite_fast.errors, IgfsDirectoryNotEmptyError);
    pyo3::import_exception!(ignite_fast.errors, IgfsConflictError);
    pyo3::import_exception!(ignite_fast.errors, IgfsCorruptError);
}

/// Generates, from one row per error kind, both the mapping (`classify`) and the samples the
/// mapping test raises (`samples`). A row is `"kind": pattern => exception, sample: error;`, the
/// exception being an expression of the error's text (named by the ident before the rows). Since
/// the mapping is a `match` on the rows' patterns without a catch-all, a new core variant fails to
/// compile until it gets a row, and a row cannot be written without its sample: the test then sees
/// the new kind (and fails until it expects it).
macro_rules! error_table {
    ($message:ident; $($kind:literal: $pattern:pat => $exception:expr, sample: $sample:expr;)*) => {
        /// The kind name (as in the table) and the exception of a core error.
        fn classify(err: &Error) -> (&'static str, PyErr) {
            let $message = err.to_string();
            match err {
                $($pattern => ($kind, $exception),)*
            }
        }

        /// One error of every kind, in table order.
        fn samples() -> Vec<Error> {
            vec![$($sample),*]
        }
    };
}

error_table! { message;
    "Connection": Error::Connection(_) => classes::IgniteConnectionError::new_err(message),
        sample: Error::Connection("connection refused".into());
    "Timeout": Error::Timeout(_) => classes::IgniteTimeoutError::new_err(message),
        sample: Error::Timeout("no answer within the read timeout".into());
    "Authentication": Error::Authentication(_) => classes::AuthenticationError::new_err(message),
        sample: Error::Authentication("user 'ignite' refused".into());
    "Tls": Error::Tls(_) => classes::TlsError::new_err(message),
        sample: Error::Tls("certificate not trusted".into());
    "Protocol": Error::Protocol(_) => classes::ProtocolError::new_err(message),
        sample: Error::protocol("truncated page");
    // The status travels with the exception (`ServerError.status`).
    "Server": Error::Server { status, .. } => classes::ServerError::new_err((message, *status)),
        sample: Error::Server { status: 1, message: "failed".into() };
    // `CacheNotFoundError` defaults its status to 1000, the server's "cache does not exist".
    "CacheNotFound": Error::CacheNotFound(_) => classes::CacheNotFoundError::new_err(message),
        sample: Error::CacheNotFound("cache 'missing' does not exist".into());
    "Schema": Error::Schema(_) => classes::SchemaError::new_err(message),
        sample: Error::Schema("two value types in one column".into());
    "UnsupportedType": Error::UnsupportedType(_) => classes::UnsupportedTypeError::new_err(message),
        sample: Error::UnsupportedType("type code 99".into());
    "InvalidArgument": Error::InvalidArgument(_) => classes::InvalidArgumentError::new_err(message),
        sample: Error::InvalidArgument("page_size must be positive".into());
    "Fs.NotFound": Error::Fs { kind: FsErrorKind::NotFound, .. } => classes::IgfsNotFoundError::new_err(message),
        sample: Error::fs(FsErrorKind::NotFound, "no such file");
    "Fs.AlreadyExists": Error::Fs { kind: FsErrorKind::AlreadyExists, .. } => classes::IgfsExistsError::new_err(message),
        sample: Error::fs(FsErrorKind::AlreadyExists, "file exists");
    "Fs.NotADirectory": Error::Fs { kind: FsErrorKind::NotADirectory, .. } => classes::IgfsNotADirectoryError::new_err(message),
        sample: Error::fs(FsErrorKind::NotADirectory, "not a directory");
    "Fs.IsADirectory": Error::Fs { kind: FsErrorKind::IsADirectory, .. } => classes::IgfsIsADirectoryError::new_err(message),
        sample: Error::fs(FsErrorKind::IsADirectory, "is a directory");
    "Fs.DirectoryNotEmpty": Error::Fs { kind: FsErrorKind::DirectoryNotEmpty, .. } => classes::IgfsDirectoryNotEmptyError::new_err(message),
        sample: Error::fs(FsErrorKind::DirectoryNotEmpty, "directory not empty");
    "Fs.Conflict": Error::Fs { kind: FsErrorKind::Conflict, .. } => classes::IgfsConflictError::new_err(message),
        sample: Error::fs(FsErrorKind::Conflict, "another writer holds the file");
    "Fs.Corrupt": Error::Fs { kind: FsErrorKind::Corrupt, .. } => classes::IgfsCorruptError::new_err(message),
        sample: Error::fs(FsErrorKind::Corrupt, "block missing");
}

/// The exception a core error raises in Python.
pub(crate) fn to_py_err(err: Error) -> PyErr {
    classify(&err).1
}

/// An `InvalidArgumentError` (an `IgniteError` and a `ValueError`) for a bad argument found here.
pub(crate) fn invalid_argument(message: impl Into<String>) -> PyErr {
    to_py_err(Error::InvalidArgument(message.into()))
}

/// Runs core work without the GIL and returns its result as Python's. A panic inside (a bug)
/// becomes `IgniteError("internal error: ...")` instead of pyo3's `PanicException`.
pub(crate) fn detach<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> Result<T, Error> + Send,
) -> PyResult<T> {
    detach_guarded(py, work)?.py_err()
}

/// Runs `work` without the GIL; a panic inside becomes `IgniteError("internal error: ...")`.
pub(crate) fn detach_guarded<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    // Unwind safety: after a panic the caller's object may be half-updated; the error says so, and
    // the object's own checks (closed, failed) still hold, so nothing is read out of bounds.
    py.detach(|| catch_unwind(AssertUnwindSafe(work)))
        .map_err(|payload| panic_error(payload.as_ref()))
}

/// Drops `value` without the GIL (its drop may talk to the cluster), for `Drop` impls of Python
/// objects, which hold the GIL and cannot raise: a panic there is already printed by the hook.
fn drop_detached<T: Send>(value: T) {
    Python::attach(|py| {
        let _ = detach_guarded(py, move || drop(value));
    });
}

/// A core object a Python object holds until it closes it (`None` from then on), dropped
/// without the GIL when the Python object is collected: its drop may talk to the cluster.
pub(crate) struct Held<T: Send>(Option<T>);

impl<T: Send> Held<T> {
    pub(crate) fn new(value: T) -> Self {
        Held(Some(value))
    }

    pub(crate) fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    pub(crate) fn get_mut(&mut self) -> Option<&mut T> {
        self.0.as_mut()
    }

    /// The object, or `InvalidArgumentError(closed)` once it is gone.
    pub(crate) fn or_closed(&mut self, closed: &str) -> PyResult<&mut T> {
        self.0.as_mut().ok_or_else(|| invalid_argument(closed))
    }

    /// The object, to be closed or dropped by the caller; `None` from then on.
    pub(crate) fn take(&mut self) -> Option<T> {
        self.0.take()
    }

    /// Drops the object now, without the GIL; idempotent.
    pub(crate) fn release(&mut self, py: Python<'_>) {
        if let Some(value) = self.0.take() {
            py.detach(move || drop(value));
        }
    }
}

impl<T: Send> Drop for Held<T> {
    fn drop(&mut self) {
        if let Some(value) = self.0.take() {
            drop_detached(value);
        }
    }
}

fn panic_error(payload: &(dyn Any + Send)) -> PyErr {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    internal_error(what)
}

/// `IgniteError("internal error: ...")`: a bug in this library, caught before it does harm.
pub(crate) fn internal_error(what: impl std::fmt::Display) -> PyErr {
    classes::IgniteError::new_err(format!(
        "internal error: {what} (a bug in ignite_fast; please report it)"
    ))
}

/// `result.py_err()`: a core result as a Python one.
pub(crate) trait IntoPyResult<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py_err)
    }
}

/// For the mapping test (`tests/unit/test_native_errors.py`): `[(kind, exception)]`, one sample
/// error of every core kind, each turned into the exception it raises by the same table.
#[pyfunction]
pub(crate) fn error_kind_samples(
    py: Python<'_>,
) -> Vec<(&'static str, Py<pyo3::exceptions::PyBaseException>)> {
    samples()
        .iter()
        .map(|err| {
            let (kind, exception) = classify(err);
            (kind, exception.into_value(py))
        })
        .collect()
}

/// For the boundary test (`tests/unit/test_native_panics.py`): panics inside core work run the
/// way every binding runs it, so the test sees what a bug would raise.
#[pyfunction]
pub(crate) fn panic_sample(py: Python<'_>) -> PyResult<()> {
    detach(py, || -> Result<(), Error> {
        panic!("a sample panic for the boundary test")
    })
}
