"""How decoded columns look in Python.

A batch is a dict ``{"key": column, "val": column}``. A column is one of:

===========================================  ==============================================================
Ignite type                                  numpy form
===========================================  ==============================================================
byte, short, int, long                       ``uint8`` (Java bytes, as the original IgniteDataset), ``int16``,
                                             ``int32``, ``int64`` (Ignite 3's TINYINT, a number: ``int8``)
float, double, char, bool                    ``float32``, ``float64``, ``uint16`` (UTF-16 unit), ``bool``
String                                       ``S<width>`` bytes (UTF-8), padded to the longest; with
                                             ``strings="str"`` numpy 2's ``StringDType`` (None at nulls),
                                             ``strings="arrow"`` a ``pyarrow.StringArray`` (no copy)
UUID                                         ``uint8`` array ``(rows, 16)``, canonical byte order
                                             (``uuid.UUID(bytes=row.tobytes())``); :func:`uuid_strings` for text
Date                                         ``datetime64[ms]``
Timestamp                                    ``datetime64[ns]`` (Ignite keeps nanoseconds)
Time                                         ``timedelta64[ms]`` since midnight (Ignite 3's TIME:
                                             ``timedelta64[ns]``, it keeps nanoseconds)
Decimal                                      ``float64`` (nearest); ``decimal_as_string=True`` gives the exact
                                             value as ``S<width>`` strings (``decimal.Decimal(s.decode())``)
Enum, binary enum                            ``int32`` ordinal; ``Client.enum_values(type)`` gives the names
primitive arrays, all of one length          2-D array ``(rows, length)``
primitive arrays of varying length           :class:`Ragged` of the element dtype
String[], UUID[], Date[], Timestamp[],       :class:`Ragged` whose ``values`` is the element column
Time[], Decimal[], Enum[], Object[],
Collection (any kind)
Map                                          :class:`Ragged` whose ``values`` is ``{"key": col, "value": col}``
object                                       dict of its fields' columns, sorted by name
null                                         ``numpy.ma.MaskedArray`` (``valid`` on :class:`Ragged`); a null
                                             object masks all its fields in that row
===========================================  ==============================================================

All arrays are views of 64-byte-aligned buffers filled in Rust: nothing is copied on the way to numpy,
except strings in their ``S`` form (padded from the decoded offsets and bytes, one copy) and ``str`` form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from . import _native
from .errors import InvalidArgumentError

_LOGICAL_VIEWS = {
    "date": "datetime64[ms]",
    "timestamp": "datetime64[ns]",
    "time": "timedelta64[ms]",
    "time_ns": "timedelta64[ns]",
}


@dataclass(frozen=True)
class Ragged:
    """Variable-length rows: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    ``values`` is a column of any form (an array, strings, a dict of object fields, another
    ``Ragged``); ``kind`` is ``"list"`` or ``"map"`` (then ``values`` is ``{"key": ..., "value": ...}``).
    ``valid`` (bool per row) is ``None`` when no row is null; a null row is empty.
    """

    values: Any
    offsets: np.ndarray
    valid: np.ndarray | None = None
    kind: str = "list"

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> Any:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} out of range for {n} rows")
        if self.valid is not None and not self.valid[i]:
            return None
        return _rows(self.values, int(self.offsets[i]), int(self.offsets[i + 1]))

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self)))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def dtype(self) -> np.dtype | None:
        return getattr(self.values, "dtype", None)

    def to_list(self) -> list[Any]:
        """Plain Python values, row by row (a convenience, not a fast path)."""
        return to_pylist(self)


def _rows(values: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of any column form."""
    if isinstance(values, dict):
        return {name: _rows(col, start, stop) for name, col in values.items()}
    if isinstance(values, Ragged):
        valid = None if values.valid is None else values.valid[start:stop]
        return Ragged(values.values, values.offsets[start : stop + 1], valid, values.kind)
    return values[start:stop]


def _column_len(column: Any) -> int:
    if isinstance(column, dict):
        return _column_len(next(iter(column.values()))) if column else 0
    return len(column)


