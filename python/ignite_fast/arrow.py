"""Arrow output (optional: ``pip install ignite_fast[arrow]``): batches as ``pyarrow.RecordBatch``
with native Arrow types, built from the decoded column buffers. Each batch's types follow its own
data (a decimal's precision, a list's fixed size); ``Client.to_arrow`` widens them to one schema.

=====================  ==============================================================
Ignite                 Arrow
=====================  ==============================================================
primitives             int8..int64 (Java byte as uint8), float32/64, uint16 (char), bool
String                 utf8 (large_utf8 past 2 GiB of text in a batch)
UUID                   fixed_size_binary(16), canonical byte order
Date                   timestamp[ms]
Timestamp              timestamp[ns]
Time                   time32[ms] (duration[ms] if a value lies outside one day)
Decimal                decimal128(precision, scale) from the exact value, decimal256 past 38
                       digits, SchemaError past 76 (float64 with ``decimal_as_string=False``)
Enum                   int32 ordinal
arrays, collections    large_list<element> (fixed_size_list for primitive arrays of one length)
Map                    map<key, value>
object                 struct (top-level value objects are flattened into columns)
null                   validity bits
=====================  ==============================================================

Primitive buffers and strings (offsets and UTF-8 bytes, Arrow's own layout) are shared with Arrow
without a copy; exact decimals are parsed per value.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

import numpy as np

from .columns import (
    Column,
    FixedColumn,
    ListColumn,
    MapColumn,
    NullColumn,
    PrimColumn,
    StrColumn,
    StructColumn,
    VarColumn,
)
from .errors import SchemaError

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


# decimal256's precision; decimal128 holds 38 digits.
MAX_ARROW_DECIMAL_DIGITS = 76


def _decimals(column: StrColumn) -> pa.Array:
    texts = column.to_arrow().to_pylist()
    values = [None if t is None else Decimal(t) for t in texts]
    exponents = [_exponent(v) for v in values if v is not None]
    scale = max([-e for e in exponents if e < 0], default=0)
    digits = max([len(v.as_tuple().digits) + max(0, scale + _exponent(v)) for v in values if v is not None], default=1)
    precision = max(digits, scale + 1, 1)
    if precision > MAX_ARROW_DECIMAL_DIGITS:
        widest = max((v for v in values if v is not None), key=lambda v: len(v.as_tuple().digits) + abs(_exponent(v)))
        raise SchemaError(
            f"a decimal column holds values of {precision} digits (such as {widest:.6E}): Arrow's decimals "
            f"hold {MAX_ARROW_DECIMAL_DIGITS} at most; read it with decimal_as_string=False (float64)"
        )
    kind = pa.decimal128 if precision <= 38 else pa.decimal256
    return pa.array(values, type=kind(precision, scale))


def _exponent(value: Decimal) -> int:
    # Ignite decimals are finite, so the exponent is an int (never NaN's 'n'/'N' or infinity's 'F')
    return cast(int, value.as_tuple().exponent)


def to_arrow_array(column: Column) -> pa.Array:
    """One column as an Arrow array."""
    if isinstance(column, NullColumn):
        return pa.nulls(column.length)
    if isinstance(column, PrimColumn):
        values, valid, logical = column.values, column.valid, column.logical
        mask = None if valid is None else ~valid
        if logical is None or isinstance(logical, tuple) or logical == "decimal":
            return pa.array(values, mask=mask)
        if logical == "uuid":
            return pa.FixedSizeBinaryArray.from_buffers(
                pa.binary(16), len(values), [_validity(valid), pa.py_buffer(values)]
            )
        if logical == "date":
            return pa.array(values.view("datetime64[ms]"), type=pa.timestamp("ms"), mask=mask)
        if logical == "timestamp":
            return pa.array(values.view("datetime64[ns]"), type=pa.timestamp("ns"), mask=mask)
        if logical == "time":
            if len(values) == 0 or (values.min() >= 0 and values.max() < _MS_PER_DAY):
                return pa.array(values.astype(np.int32), type=pa.time32("ms"), mask=mask)
            return pa.array(values, type=pa.duration("ms"), mask=mask)
        if logical == "time_ns":  # Ignite 3's TIME: always within a day
            return pa.array(values, type=pa.time64("ns"), mask=mask)
        raise AssertionError(f"unknown logical type {logical!r}")
    if isinstance(column, StrColumn):
        if column.logical == "decimal":
            return _decimals(column)
        return column.to_arrow()
    if isinstance(column, FixedColumn):
        values = column.values
        flat = pa.array(values.reshape(-1))
        if values.shape[1] == 0:  # Arrow has no zero-size fixed lists: empty variable lists
            return pa.LargeListArray.from_arrays(
                pa.array(np.zeros(len(values) + 1, np.int64)), flat, mask=_mask(column.valid)
            )
        return pa.FixedSizeListArray.from_arrays(flat, values.shape[1], mask=_mask(column.valid))
    if isinstance(column, VarColumn):
        return pa.LargeListArray.from_arrays(
            pa.array(column.offsets), pa.array(column.values), mask=_mask(column.valid)
        )
    if isinstance(column, ListColumn):
        return pa.LargeListArray.from_arrays(
            pa.array(column.offsets), to_arrow_array(column.child), mask=_mask(column.valid)
        )
    if isinstance(column, MapColumn):
        offsets = pa.array(column.offsets.astype(np.int32))
        return pa.MapArray.from_arrays(
            offsets, to_arrow_array(column.keys), to_arrow_array(column.values), mask=_mask(column.valid)
        )
    assert isinstance(column, StructColumn)
    if not column.fields:
        return pa.nulls(column.length)
    return pa.StructArray.from_arrays([to_arrow_array(c) for c in column.fields.values()], names=list(column.fields))


def to_record_batch(columns: dict[str, Column]) -> pa.RecordBatch:
    """A batch of columns as a RecordBatch; a value object is flattened into its fields
    (``key`` keeps its name; a field that is also called ``key`` becomes ``val.key``)."""
    names: list[str] = []
    arrays: list[pa.Array] = []
    for name, column in columns.items():
        if name == "val" and isinstance(column, StructColumn) and column.fields:
            for field, child in column.fields.items():
                names.append(f"val.{field}" if field in columns else field)
                arrays.append(to_arrow_array(child))
        else:
            names.append(name)
            arrays.append(to_arrow_array(column))
    return pa.RecordBatch.from_arrays(arrays, names=names)


def to_table(batches: list[pa.RecordBatch]) -> Any:
    """One table from a scan's batches. Types that depend on the data of a batch (decimal
    precision and scale, fixed-size vs variable lists, time vs duration) are widened to one
    schema for the whole table."""
    if not batches:
        return pa.table({})
    return pa.concat_tables([pa.Table.from_batches([b]) for b in batches], promote_options="permissive")
