"""Arrow output (optional: ``pip install ignite_fast[arrow]``): batches as ``pyarrow.RecordBatch``
with native Arrow types, built from the decoded column buffers. Each batch's types follow its own
data (a decimal's precision, a list's fixed size); ``Client.to_arrow`` widens them to one schema.

=====================  ==============================================================
Ignite                 Arrow
=====================  ==============================================================
primitives             int8..int64 (Java byte as uint8), float32/64, uint16 (char), bool
String                 utf8
UUID                   fixed_size_binary(16), canonical byte order
Date                   timestamp[ms]
Timestamp              timestamp[ns]
Time                   time32[ms] (duration[ms] if a value lies outside one day)
Decimal                decimal128(precision, scale) from the exact value (float64 with
                       ``exact_decimals=False``)
Enum                   int32 ordinal
arrays, collections    large_list<element> (fixed_size_list for primitive arrays of one length)
Map                    map<key, value>
object                 struct (top-level value objects are flattened into columns)
null                   validity bits
=====================  ==============================================================

Primitive buffers are shared with Arrow without a copy; strings are repacked from their padded
numpy form (vectorized, no Python object per row); exact decimals are parsed per value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

try:
    import pyarrow as pa
except ImportError as e:  # pragma: no cover - exercised only without pyarrow
    raise ImportError("Arrow output needs pyarrow: pip install 'ignite_fast[arrow]'") from e

_MS_PER_DAY = 86_400_000


def _validity(valid: np.ndarray | None) -> pa.Buffer | None:
    if valid is None:
        return None
    return pa.array(valid, type=pa.bool_()).buffers()[1]


def _mask(valid: np.ndarray | None) -> pa.Array | None:
    return None if valid is None else pa.array(~valid, type=pa.bool_())


def _strings(raw: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    """Padded (rows, width) bytes -> utf8 without a Python object per row."""
    n, width = raw.shape
    lengths = np.char.str_len(raw.view(f"S{width}").reshape(n)) if n else np.zeros(0, np.int64)
    data = raw[np.arange(width)[None, :] < lengths[:, None]]
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] < 2**31:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data), _validity(valid))
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), _validity(valid))


def _decimals(raw: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    texts = _strings(raw, valid).to_pylist()
    values = [None if t is None else Decimal(t) for t in texts]
    exponents = [v.as_tuple().exponent for v in values if v is not None]
    scale = max([-e for e in exponents if e < 0], default=0)
    digits = max([len(v.as_tuple().digits) + max(0, scale + v.as_tuple().exponent) for v in values if v is not None], default=1)
    precision = min(max(digits, scale + 1, 1), 38)
    return pa.array(values, type=pa.decimal128(precision, scale))


def from_native(column: tuple) -> pa.Array:
    """One native column (see ``_native.pyi``) as an Arrow array."""
    tag = column[0]
    if tag == "null":
        return pa.nulls(column[1])
    if tag == "prim":
        values, valid, logical = column[1], column[2], column[3]
        if logical is None or isinstance(logical, tuple) or logical == "decimal":
            return pa.array(values, mask=None if valid is None else ~valid)
        if logical == "uuid":
            return pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), len(values), [_validity(valid), pa.py_buffer(values)])
        if logical == "date":
            return pa.array(values.view("datetime64[ms]"), type=pa.timestamp("ms"), mask=None if valid is None else ~valid)
        if logical == "timestamp":
            return pa.array(values.view("datetime64[ns]"), type=pa.timestamp("ns"), mask=None if valid is None else ~valid)
        if logical == "time":
            if len(values) == 0 or (values.min() >= 0 and values.max() < _MS_PER_DAY):
                return pa.array(values.astype(np.int32), type=pa.time32("ms"), mask=None if valid is None else ~valid)
            return pa.array(values, type=pa.duration("ms"), mask=None if valid is None else ~valid)
    if tag == "str":
        return _decimals(column[1], column[2]) if column[3] == "decimal" else _strings(column[1], column[2])
    if tag == "fixed":
        values, valid = column[1], column[2]
        flat = pa.array(values.reshape(-1))
        if values.shape[1] == 0:  # Arrow has no zero-size fixed lists: empty variable lists
            return pa.LargeListArray.from_arrays(pa.array(np.zeros(len(values) + 1, np.int64)), flat, mask=_mask(valid))
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1], mask=_mask(valid))
    if tag == "var":
        return pa.LargeListArray.from_arrays(pa.array(column[2]), pa.array(column[1]), mask=_mask(column[3]))
    if tag == "list":
        return pa.LargeListArray.from_arrays(pa.array(column[1]), from_native(column[2]), mask=_mask(column[3]))
    if tag == "map":
        offsets = pa.array(column[1].astype(np.int32))
        return pa.MapArray.from_arrays(offsets, from_native(column[2]), from_native(column[3]), mask=_mask(column[4]))
    if tag == "struct":
        fields = column[2]
        if not fields:
            return pa.nulls(column[3])
        return pa.StructArray.from_arrays([from_native(c) for c in fields.values()], names=list(fields))
    raise AssertionError(f"unknown column tag {tag!r}")


def record_batch(columns: dict[str, tuple]) -> pa.RecordBatch:
    """A batch of native columns as a RecordBatch; a value object is flattened into its fields
    (``key`` keeps its name; a field that is also called ``key`` becomes ``val.key``)."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    for name, column in columns.items():
        if name == "val" and column[0] == "struct" and column[2]:
            for field, child in column[2].items():
                names.append(f"val.{field}" if field in columns else field)
                arrays.append(from_native(child))
        else:
            names.append(name)
            arrays.append(from_native(column))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def table(batches: list[pa.RecordBatch]) -> Any:
    """One table from a scan's batches. Types that depend on the data of a batch (decimal
    precision and scale, fixed-size vs variable lists, time vs duration) are widened to one
    schema for the whole table."""
    if not batches:
        return pa.table({})
    return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="permissive")
