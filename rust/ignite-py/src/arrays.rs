//! Numpy arrays over core column buffers, without a copy: each array's base object is a
//! [`ColumnBuffer`] that owns the 64-byte-aligned buffer the array views, so the buffer lives
//! exactly as long as some array still points into it.

use ignite_core::{AlignedBuf, PrimKind};
use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{Element, PyArrayDescr, PyArrayDyn};
use pyo3::prelude::*;

use crate::errors::internal_error;

/// Owns a column buffer; numpy arrays made from it hold it as their base object.
#[pyclass(frozen, module = "ignite_fast._native")]
pub(crate) struct ColumnBuffer {
    buf: AlignedBuf,
}

#[pymethods]
impl ColumnBuffer {
    fn __len__(&self) -> usize {
        self.buf.len()
    }
}

/// A numpy array of `shape` over `buf`, which it takes over.
pub(crate) fn zero_copy_array<'py, T: Element>(
    py: Python<'py>,
    buf: AlignedBuf,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    let n: usize = shape.iter().product();
    // The core fills a buffer for its shape; this check (memory safety rests on it) is for bugs.
    if n.checked_mul(std::mem::size_of::<T>())
        .is_none_or(|bytes| bytes > buf.len())
    {
        return Err(internal_error(format!(
            "a column buffer of {} bytes is smaller than its shape {shape:?}",
            buf.len()
        )));
    }
    let owner = Bound::new(py, ColumnBuffer { buf })?;
    let ptr = owner.get().buf.as_ptr() as *const T;
    // SAFETY: the buffer is 64-byte aligned, holds `n` initialised elements of T (checked above;
    // booleans are written as 0/1 only), and is owned by `owner`, which becomes the array's base
    // object and is never reallocated: Rust reads only its length after this (numpy may write
    // the elements through the array, and `ColumnBuffer` hands out no reference to them).
    let array = unsafe {
        let view = ArrayViewD::from_shape_ptr(IxDyn(shape), ptr);
        PyArrayDyn::<T>::borrow_from_array(&view, owner.into_any())
    };
    Ok(array.into_any())
}

/// Evaluates `$body` with `$T` the element type of a primitive kind's arrays: the one place that
/// pairs kinds with element types. `byte` is `u8`, as the original IgniteDataset had it (pixels,
/// raw bytes); `char` is a UTF-16 code unit, `u16`.
macro_rules! with_element_type {
    ($kind:expr, $T:ident => $body:expr) => {
        match $kind {
            PrimKind::I8 => {
                type $T = u8;
                $body
            }
            PrimKind::I16 => {
                type $T = i16;
                $body
            }
            PrimKind::I32 => {
                type $T = i32;
                $body
            }
            PrimKind::I64 => {
                type $T = i64;
                $body
            }
            PrimKind::F32 => {
                type $T = f32;
                $body
            }
            PrimKind::F64 => {
                type $T = f64;
                $body
            }
            PrimKind::Char => {
                type $T = u16;
                $body
            }
            PrimKind::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// A numpy array of a primitive kind over `buf`.
pub(crate) fn primitive_array<'py>(
    py: Python<'py>,
    kind: PrimKind,
    buf: AlignedBuf,
    shape: &[usize],
) -> PyResult<Bound<'py, PyAny>> {
    with_element_type!(kind, T => zero_copy_array::<T>(py, buf, shape))
}

/// The numpy dtype of a primitive kind's arrays.
pub(crate) fn primitive_dtype(py: Python<'_>, kind: PrimKind) -> Bound<'_, PyArrayDescr> {
    with_element_type!(kind, T => numpy::dtype::<T>(py))
}

/// The validity mask of a column (true = present) as a bool array, or None where every row is.
pub(crate) fn validity_array<'py>(
    py: Python<'py>,
    validity: Option<AlignedBuf>,
    len: usize,
) -> PyResult<Bound<'py, PyAny>> {
    match validity {
        Some(v) => zero_copy_array::<bool>(py, v, &[len]),
        None => Ok(py.None().into_bound(py)),
    }
}
