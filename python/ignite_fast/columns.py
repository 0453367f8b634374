"""How decoded columns look in Python.

A batch is a dict ``{"key": column, "val": column}``. A column is one of:

===========================================  ==============================================================
Ignite type                                  numpy form
===========================================  ==============================================================
byte, short, int, long                       ``uint8`` (Java bytes, as the original IgniteDataset), ``int16``,
                                             ``int32``, ``int64``
float, double, char, bool                    ``float32``, ``float64``, ``uint16`` (UTF-16 unit), ``bool``
String                                       ``S<width>`` bytes (UTF-8); ``np.char.decode(a, "utf-8")`` for str
UUID                                         ``uint8`` array ``(rows, 16)``, canonical byte order
                                             (``uuid.UUID(bytes=row.tobytes())``); :func:`uuid_strings` for text
Date                                         ``datetime64[ms]``
Timestamp                                    ``datetime64[ns]`` (Ignite keeps nanoseconds)
Time                                         ``timedelta64[ms]`` since midnight
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

All arrays are views of 64-byte-aligned buffers filled in Rust: nothing is copied on the way to numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

_LOGICAL_VIEWS = {"date": "datetime64[ms]", "timestamp": "datetime64[ns]", "time": "timedelta64[ms]"}


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

    def to_list(self) -> list:
        """Plain Python values, row by row (a convenience, not a fast path)."""
        return to_pylist(self)


def _rows(values: Any, start: int, stop: int) -> Any:
    """Rows ``start:stop`` of any column form."""
    if isinstance(values, dict):
        return {name: _rows(col, start, stop) for name, col in values.items()}
    if isinstance(values, Ragged):
        valid = None if values.valid is None else values.valid[start:stop]
        return Ragged(values.values, values.offsets[start:stop + 1], valid, values.kind)
    return values[start:stop]


def _column_len(column: Any) -> int:
    if isinstance(column, dict):
        return _column_len(next(iter(column.values()))) if column else 0
    return len(column)


def to_pylist(column: Any) -> list:
    """Any column as a list of plain Python values, one per row: nulls as None, lists as lists,
    maps as dicts, objects as dicts (a convenience for inspection and tests, not a fast path)."""
    if isinstance(column, Ragged):
        if column.kind == "map":
            inner = list(zip(to_pylist(column.values["key"]), to_pylist(column.values["value"])))
        else:
            inner = to_pylist(column.values)
        out = []  # offsets index the whole values column, also in a slice of rows
        for i in range(len(column)):
            if column.valid is not None and not column.valid[i]:
                out.append(None)
                continue
            segment = inner[int(column.offsets[i]):int(column.offsets[i + 1])]
            out.append(dict(segment) if column.kind == "map" else segment)
        return out
    if isinstance(column, dict):
        fields = {name: to_pylist(col) for name, col in column.items()}
        return [{name: values[i] for name, values in fields.items()} for i in range(_column_len(column))]
    if isinstance(column, np.ma.MaskedArray):
        mask = np.ma.getmaskarray(column)
        if mask.ndim > 1:
            mask = mask.reshape(len(mask), -1).any(axis=1)
        return [None if m else v for v, m in zip(column.data.tolist(), mask.tolist())]
    return column.tolist()


def _masked(values: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    if valid is None:
        return values
    mask = ~valid
    if values.ndim == 2:
        mask = np.broadcast_to(mask[:, None], values.shape)
    return np.ma.MaskedArray(values, mask=mask)


def from_native(column: tuple) -> Any:
    """Turns a column from ``_native`` (a tagged tuple) into numpy objects: a few Python
    operations per column and batch, none per row."""
    tag = column[0]
    if tag == "prim":
        values, valid, logical = column[1], column[2], column[3]
        if isinstance(logical, str) and logical in _LOGICAL_VIEWS:
            values = values.view(_LOGICAL_VIEWS[logical])
        return _masked(values, valid)
    if tag == "fixed":
        return _masked(column[1], column[2])
    if tag == "str":
        raw = column[1]
        strings = raw.view(f"S{raw.shape[1]}").reshape(raw.shape[0])
        return _masked(strings, column[2])
    if tag == "var":
        return Ragged(column[1], column[2], column[3])
    if tag == "list":
        return Ragged(from_native(column[2]), column[1], column[3])
    if tag == "map":
        return Ragged({"key": from_native(column[2]), "value": from_native(column[3])}, column[1], column[4], "map")
    if tag == "struct":
        return {name: from_native(col) for name, col in column[2].items()}
    if tag == "null":
        return np.ma.masked_all(column[1], dtype=np.float64)
    raise AssertionError(f"unknown column tag {tag!r}")


_DTYPE_NAMES = {"uint8": "byte", "int16": "short", "int32": "int", "int64": "long", "float32": "float",
                "float64": "double", "uint16": "char", "bool": "bool"}


def describe(column: tuple, enum_name=lambda type_id: str(type_id)) -> Any:
    """The type of a native column: a type name, ``("list", element)``, ``("map", key, value)``,
    or a dict of field types for objects."""
    tag = column[0]
    if tag == "struct":
        return {name: describe(col, enum_name) for name, col in column[2].items()}
    if tag == "null":
        return "null"
    if tag == "str":
        return "decimal" if column[3] == "decimal" else "string"
    if tag == "list":
        return ("list", describe(column[2], enum_name))
    if tag == "map":
        return ("map", describe(column[2], enum_name), describe(column[3], enum_name))
    if tag == "prim" and column[3] is not None:
        logical = column[3]
        return f"enum<{enum_name(logical[1])}>" if isinstance(logical, tuple) else logical
    name = _DTYPE_NAMES[column[1].dtype.name]
    return name if tag == "prim" else name + "[]"


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
        out[:, dst:dst + src_b - src_a] = hexes[:, src_a:src_b]
    return out.view("S36").reshape(len(data))
