"""TensorFlow forms of decoded columns: the ``TypeSpec`` of each column (from its named type in
:mod:`ignite_fast.columns`), and the conversion of a batch's numpy form to values that fit it, with no
per-row Python work.

============================  ======================================================================
column                        TensorFlow
============================  ======================================================================
primitives                    the same dtypes (Java byte as ``uint8``)
String, exact decimal text    ``tf.string``
UUID                          ``tf.string``, canonical text (spec name ``uuid``)
Date / Timestamp / Time       ``int64`` ms / ns / ms (spec names ``date_ms``, ``timestamp_ns``, ``time_ms``)
Decimal                       ``float64``
Enum                          ``int32`` (spec name ``enum_ordinal``)
arrays of one length          dense ``(batch, length)`` when batched
arrays of varying length      ``tf.RaggedTensor``; per element a ``[None]`` tensor
lists of objects, maps        one ``tf.RaggedTensor`` per field (maps: ``{"key": ..., "value": ...}``)
object                        dict of its fields, sorted by name
============================  ======================================================================
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import tensorflow as tf

from ignite_fast.columns import (
    Column,
    FixedColumn,
    ListColumn,
    MapColumn,
    NullColumn,
    PrimColumn,
    Ragged,
    StrColumn,
    StructColumn,
    VarColumn,
    uuid_strings,
)
from ignite_fast.errors import InvalidArgumentError, UnsupportedTypeError

_DTYPES = {
    "uint8": tf.uint8,
    "int8": tf.int8,  # Ignite 3 TINYINT
    "int16": tf.int16,
    "int32": tf.int32,
    "int64": tf.int64,
    "float32": tf.float32,
    "float64": tf.float64,
    "uint16": tf.uint16,
    "bool": tf.bool,
}

#: int64 columns of times: the spec's name carries the unit.
_TIME_NAMES = {"date": "date_ms", "time": "time_ms", "time_ns": "time_ns", "timestamp": "timestamp_ns"}

#: The spec of a dataset with no rows: nothing to take the element structure from.
EMPTY_SPEC = {"key": tf.TensorSpec([None], tf.int64), "val": tf.TensorSpec([None], tf.int64)}


#: How primitive arrays are given in a batch: ``"dense"`` (arrays of one length as ``(batch, length)``,
#: others ragged; the batched fast path), ``"ragged"`` (always ``tf.RaggedTensor``), or ``"runs"``
#: (``(rows, length)`` tensors of runs of rows of one length: per element a plain ``[None]`` tensor,
#: as the original IgniteDataset gave, so that ``.batch()`` makes dense tensors).
ARRAY_FORMS = ("dense", "ragged", "runs")


def _flat_spec(column: Column, arrays: str, path: str) -> tf.TypeSpec:
    """A batched spec (leading batch dimension) for a column whose rows are single values."""
    if isinstance(column, StrColumn):
        return tf.TensorSpec([None], tf.string)
    if isinstance(column, NullColumn):
        return tf.TensorSpec([None], tf.float64)
    if isinstance(column, PrimColumn):
        logical = column.logical
        if logical is None:
            return tf.TensorSpec([None], _DTYPES[column.values.dtype.name])
        if logical == "uuid":
            return tf.TensorSpec([None], tf.string, name="uuid")
        if logical in _TIME_NAMES:  # int64 with the unit in the spec's name
            return tf.TensorSpec([None], tf.int64, name=_TIME_NAMES[logical])
        if logical == "decimal":
            return tf.TensorSpec([None], tf.float64)
        return tf.TensorSpec([None], tf.int32, name="enum_ordinal")
    if isinstance(column, FixedColumn) and arrays == "dense":
        return tf.TensorSpec([None, column.values.shape[1]], _DTYPES[column.values.dtype.name])
    if isinstance(column, (FixedColumn, VarColumn)) and arrays == "runs":
        return tf.TensorSpec([None, None], _DTYPES[column.values.dtype.name])
    if isinstance(column, (FixedColumn, VarColumn)):
        return tf.RaggedTensorSpec(
            [None, None], _DTYPES[column.values.dtype.name], ragged_rank=1, row_splits_dtype=tf.int64
        )
    raise UnsupportedTypeError(f"column '{path}' ({type(column).__name__}) has no flat TensorFlow form")


def ragged_of(spec: tf.TensorSpec) -> tf.RaggedTensorSpec:
    return tf.RaggedTensorSpec([None, None], spec.dtype, ragged_rank=1, row_splits_dtype=tf.int64)


def batch_spec(column: Column, arrays: str, path: str) -> Any:
    """The batched TypeSpec structure of a column (``arrays``: one of :data:`ARRAY_FORMS`)."""
    if isinstance(column, StructColumn):
        return {name: batch_spec(col, arrays, f"{path}.{name}") for name, col in column.fields.items()}
    if isinstance(column, (ListColumn, MapColumn)):
        children = (
            {"": column.child} if isinstance(column, ListColumn) else {"key": column.keys, "value": column.values}
        )
        out = {}
        for name, child in children.items():
            if isinstance(child, StructColumn):
                # A list of objects: one ragged tensor per field, sharing row splits.
                out[name] = {f: ragged_of(_flat_spec(c, "ragged", f"{path}[].{f}")) for f, c in child.fields.items()}
            elif isinstance(child, (PrimColumn, StrColumn, NullColumn)):
                out[name] = ragged_of(_flat_spec(child, "ragged", f"{path}[]"))
            else:
                raise UnsupportedTypeError(
                    f"column '{path}' nests lists in lists, which IgniteDataset does not map to "
                    "TensorFlow; read it with Client.scan"
                )
        return out[""] if isinstance(column, ListColumn) else out
    return _flat_spec(column, arrays, path)


def to_tf(value: Any, spec: Any, path: str) -> Any:
    """Fits one column's numpy form to its batched spec (no per-row Python work)."""
    if _all_null(value):
        return _nulls(spec, len(value))
    if isinstance(spec, dict):
        if isinstance(value, Ragged):  # a list of objects (one ragged tensor per field), or a map
            return {
                name: to_tf(Ragged(value.values[name], value.offsets, value.valid), s, f"{path}.{name}")
                for name, s in spec.items()
            }
        return {name: to_tf(value[name], s, f"{path}.{name}") for name, s in spec.items()}
    if isinstance(spec, tf.RaggedTensorSpec):
        if isinstance(value, Ragged):
            return tf.RaggedTensor.from_row_splits(_leaf(value.values, spec.dtype), value.offsets, validate=False)
        return tf.RaggedTensor.from_tensor(np.ma.getdata(value), row_splits_dtype=tf.int64)
    if isinstance(value, Ragged):
        width = spec.shape[1]
        if width is None:  # "runs": cut into runs of one length by split_runs
            return EqualLengthRuns(_leaf(value.values, spec.dtype), np.asarray(value.offsets))
        if not np.all(value.lengths == width):
            raise InvalidArgumentError(
                f"column '{path}' held {width}-element arrays in the first batch and arrays of other "
                "lengths later; pass ragged=True to read it as tf.RaggedTensor"
            )
        return value.values.reshape(len(value), width)
    return _leaf(value, spec.dtype)


