//! Numpy arrays over core column buffers, without a copy: each array's base object is a
//! [`ColumnBuffer`] that owns the 64-byte-aligned buffer the array views, so the buffer lives
//! exactly as long as some array still points into it.

use std::ffi::{c_char, c_int, c_void};

use ignite_core::decode::column_builder::{
    begins_character, first_not_utf8, longest_string, pad_strings, utf8_as_a_whole,
};
use ignite_core::{AlignedBuf, PrimKind};
use numpy::ndarray::{ArrayViewD, IxDyn};
use numpy::{
    Element, PyArrayDescr, PyArrayDyn, PyReadonlyArray1, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyMemoryError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyCapsuleMethods, PyDict};

use crate::errors::{detach, internal_error, to_py_err};

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
        with_element_type!(@arms $kind, $T, $body;
            I8 u8, I16 i16, I32 i32, I64 i64, F32 f32, F64 f64, Char u16, Bool bool)
    };
    (@arms $kind:expr, $T:ident, $body:expr; $($variant:ident $element:ty),*) => {
        match $kind {
            $(PrimKind::$variant => {
                type $T = $element;
                $body
            })*
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

/// A string column's offsets from Python: int32 (Arrow's `utf8`) or int64 (`large_utf8`).
enum StrOffsets<'py> {
    Narrow(PyReadonlyArray1<'py, i32>),
    Wide(PyReadonlyArray1<'py, i64>),
}

impl<'py> StrOffsets<'py> {
    fn extract(offsets: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(narrow) = offsets.extract() {
            return Ok(StrOffsets::Narrow(narrow));
        }
        Ok(StrOffsets::Wide(offsets.extract().map_err(|_| {
            PyTypeError::new_err("string offsets must be a 1-D int32 or int64 array")
        })?))
    }
}

/// Evaluates `$body` with `$o` the offsets as a slice of their own integer type.
macro_rules! with_offsets {
    ($offsets:expr, $o:ident => $body:expr) => {
        match $offsets {
            StrOffsets::Narrow(narrow) => {
                let $o = narrow.as_slice()?;
                $body
            }
            StrOffsets::Wide(wide) => {
                let $o = wide.as_slice()?;
                $body
            }
        }
    };
}

/// Strings given as offsets into UTF-8 bytes, padded with zero bytes to the longest (at least
/// 1): a `(rows, width)` uint8 array, numpy's `S<width>` layout (one copy, without the GIL).
#[pyfunction]
pub(crate) fn padded_strings<'py>(
    py: Python<'py>,
    offsets: &Bound<'py, PyAny>,
    data: PyReadonlyArray1<'py, u8>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = data.as_slice()?;
    let offsets = StrOffsets::extract(offsets)?;
    let (values, width) = with_offsets!(&offsets, o => detach(py, || pad_strings(o, data))?);
    let rows = with_offsets!(&offsets, o => o.len() - 1);
    zero_copy_array::<u8>(py, values, &[rows, width])
}

/// Strings given as offsets into UTF-8 bytes as a numpy 2 `StringDType(na_object=None)` array,
/// None where `valid` says so: numpy's own variable-width strings, packed by its C API (no Python
/// object per value).
#[pyfunction]
#[pyo3(signature = (offsets, data, valid=None))]
pub(crate) fn string_dtype_array<'py>(
    py: Python<'py>,
    offsets: &Bound<'py, PyAny>,
    data: PyReadonlyArray1<'py, u8>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
) -> PyResult<Bound<'py, PyAny>> {
    let data = data.as_slice()?;
    let offsets = StrOffsets::extract(offsets)?;
    with_offsets!(&offsets, o => longest_string(o, data).map_err(to_py_err))?;
    let rows = with_offsets!(&offsets, o => o.len() - 1);
    let valid = valid.as_ref().map(|v| v.as_slice()).transpose()?;
    if valid.is_some_and(|v| v.len() != rows) {
        return Err(PyValueError::new_err(
            "valid must have one entry per string",
        ));
    }
    // The strings' bytes as a whole here; that each string begins a character is checked while
    // packing it (a pass over the strings of its own cost more than the check).
    if !with_offsets!(&offsets, o => utf8_as_a_whole(o, data)) {
        return Err(with_offsets!(&offsets, o => not_utf8_error(o, data)));
    }
    let numpy = py.import("numpy")?;
    let Ok(string_dtype) = numpy.getattr("dtypes")?.getattr("StringDType") else {
        if !with_offsets!(&offsets, o => (0..rows).all(|i| begins_character(string_at(o, data, i))))
        {
            return Err(with_offsets!(&offsets, o => not_utf8_error(o, data)));
        }
        return Err(PyTypeError::new_err(
            "strings=\"str\" needs numpy 2 (numpy.dtypes.StringDType)",
        ));
    };
    let kwargs = PyDict::new(py);
    kwargs.set_item("na_object", py.None())?;
    let dtype = string_dtype.call((), Some(&kwargs))?;
    let array = numpy.getattr("empty")?.call1((rows, dtype))?;
    let untyped = array.cast::<PyUntypedArray>()?;
    let api = string_api(py)?;
    let packed = with_offsets!(&offsets, o => pack_strings(&api, untyped, o, data, valid));
    match packed {
        Packed::All => Ok(array),
        Packed::NotUtf8 => Err(with_offsets!(&offsets, o => not_utf8_error(o, data))),
        Packed::Failed => Err(PyErr::take(py).unwrap_or_else(|| {
            PyMemoryError::new_err("numpy could not allocate a StringDType string")
        })),
    }
}

