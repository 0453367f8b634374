"""Numpy columns made ready for the native writers (Ignite 2's put-all and Ignite 3's streamer):
their bytes read in place, the writer's kind, and the checks made before any row is sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _native
from ._progress import STEP_BYTES
from .errors import InvalidArgumentError

# The writer's primitive kind for each numpy dtype (the bindings own the list; Java bytes are signed).
_WRITE_KINDS = {**{dtype: name for name, dtype in _native.PRIMITIVE_DTYPES.items()}, "int8": "byte"}


@dataclass(frozen=True)
class WriteColumn:
    """A column made ready for the native writer: its bytes (a ``uint8`` view of the array, rows
    one after the other, not copied when the array is contiguous and little-endian), the writer's
    kind, and ``width`` (elements per row of a 2-D array, bytes per cell of a string)."""

    name: str
    kind: str
    data: np.ndarray
    width: int
    rows: int
    #: Strings encoded here from ``str`` are valid UTF-8; ``bytes`` given as they are may not be.
    valid_utf8: bool = True

    @classmethod
    def of(cls, column: Any, name: str) -> WriteColumn:
        array = np.asarray(column)
        encoded = array.dtype.kind in "UO"
        if encoded:
            array = np.char.encode(array.astype(str), "utf-8")
        if array.dtype.kind == "S":
            array = np.ascontiguousarray(array)
            if array.ndim != 1:
                raise InvalidArgumentError(f"column '{name}': strings must be a 1-D array")
            data = array.view(np.uint8).reshape(-1)
            return cls(name, "string", data, array.dtype.itemsize, len(array), valid_utf8=encoded)
        kind = _WRITE_KINDS.get(array.dtype.name)
        if kind is None:
            raise InvalidArgumentError(f"column '{name}': cannot write values of dtype {array.dtype}")
        if array.ndim not in (1, 2):
            raise InvalidArgumentError(f"column '{name}': arrays of {array.ndim} dimensions cannot be written")
        array = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
        width = 1 if array.ndim == 1 else array.shape[1]
        return cls(name, kind if array.ndim == 1 else kind + "[]", array.view(np.uint8).reshape(-1), width, len(array))

    @property
    def row_bytes(self) -> int:
        return self.data.size // self.rows if self.rows else 0

    def rows_spec(self, start: int, stop: int) -> tuple[str, np.ndarray, int]:
        """The native writer's ``(kind, bytes, width)`` of rows ``start..stop`` (a view)."""
        return (self.kind, self.data[start * self.row_bytes : stop * self.row_bytes], self.width)

    def check_utf8(self) -> None:
        """Refuses a string column with a cell that is not UTF-8 (trailing NULs are padding)
        before any row is sent, as the native writer does for the rows of one call.

        Vectorised: the bytes are decoded a piece of rows at a time, which also passes when a
        character runs from one cell into the next; so no cell may start with a continuation
        byte either (every character then lies within one cell)."""
        if self.kind != "string" or self.valid_utf8 or not self.rows:
            return
        cells = self.data.reshape(self.rows, self.width)
        step = max(1, STEP_BYTES // self.width)
        for start in range(0, self.rows, step):
            piece = cells[start : start + step]
            try:
                if ((piece[:, 0] & 0xC0) == 0x80).any():
                    raise ValueError
                str(piece.data, "utf-8")
            except ValueError:  # UnicodeDecodeError is one: find the row, on this error path only
                for row, cell in enumerate(piece, start):
                    try:
                        bytes(cell).rstrip(b"\0").decode("utf-8")
                    except UnicodeDecodeError:
                        raise InvalidArgumentError(f"{self.name}: row {row} is not valid UTF-8") from None