def _all_null(value: Any) -> bool:
    """Whether ``value`` is a column of nulls only: a batch where a field is null in every row
    reads it as a column of no type (whatever type the sample gave it)."""
    return isinstance(value, np.ma.MaskedArray) and value.dtype == np.float64 and bool(np.ma.getmaskarray(value).all())


def _nulls(spec: Any, rows: int) -> Any:
    """``rows`` nulls as the defaults of ``spec``: 0, empty strings, empty arrays."""
    if isinstance(spec, dict):
        return {name: _nulls(s, rows) for name, s in spec.items()}
    dtype = spec.dtype.as_numpy_dtype
    if isinstance(spec, tf.RaggedTensorSpec):
        return tf.RaggedTensor.from_row_splits(np.zeros(0, dtype), np.zeros(rows + 1, np.int64), validate=False)
    if spec.shape.rank == 2 and spec.shape[1] is None:  # runs
        return EqualLengthRuns(np.zeros(0, dtype), np.zeros(rows + 1, np.int64))
    return np.zeros([rows, *spec.shape[1:]], "S1" if spec.dtype == tf.string else dtype)


def mask_spec(spec: Any) -> Any:
    """The spec of a column's validity: the same structure with one bool per row at each leaf."""
    if isinstance(spec, dict):
        return {name: mask_spec(s) for name, s in spec.items()}
    return tf.TensorSpec([None], tf.bool)