/// String `i` of those that `offsets` cut from `data` (offsets `longest_string` accepted).
#[inline(always)]
fn string_at<'a, O: Copy + Into<i64>>(offsets: &[O], data: &'a [u8], i: usize) -> &'a [u8] {
    &data[offsets[i].into() as usize..offsets[i + 1].into() as usize]
}

/// The error naming the first string that is not UTF-8 (one of them is not).
#[cold]
fn not_utf8_error<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> PyErr {
    match first_not_utf8(offsets, data) {
        Ok(Some(row)) => {
            let (start, end) = (offsets[row].into(), offsets[row + 1].into());
            PyValueError::new_err(format!("the string at bytes {start}..{end} is not UTF-8"))
        }
        Ok(None) => internal_error("strings found not UTF-8 are UTF-8 one by one".to_string()),
        Err(e) => to_py_err(e),
    }
}

/// How packing a StringDType array went.
enum Packed {
    All,
    /// A string begins in the middle of a character: not UTF-8 (nothing after it packed).
    NotUtf8,
    /// numpy could not pack a string (its error is set).
    Failed,
}

/// Packs the strings that `offsets` cut from `data` into `array`, a new StringDType array of
/// one element per string, None where `valid` says so. `offsets` lie in order within `data`
/// (`longest_string` accepted them) and `data` is UTF-8 between the first and the last
/// (`utf8_as_a_whole`), so each string is UTF-8 once every string begins a character, checked
/// here on the way (a string is packed only once it and every one before it passed).
fn pack_strings<O: Copy + Into<i64>>(
    api: &StringApi,
    array: &Bound<'_, PyUntypedArray>,
    offsets: &[O],
    data: &[u8],
    valid: Option<&[bool]>,
) -> Packed {
    let rows = offsets.len() - 1;
    // SAFETY: `array` is a new, C-contiguous StringDType array of `rows` elements (the caller
    // made it so), so its data holds that many 16-byte packed strings and its descriptor is a
    // PyArray_StringDTypeObject, as NpyString_acquire_allocator requires; the allocator is held
    // (numpy's lock) while packing and released once, and the GIL is held throughout (the
    // caller holds `array`, a GIL-bound reference). Each packed source slice lies within `data`
    // (`string_at` slices it) and is UTF-8: `data` is as a whole between the first and the last
    // string, and this string and the one after it (if any) begin characters (the latter is
    // checked at the next turn, and a failure there returns an error: the array, whose packed
    // strings numpy frees, is dropped unseen).
    unsafe {
        let raw = array.as_array_ptr();
        let elements = (*raw).fields.data as *mut PackedString;
        let allocator = (api.acquire_allocator)((*raw).fields.descr as *const c_void);
        let mut packed = Packed::All;
        for i in 0..rows {
            // every string, null or not: one that does not begin a character leaves the one
            // before it unfinished
            let string = string_at(offsets, data, i);
            if !begins_character(string) {
                packed = Packed::NotUtf8;
                break;
            }
            let out = elements.add(i);
            let status = match valid {
                Some(v) if !v[i] => (api.pack_null)(allocator, out),
                _ => (api.pack)(allocator, out, string.as_ptr().cast(), string.len()),
            };
            if status < 0 {
                packed = Packed::Failed;
                break;
            }
        }
        (api.release_allocator)(allocator);
        packed
    }
}

/// numpy's `npy_packed_static_string`: an element of a StringDType array (opaque, 16 bytes).
#[repr(C)]
struct PackedString([u8; 16]);

type AcquireAllocator = unsafe extern "C" fn(*const c_void) -> *mut c_void;
type ReleaseAllocator = unsafe extern "C" fn(*mut c_void);
type Pack = unsafe extern "C" fn(*mut c_void, *mut PackedString, *const c_char, usize) -> c_int;
type PackNull = unsafe extern "C" fn(*mut c_void, *mut PackedString) -> c_int;

/// The functions of numpy 2's C API that fill a StringDType array.
struct StringApi {
    acquire_allocator: AcquireAllocator,
    release_allocator: ReleaseAllocator,
    pack: Pack,
    pack_null: PackNull,
}

/// Slots of numpy 2's `PyArray_API` table (`__multiarray_api.h`).
const NPY_STRING_PACK: usize = 314;
const NPY_STRING_PACK_NULL: usize = 315;
const NPY_STRING_ACQUIRE_ALLOCATOR: usize = 316;
const NPY_STRING_RELEASE_ALLOCATOR: usize = 318;

/// The StringDType functions of the running numpy (2.0 or later, where these slots exist).
fn string_api(py: Python<'_>) -> PyResult<StringApi> {
    let capsule = py
        .import("numpy._core._multiarray_umath")?
        .getattr("_ARRAY_API")?;
    let table = capsule.cast::<PyCapsule>()?.pointer_checked(None)?;
    let table = table.as_ptr() as *const *const c_void;
    // SAFETY: numpy 2's module `numpy._core` exists (numpy 1 names it `numpy.core`, and the
    // import above fails there), and its `_ARRAY_API` table holds the C API functions at the
    // slots of its header, with the signatures written here; the table lives as long as numpy.
    unsafe {
        Ok(StringApi {
            acquire_allocator: std::mem::transmute::<*const c_void, AcquireAllocator>(
                *table.add(NPY_STRING_ACQUIRE_ALLOCATOR),
            ),
            release_allocator: std::mem::transmute::<*const c_void, ReleaseAllocator>(
                *table.add(NPY_STRING_RELEASE_ALLOCATOR),
            ),
            pack: std::mem::transmute::<*const c_void, Pack>(*table.add(NPY_STRING_PACK)),
            pack_null: std::mem::transmute::<*const c_void, PackNull>(
                *table.add(NPY_STRING_PACK_NULL),
            ),
        })
    }
}