def to_pylist(column: Any) -> list[Any]:
    """Any column as a list of plain Python values, one per row: nulls as None, lists as lists,
    maps as dicts, objects as dicts (a convenience for inspection and tests, not a fast path)."""
    if isinstance(column, Ragged):
        if column.kind == "map":
            inner = list(zip(to_pylist(column.values["key"]), to_pylist(column.values["value"])))
        else:
            inner = to_pylist(column.values)
        out: list[Any] = []  # offsets index the whole values column, also in a slice of rows
        for i in range(len(column)):
            if column.valid is not None and not column.valid[i]:
                out.append(None)
                continue
            segment = inner[int(column.offsets[i]) : int(column.offsets[i + 1])]
            out.append(dict(segment) if column.kind == "map" else segment)
        return out
    if isinstance(column, dict):
        fields = {name: to_pylist(col) for name, col in column.items()}
        return [{name: values[i] for name, values in fields.items()} for i in range(_column_len(column))]
    if isinstance(column, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(column)
        if mask.ndim > 1:
            mask = np.any(mask.reshape(len(mask), -1), axis=1)
        return [None if m else v for v, m in zip(column.data.tolist(), mask.tolist())]
    return cast(list[Any], column.tolist())


def _masked(values: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    if valid is None:
        return values
    mask = ~valid
    if values.ndim == 2:
        mask = np.broadcast_to(mask[:, None], values.shape)
    return np.ma.MaskedArray(values, mask=mask)


# ---- The native column contract ----------------------------------------------------------------
# The Rust extension hands each column over as a tagged tuple (documented in ``_native.pyi``). This
# module is the only one that reads those tuples: :func:`column_from_native` turns them into the named
# types below, once per column and batch, and everything else works with the names.


@dataclass(frozen=True, slots=True)
class PrimColumn:
    """One primitive per row. ``logical`` says how to read the values: None (as they are),
    ``"uuid"`` (``(rows, 16)`` bytes), ``"date"``/``"time"`` (int64 ms), ``"timestamp"``/``"time_ns"`` (int64 ns),
    ``"decimal"`` (float64), or ``("enum", type_id)`` (int32 ordinals)."""

    values: np.ndarray
    valid: np.ndarray | None
    logical: Any = None


@dataclass(frozen=True, slots=True)
class FixedColumn:
    """Primitive arrays of one length: a ``(rows, length)`` array."""

    values: np.ndarray
    valid: np.ndarray | None


@dataclass(frozen=True, slots=True)
class VarColumn:
    """Primitive arrays of varying length: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``."""

    values: np.ndarray
    offsets: np.ndarray
    valid: np.ndarray | None


@dataclass(frozen=True, slots=True)
class StrColumn:
    """UTF-8 strings in Arrow's layout: row ``i`` is ``data[offsets[i]:offsets[i + 1]]`` (``data``
    uint8, ``offsets`` int32, or int64 past 2 GiB of text), a null row empty; ``logical`` is
    ``"decimal"`` for exact decimals given as text."""

    offsets: np.ndarray
    data: np.ndarray
    valid: np.ndarray | None
    logical: str | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def padded(self) -> np.ndarray:
        """numpy's ``S<width>`` form: each string padded with zero bytes to the longest (one copy)."""
        raw = _native.padded_strings(self.offsets, self.data)
        return raw.view(f"S{raw.shape[1]}").reshape(raw.shape[0])

    def to_str(self) -> np.ndarray:
        """numpy 2's variable-width ``StringDType(na_object=None)``, None at nulls (packed by numpy's
        C API, no Python object per value)."""
        return _native.string_dtype_array(self.offsets, self.data, self.valid)

    def to_arrow(self) -> Any:
        """A ``pyarrow`` ``StringArray`` (``LargeStringArray`` with int64 offsets) over these
        buffers, without a copy (the arrays keep them alive); nulls as its validity bits."""
        import pyarrow as pa

        kind = pa.StringArray if self.offsets.dtype == np.int32 else pa.LargeStringArray
        validity = None if self.valid is None else pa.array(self.valid, type=pa.bool_()).buffers()[1]
        return kind.from_buffers(len(self), pa.py_buffer(self.offsets), pa.py_buffer(self.data), validity)


@dataclass(frozen=True, slots=True)
class ListColumn:
    """Lists of any column: row ``i`` is rows ``offsets[i]:offsets[i + 1]`` of ``child``."""

    offsets: np.ndarray
    child: Column
    valid: np.ndarray | None


@dataclass(frozen=True, slots=True)
class MapColumn:
    """Maps: row ``i`` holds the pairs ``offsets[i]:offsets[i + 1]`` of ``keys`` and ``values``."""

    offsets: np.ndarray
    keys: Column
    values: Column
    valid: np.ndarray | None


@dataclass(frozen=True, slots=True)
class StructColumn:
    """Objects: a column per field, sorted by name; ``length`` rows (also with no fields)."""

    type_name: str | None
    fields: dict[str, Column]
    length: int


@dataclass(frozen=True, slots=True)
class NullColumn:
    """Rows that are all null (a field no entry of the batch has)."""

    length: int


Column = PrimColumn | FixedColumn | VarColumn | StrColumn | ListColumn | MapColumn | StructColumn | NullColumn


def column_from_native(native: tuple[Any, ...]) -> Column:
    """A column from ``_native`` (a tagged tuple) as its named type: a few Python operations per
    column and batch, none per row."""
    tag = native[0]
    if tag == "prim":
        return PrimColumn(native[1], native[2], native[3])
    if tag == "fixed":
        return FixedColumn(native[1], native[2])
    if tag == "str":
        return StrColumn(native[1], native[2], native[3], native[4])
    if tag == "var":
        return VarColumn(native[1], native[2], native[3])
    if tag == "list":
        return ListColumn(native[1], column_from_native(native[2]), native[3])
    if tag == "map":
        return MapColumn(native[1], column_from_native(native[2]), column_from_native(native[3]), native[4])
    if tag == "struct":
        return StructColumn(native[1], {name: column_from_native(c) for name, c in native[2].items()}, native[3])
    if tag == "null":
        return NullColumn(native[1])
    raise AssertionError(f"unknown native column tag {tag!r}")


def batch_from_native(native: dict[str, tuple[Any, ...]]) -> dict[str, Column]:
    """A batch of native columns (``{"key": ..., "val": ...}`` or SQL columns) as named columns."""
    return {name: column_from_native(col) for name, col in native.items()}


#: The forms strings can take in numpy batches (``strings=``): ``"bytes"`` (``S<width>``, padded),
#: ``"str"`` (numpy 2's ``StringDType``), ``"arrow"`` (``pyarrow.StringArray``, no copy).
STRING_FORMS = ("bytes", "str", "arrow")


def check_strings(strings: str) -> str:
    """``strings`` if it names one of :data:`STRING_FORMS` (checked before anything is read)."""
    if strings not in STRING_FORMS:
        raise InvalidArgumentError(f"strings must be one of {', '.join(map(repr, STRING_FORMS))}, got {strings!r}")
    return strings


def to_numpy(column: Column, strings: str = "bytes") -> Any:
    """The numpy form of a column (see the table above): views of the column's buffers, no copy;
    ``strings`` is the form of text columns (one of :data:`STRING_FORMS`; exact decimals as
    text are always ``S``)."""
    if isinstance(column, PrimColumn):
        values, logical = column.values, column.logical
        if isinstance(logical, str) and logical in _LOGICAL_VIEWS:
            values = values.view(_LOGICAL_VIEWS[logical])
        return _masked(values, column.valid)
    if isinstance(column, FixedColumn):
        return _masked(column.values, column.valid)
    if isinstance(column, StrColumn):
        if strings == "str" and column.logical is None:
            return column.to_str()
        if strings == "arrow" and column.logical is None:
            return column.to_arrow()
        return _masked(column.padded(), column.valid)
    if isinstance(column, VarColumn):
        return Ragged(column.values, column.offsets, column.valid)
    if isinstance(column, ListColumn):
        return Ragged(to_numpy(column.child, strings), column.offsets, column.valid)
    if isinstance(column, MapColumn):
        keys, values = to_numpy(column.keys, strings), to_numpy(column.values, strings)
        return Ragged({"key": keys, "value": values}, column.offsets, column.valid, "map")
    if isinstance(column, StructColumn):
        return {name: to_numpy(col, strings) for name, col in column.fields.items()}
    return np.ma.masked_all(column.length, dtype=np.float64)


def batch_to_numpy(batch: dict[str, Column], strings: str = "bytes") -> dict[str, Any]:
    return {name: to_numpy(col, strings) for name, col in batch.items()}


# Ignite's primitive type names by the numpy dtype of their columns (the bindings own the list).
_DTYPE_NAMES = {dtype: name for name, dtype in _native.PRIMITIVE_DTYPES.items()}


def describe(column: Column, enum_name: Callable[[int], str] = str) -> Any:
    """The type of a column: a type name, ``("list", element)``, ``("map", key, value)``, or a
    dict of field types for objects."""
    if isinstance(column, StructColumn):
        return {name: describe(col, enum_name) for name, col in column.fields.items()}
    if isinstance(column, NullColumn):
        return "null"
    if isinstance(column, StrColumn):
        return "decimal" if column.logical == "decimal" else "string"
    if isinstance(column, ListColumn):
        return ("list", describe(column.child, enum_name))
    if isinstance(column, MapColumn):
        return ("map", describe(column.keys, enum_name), describe(column.values, enum_name))
    if isinstance(column, PrimColumn) and column.logical is not None:
        logical = column.logical
        return f"enum<{enum_name(logical[1])}>" if isinstance(logical, tuple) else logical
    assert isinstance(column, (PrimColumn, FixedColumn, VarColumn))
    name = _DTYPE_NAMES[column.values.dtype.name]
    return name if isinstance(column, PrimColumn) else name + "[]"


def nbytes(column: Column | dict[str, Column]) -> int:
    """Bytes of the arrays of a column, or of a batch of them."""
    if isinstance(column, dict):
        return sum(nbytes(c) for c in column.values())
    if isinstance(column, StructColumn):
        return nbytes(column.fields)
    if isinstance(column, NullColumn):
        return 0
    total = 0
    for part in (getattr(column, name) for name in column.__slots__):
        if isinstance(part, np.ndarray):
            total += part.nbytes
        elif not isinstance(part, (str, tuple, type(None))):
            total += nbytes(part)
    return total


def concat(columns: list[Column]) -> Column | None:
    """One column from several of the same type, in order; None when they cannot be merged
    cheaply (lists, maps and arrays of varying length, or different shapes or types)."""
    first = columns[0]
    if any(type(c) is not type(first) for c in columns):
        return None
    # every column has first's type (checked above): the casts below only tell mypy so
    if isinstance(first, (PrimColumn, FixedColumn)):
        arrays = cast("list[PrimColumn | FixedColumn]", columns)
        values = [c.values for c in arrays]
        if any(v.dtype != values[0].dtype or v.shape[1:] != values[0].shape[1:] for v in values):
            return None
        valid = _concat_valid([c.valid for c in arrays], [len(v) for v in values])
        if isinstance(first, FixedColumn):
            return FixedColumn(np.concatenate(values), valid)
        if any(c.logical != first.logical for c in cast("list[PrimColumn]", columns)):
            return None
        return PrimColumn(np.concatenate(values), valid, first.logical)
    if isinstance(first, StrColumn):
        strs = cast("list[StrColumn]", columns)
        if any(c.logical != first.logical for c in strs):
            return None
        pieces = [c.data[c.offsets[0] : c.offsets[-1]] for c in strs]  # each column's own bytes
        size = sum(len(p) for p in pieces)
        offsets = np.empty(sum(len(c) for c in strs) + 1, np.int32 if size < 2**31 else np.int64)
        offsets[0] = row = at = 0
        for c, piece in zip(strs, pieces):
            offsets[row + 1 : row + len(c) + 1] = c.offsets[1:] - c.offsets[0] + at
            row, at = row + len(c), at + len(piece)
        valid = _concat_valid([c.valid for c in strs], [len(c) for c in strs])
        return StrColumn(offsets, np.concatenate(pieces), valid, first.logical)
    if isinstance(first, StructColumn):
        structs = cast("list[StructColumn]", columns)
        if any(c.type_name != first.type_name or c.fields.keys() != first.fields.keys() for c in structs):
            return None
        fields = {}
        for name in first.fields:
            if (field := concat([c.fields[name] for c in structs])) is None:
                return None
            fields[name] = field
        return StructColumn(first.type_name, fields, sum(c.length for c in structs))
    return None


def concat_batches(batches: list[dict[str, Column]]) -> dict[str, Column] | None:
    """One batch from several with the same columns; None when some column cannot be merged."""
    merged = {}
    for name in batches[0]:
        if any(name not in b for b in batches) or (column := concat([b[name] for b in batches])) is None:
            return None
        merged[name] = column
    return merged if all(len(b) == len(merged) for b in batches) else None


def _concat_valid(valids: list[np.ndarray | None], lengths: list[int]) -> np.ndarray | None:
    if all(v is None for v in valids):
        return None
    return np.concatenate([np.ones(n, bool) if v is None else v for v, n in zip(valids, lengths)])


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def uuid_strings(column: np.ndarray) -> np.ndarray:
    """Canonical text (``S36``, e.g. ``b"123e4567-e89b-12d3-a456-426614174000"``) of a UUID column,
    without a Python object per row."""
    data = np.ma.getdata(column).reshape(-1, 16)
    hexes = np.empty((len(data), 32), dtype=np.uint8)
    hexes[:, 0::2] = _HEX[data >> 4]
    hexes[:, 1::2] = _HEX[data & 0x0F]
    out = np.full((len(data), 36), ord("-"), dtype=np.uint8)
    for (src_a, src_b), dst in zip(((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)), (0, 9, 14, 19, 24)):
        out[:, dst : dst + src_b - src_a] = hexes[:, src_a:src_b]
    return out.view("S36").reshape(len(data))