def mask_value(value: Any, spec: Any) -> Any:
    """True where a row has a value, False where it is null (vectorized)."""
    if _all_null(value):
        return _mask_value_like(np.zeros(len(value), bool), spec)
    if isinstance(spec, dict):
        if isinstance(value, Ragged):  # a list of objects or a map: one validity for the row
            valid = _ragged_valid(value)
            return {name: _mask_value_like(valid, s) for name, s in spec.items()}
        return {name: mask_value(value[name], s) for name, s in spec.items()}
    if isinstance(value, Ragged):
        return _ragged_valid(value)
    mask = np.ma.getmaskarray(value)
    if mask.ndim > 1:
        mask = np.any(mask.reshape(len(mask), -1), axis=1)
    return ~mask


def _ragged_valid(value: Ragged) -> np.ndarray:
    return np.ones(len(value), bool) if value.valid is None else np.asarray(value.valid)


def _mask_value_like(valid: np.ndarray, spec: Any) -> Any:
    if isinstance(spec, dict):
        return {name: _mask_value_like(valid, s) for name, s in spec.items()}
    return valid


def _leaf(value: Any, dtype: tf.DType) -> np.ndarray:
    data = np.ma.getdata(value)
    if dtype == tf.string and data.ndim == 2:  # UUIDs: (rows, 16) bytes -> canonical text
        return uuid_strings(data)
    if data.dtype.kind in "mM":  # datetime64 / timedelta64 -> int64 in the column's unit
        return data.view(np.int64)
    return data


class EqualLengthRuns:
    """A primitive-array column of varying lengths on its way to ``(rows, length)`` tensors of runs
    of rows of one length (see :func:`split_runs`)."""

    def __init__(self, values: np.ndarray, offsets: np.ndarray):
        self.values = values
        self.offsets = offsets

    def dense(self, start: int, stop: int) -> np.ndarray:
        first, last = int(self.offsets[start]), int(self.offsets[stop])
        return self.values[first:last].reshape(stop - start, (last - first) // max(1, stop - start))


def split_runs(element: Any, rows: int) -> list[Any]:
    """A batch converted by :func:`to_tf` cut into runs of rows where every variable-length array
    column has one length, each run with those columns as dense ``(rows, length)`` arrays; one run
    (no copy) when the lengths agree throughout, as they do for arrays of one length."""
    leaves: list[EqualLengthRuns] = []
    _collect_runs(element, leaves)
    if not leaves:
        return [element]
    bounds = _bounds(leaves, rows)
    return [_cut(element, start, stop) for start, stop in itertools.pairwise(bounds)]


def run_bounds(element: Any, rows: int) -> list[int]:
    """The first row of each run :func:`split_runs` cuts, then ``rows``."""
    leaves: list[EqualLengthRuns] = []
    _collect_runs(element, leaves)
    return _bounds(leaves, rows) if leaves else [0, rows]


def _bounds(leaves: list[EqualLengthRuns], rows: int) -> list[int]:
    change = np.zeros(rows, bool)
    change[0] = rows > 0
    for leaf in leaves:
        lengths = np.diff(leaf.offsets)
        change[1:] |= lengths[1:] != lengths[:-1]
    return [*np.flatnonzero(change).tolist(), rows]


def _collect_runs(element: Any, out: list[EqualLengthRuns]) -> None:
    if isinstance(element, dict):
        for value in element.values():
            _collect_runs(value, out)
    elif isinstance(element, EqualLengthRuns):
        out.append(element)


def _cut(element: Any, start: int, stop: int) -> Any:
    if isinstance(element, dict):
        return {name: _cut(value, start, stop) for name, value in element.items()}
    if isinstance(element, EqualLengthRuns):
        return element.dense(start, stop)
    return element[start:stop]
