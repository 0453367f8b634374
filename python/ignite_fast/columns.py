"""How decoded columns look in Python.

A batch is a dict ``{"key": column, "val": column}`` where a column is

- a 1-D numpy array for primitives (``uint8`` for Java bytes, ``int32``, ``int64``, ``float64``, ``bool``, ``uint16`` for chars,
  ...), a ``numpy.ma.MaskedArray`` when some rows are null;
- a 2-D array ``(rows, n)`` for primitive arrays that all have ``n`` elements (MNIST pixels, say);
- a :class:`Ragged` (values + offsets) for primitive arrays of varying length;
- a ``numpy.bytes_`` array (``S<width>``, UTF-8) for strings: ``np.char.decode(a, "utf-8")`` gives ``str``;
- a dict of such columns for an object (its fields, sorted by name).

All arrays are views of 64-byte-aligned buffers filled in Rust: nothing is copied on the way to numpy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np


@dataclass(frozen=True)
class Ragged:
    """Variable-length arrays: row ``i`` is ``values[offsets[i]:offsets[i + 1]]``.

    ``valid`` (bool per row) is ``None`` when no row is null; a null row is empty.
    """

    values: np.ndarray
    offsets: np.ndarray
    valid: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> np.ndarray | None:
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"row {i} out of range for {n} rows")
        if self.valid is not None and not self.valid[i]:
            return None
        return self.values[self.offsets[i]:self.offsets[i + 1]]

    def __iter__(self) -> Iterator[np.ndarray | None]:
        return (self[i] for i in range(len(self)))

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    def to_list(self) -> list:
        return list(self)


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
        return _masked(column[1], column[2])
    if tag == "fixed":
        return _masked(column[1], column[2])
    if tag == "str":
        raw = column[1]
        strings = raw.view(f"S{raw.shape[1]}").reshape(raw.shape[0])
        return _masked(strings, column[2])
    if tag == "var":
        return Ragged(column[1], column[2], column[3])
    if tag == "struct":
        return {name: from_native(col) for name, col in column[2].items()}
    if tag == "null":
        return np.ma.masked_all(column[1], dtype=np.float64)
    raise AssertionError(f"unknown column tag {tag!r}")


def describe(column: tuple) -> Any:
    """The type of a native column: a type name, or a dict of field types for objects."""
    tag = column[0]
    if tag == "struct":
        return {name: describe(col) for name, col in column[2].items()}
    if tag == "null":
        return "null"
    if tag == "str":
        return "string"
    values = column[1]
    name = {"uint8": "byte", "int16": "short", "int32": "int", "int64": "long", "float32": "float",
            "float64": "double", "uint16": "char", "bool": "bool"}[values.dtype.name]
    return name if tag == "prim" else name + "[]"
