"""Columns made ready for Ignite 3's writer: each checked against its column's SQL type (from
``Ignite3Client.schema``) and carried as the native writer takes it (dates as days, times and
timestamps as nanoseconds, UUIDs as 16 bytes, decimals as numbers or text), with its NULL mask."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from ignite_fast._write_columns import WriteColumn
from ignite_fast.errors import InvalidArgumentError

# SQL types (as schema() names them, without length, zone or NULL) that put_batches writes, with
# the numpy dtype kinds each takes: b bool, i/u integers, f floats, U/S/O strings, M datetime64,
# m timedelta64; "bytes": 2-D bytes; "uuid": 16 bytes a row or uuid.UUID objects.
_PUT_KINDS = {
    "BOOLEAN": "b",
    "TINYINT": "iu",
    "SMALLINT": "iu",
    "INTEGER": "iu",
    "BIGINT": "iu",
    "REAL": "f",
    "DOUBLE": "f",
    "DECIMAL": "iufUSO",
    "DATE": "M",
    "TIME": "m",
    "TIMESTAMP": "M",
    "UUID": "uuid",
    "VARCHAR": "USO",
    "VARBINARY": "bytes",
}

# datetime64 units that divide a second, as units per second.
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _seconds_and_nanos(array: np.ndarray) -> np.ndarray:
    """A datetime64 array as ``(rows, 2)`` int64: seconds since the epoch and nanoseconds."""
    unit = np.datetime_data(array.dtype)[0]
    if unit not in _PER_SECOND:  # coarser than a second (or generic): whole seconds; finer: ns
        array = array.astype("datetime64[ns]" if unit in ("ps", "fs", "as") else "datetime64[s]")
        unit = np.datetime_data(array.dtype)[0]
    per_second = _PER_SECOND[unit]
    ticks = array.view(np.int64)
    seconds = np.floor_divide(ticks, per_second)
    nanos = (ticks - seconds * per_second) * (10**9 // per_second)
    return np.ascontiguousarray(np.stack([seconds, nanos], axis=1))


def _carrier(name: str, sql_type: str, array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """What carries a DATE, TIME, TIMESTAMP, UUID or DECIMAL column to the native writer, which
    makes the SQL values from it: days (int64), nanoseconds since midnight (int64), (seconds,
    nanoseconds) pairs, 16 bytes, or numbers and decimal strings as they are; and the rows that
    are NULL (NaT, None), or None."""
    values: np.ndarray
    if sql_type in ("DATE", "TIME", "TIMESTAMP"):
        missing = np.isnat(array)
        nulls = missing if missing.any() else None
        if sql_type == "DATE":
            days = array.astype("datetime64[D]")
            if (days != array)[~missing].any():
                raise InvalidArgumentError(
                    f"column '{name}' is DATE: a value has a time of day (.astype('datetime64[D]') drops it)"
                )
            values = days.view(np.int64)
        elif sql_type == "TIME":
            values = array.astype("timedelta64[ns]").view(np.int64)
        else:
            values = _seconds_and_nanos(array)
        if nulls is not None:
            values = values.copy()
            values[missing] = 0  # NULL rows: any valid value, never read
        return values, nulls
    if array.dtype == object:  # uuid.UUID or decimal.Decimal objects, None for NULL
        missing = np.fromiter((v is None for v in array.ravel()), bool, array.size)
        if sql_type == "UUID":
            try:
                values = np.frombuffer(
                    b"".join(bytes(16) if v is None else v.bytes for v in array.ravel()), np.uint8
                ).reshape(-1, 16)
            except AttributeError:
                raise InvalidArgumentError(f"column '{name}' is UUID: objects must be uuid.UUID or None") from None
        else:
            values = np.array(["0" if v is None else str(v) for v in array.ravel()])
        return values, (missing if missing.any() else None)
    return array, None


@dataclasses.dataclass(frozen=True)
class PutColumn:
    """A column checked against its SQL type and made ready for the native writer: its values
    (read in place where possible) and its NULL mask (one byte per row, or None)."""

    name: str
    values: WriteColumn
    nulls: np.ndarray | None

    @classmethod
    def of(cls, name: str, column: Any, types: dict[str, str]) -> PutColumn:
        if name not in types:
            raise InvalidArgumentError(f"table has no column '{name}' (its columns: {', '.join(types)})")
        sql_type = types[name].removesuffix(" NULL").split("(")[0]
        nulls = None
        if np.ma.isMaskedArray(column):
            mask = np.ma.getmaskarray(column)
            if mask.ndim == 2:
                if (mask.any(axis=1) != mask.all(axis=1)).any():
                    raise InvalidArgumentError(f"column '{name}': a row is NULL when all of it is masked, not part")
                mask = np.asarray(mask.all(axis=1) if mask.shape[1] else np.zeros(len(mask), bool))
            nulls = mask if mask.any() else None
            column = np.ma.getdata(column)
        array = np.asarray(column)
        accepts = _PUT_KINDS.get(sql_type)
        if accepts is None:
            raise InvalidArgumentError(f"column '{name}' is {types[name]}: put_batches cannot write that type")
        if accepts == "bytes":
            fits = array.ndim == 2 and array.dtype in (np.uint8, np.int8)
        elif accepts == "uuid":
            fits = (array.ndim == 2 and array.shape[1] == 16 and array.dtype in (np.uint8, np.int8)) or (
                array.ndim == 1 and array.dtype == object
            )
        else:
            fits = array.ndim == 1 and array.dtype.kind in accepts
            if sql_type == "REAL" and array.dtype == np.float64:
                fits = False  # would round: refused rather than changed
        if not fits:
            shape = "x".join(map(str, array.shape))
            raise InvalidArgumentError(
                f"column '{name}' is {types[name]}: cannot write a {shape} array of {array.dtype} to it"
            )
        if sql_type in ("DATE", "TIME", "TIMESTAMP", "UUID", "DECIMAL"):
            array, missing = _carrier(name, sql_type, array)
            if missing is not None:
                nulls = missing if nulls is None else nulls | missing
        if array.dtype.kind == "u" and sql_type not in ("VARBINARY", "UUID"):
            # The writer reads uint8 as Java's signed byte: widen unsigned integers first.
            if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
                raise InvalidArgumentError(f"column '{name}': a value does not fit {sql_type}")
            array = array.astype({1: np.int16, 2: np.int32}.get(array.dtype.itemsize, np.int64))
        elif array.dtype == np.float16:
            array = array.astype(np.float32)
        if nulls is not None:
            nulls = np.ascontiguousarray(nulls).view(np.uint8)
        return cls(name, WriteColumn.of(array, name), nulls)

    def spec(self, start: int, stop: int) -> tuple[str, tuple[str, np.ndarray, int], np.ndarray | None]:
        """The native writer's ``(name, (kind, bytes, width), nulls)`` of rows ``start..stop``."""
        nulls = None if self.nulls is None else self.nulls[start:stop]
        return (self.name, self.values.rows_spec(start, stop), nulls)
