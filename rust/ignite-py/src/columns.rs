//! Core columns as the tagged tuples Python receives (the contract documented in `_native.pyi`;
//! `ignite_fast.columns` turns them into numpy objects):
//!
//! `("null", len) | ("prim", values, valid, logical) | ("fixed", values_2d, valid)
//! | ("var", values, offsets, valid) | ("str", offsets, data, valid, logical) | ("list", offsets, child, valid)
//! | ("map", offsets, keys, values, valid) | ("struct", type_name, {name: column}, len)`
//!
//! `logical` is None for plain primitives, else `"uuid"`, `"date"`, `"timestamp"`, `"time"`, `"time_ns"`,
//! `"decimal"` or `("enum", type_id)`. Strings are Arrow's layout: int32 offsets (int64 past 2 GiB)
//! into uint8 UTF-8 bytes. Every array is a zero-copy view (see [`crate::arrays`]); the numpy
//! forms of strings are made from them on request ([`crate::arrays::padded_strings`],
//! [`crate::arrays::string_dtype_array`]).

use ignite_core::{AlignedBuf, Batch, Column, ScalarKind};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::arrays::{primitive_array, validity_array, zero_copy_array};

/// One column as its tagged tuple.
fn column_to_py<'py>(py: Python<'py>, column: Column) -> PyResult<Bound<'py, PyTuple>> {
    Ok(match column {
        Column::Null { len } => ("null", len).into_pyobject(py)?,
        Column::Scalar {
            kind,
            values,
            len,
            validity,
        } => {
            let valid = validity_array(py, validity, len)?;
            let (array, logical) = scalar_values(py, kind, values, len)?;
            ("prim", array, valid, logical).into_pyobject(py)?
        }
        Column::FixedArray {
            kind,
            values,
            len,
            width,
            validity,
        } => (
            "fixed",
            primitive_array(py, kind, values, &[len, width])?,
            validity_array(py, validity, len)?,
        )
            .into_pyobject(py)?,
        Column::VarArray {
            kind,
            values,
            offsets,
            len,
            validity,
        } => {
            let n = values.len() / kind.size();
            (
                "var",
                primitive_array(py, kind, values, &[n])?,
                zero_copy_array::<i64>(py, offsets, &[len + 1])?,
                validity_array(py, validity, len)?,
            )
                .into_pyobject(py)?
        }
        Column::Strings {
            offsets,
            large,
            data,
            len,
            validity,
            decimal,
        } => {
            let logical = if decimal { Some("decimal") } else { None };
            let n = data.len();
            let offsets = if large {
                zero_copy_array::<i64>(py, offsets, &[len + 1])?
            } else {
                zero_copy_array::<i32>(py, offsets, &[len + 1])?
            };
            (
                "str",
                offsets,
                zero_copy_array::<u8>(py, data, &[n])?,
                validity_array(py, validity, len)?,
                logical,
            )
                .into_pyobject(py)?
        }
        Column::List {
            offsets,
            child,
            len,
            validity,
        } => (
            "list",
            zero_copy_array::<i64>(py, offsets, &[len + 1])?,
            column_to_py(py, *child)?,
            validity_array(py, validity, len)?,
        )
            .into_pyobject(py)?,
        Column::Map {
            offsets,
            keys,
            values,
            len,
            validity,
        } => (
            "map",
            zero_copy_array::<i64>(py, offsets, &[len + 1])?,
            column_to_py(py, *keys)?,
            column_to_py(py, *values)?,
            validity_array(py, validity, len)?,
        )
            .into_pyobject(py)?,
        Column::Struct {
            type_name,
            fields,
            len,
        } => ("struct", type_name, columns_to_py(py, fields)?, len).into_pyobject(py)?,
    })
}

/// A scalar column's values and its `logical` tag (None for plain primitives).
fn scalar_values<'py>(
    py: Python<'py>,
    kind: ScalarKind,
    values: AlignedBuf,
    len: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let tagged =
        |array, tag: &str| -> PyResult<_> { Ok((array, tag.into_pyobject(py)?.into_any())) };
    match kind {
        ScalarKind::Prim(k) => Ok((
            primitive_array(py, k, values, &[len])?,
            py.None().into_bound(py),
        )),
        ScalarKind::SignedByte => Ok((
            zero_copy_array::<i8>(py, values, &[len])?,
            py.None().into_bound(py),
        )),
        ScalarKind::Uuid => tagged(zero_copy_array::<u8>(py, values, &[len, 16])?, "uuid"),
        ScalarKind::Date => tagged(zero_copy_array::<i64>(py, values, &[len])?, "date"),
        ScalarKind::Timestamp => tagged(zero_copy_array::<i64>(py, values, &[len])?, "timestamp"),
        ScalarKind::Time => tagged(zero_copy_array::<i64>(py, values, &[len])?, "time"),
        ScalarKind::TimeNanos => tagged(zero_copy_array::<i64>(py, values, &[len])?, "time_ns"),
        ScalarKind::Decimal => tagged(zero_copy_array::<f64>(py, values, &[len])?, "decimal"),
        ScalarKind::Enum { type_id } => Ok((
            zero_copy_array::<i32>(py, values, &[len])?,
            ("enum", type_id).into_pyobject(py)?.into_any(),
        )),
    }
}

/// Named columns as `{name: column}`, in their order.
pub(crate) fn columns_to_py<'py>(
    py: Python<'py>,
    columns: Vec<(String, Column)>,
) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    for (name, column) in columns {
        dict.set_item(name, column_to_py(py, column)?)?;
    }
    Ok(dict)
}

/// `(rows, {name: column})`, columns in the cursor's order (key, val for scans).
pub(crate) fn batch_to_py<'py>(py: Python<'py>, batch: Batch) -> PyResult<Bound<'py, PyTuple>> {
    (batch.len, columns_to_py(py, batch.columns)?).into_pyobject(py)
}
