"""Where a resumable scan is in its epoch: :class:`ScanPosition`, a small versioned value that
says which partitions of a selection were read whole and how far each begun one was read, with
the keys of the rows read so far fingerprinted, so that a resumed read can check it skips the
very rows it read before (``resumable.ResumableScan`` reads from it).

A position serialises to JSON-able dicts (:meth:`ScanPosition.to_dict`, what a PyTorch
``state_dict`` keeps) and to bytes (:meth:`ScanPosition.to_bytes`: canonical JSON and its
sha256, what files and TensorFlow keep); reading either back checks every field and refuses
anything malformed with :class:`~ignite_fast.errors.PositionError`, never a half-built value.

The key fingerprint (:func:`row_hashes`, :func:`fingerprint`) is a sum modulo 2**64 of one 64-bit
hash per row, so it does not depend on the rows' order nor on where batches were cut; a row's
hash reads the key's bytes in 8-byte words and ignores zero words, so text padded to different
widths in different batches (numpy's ``S`` arrays) hashes alike. Vectorized: no Python object
per row.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .columns import (
    Column,
    FixedColumn,
    NullColumn,
    PrimColumn,
    StrColumn,
    StructColumn,
    VarColumn,
)
from .errors import InvalidArgumentError, PositionError

#: The serialised form's version; a position of any other version is refused.
FORMAT_VERSION = 1

#: The selection's fields, besides generation, name and partitions (which a position keeps as
#: fields of their own): the columns asked for, the shard ``[i, n]``, the plan's fingerprint,
#: and Ignite 2's ``value_type`` filter.
SELECTION_FIELDS = ("columns", "shard", "plan", "value_type")

_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class ScanPosition:
    """A resumable scan's position in its epoch (see the module's docstring).

    ``selection`` holds what the reader reads besides ``name`` and ``partitions``, one entry per
    :data:`SELECTION_FIELDS` (JSON values: the columns list or None, ``[i, n]`` or None, the
    plan's fingerprint or ``""``, the value type or None). ``open`` maps a begun partition to
    ``(rows read, fingerprint of their keys)``; ``finished_rows`` counts the rows of the
    partitions in ``finished``. ``topology`` is Ignite 2's topology version when this read (or
    its latest resumption) began: informational, a moved partition is caught by the fingerprint.
    """

    generation: int
    name: str
    selection: Mapping[str, Any]
    partitions: tuple[int, ...]
    epoch: int = 0
    finished: frozenset[int] = frozenset()
    open: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    finished_rows: int = 0
    topology: tuple[int, int] | None = None
    version: int = FORMAT_VERSION

    @property
    def rows(self) -> int:
        """Rows read in this epoch: the finished partitions' and the open ones'."""
        return self.finished_rows + sum(rows for rows, _ in self.open.values())

    @property
    def done(self) -> bool:
        """Every partition is finished: a scan from here reads nothing."""
        return len(self.finished) == len(self.partitions)

    def next_epoch(self) -> ScanPosition:
        """The start of the next epoch of the same selection: nothing read yet."""
        return replace(self, epoch=self.epoch + 1, finished=frozenset(), open={}, finished_rows=0)

    def describe(self) -> str:
        """One readable line: what, which epoch, partitions finished and open, rows read."""
        kind = "cache" if self.generation == 2 else "table"
        opened = ", ".join(f"{p}: {rows} rows" for p, (rows, _) in sorted(self.open.items()))
        return (
            f"{kind} {self.name!r} (Ignite {self.generation}), epoch {self.epoch}: "
            f"{len(self.finished)}/{len(self.partitions)} partitions finished, "
            f"{len(self.open)} open{f' ({opened})' if opened else ''}, {self.rows} rows read"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what :meth:`from_dict` reads back)."""
        return {
            "version": self.version,
            "generation": self.generation,
            "name": self.name,
            "selection": _copied(self.selection),
            "partitions": list(self.partitions),
            "epoch": self.epoch,
            "finished": sorted(self.finished),
            "open": [[p, rows, fp] for p, (rows, fp) in sorted(self.open.items())],
            "finished_rows": self.finished_rows,
            "topology": None if self.topology is None else list(self.topology),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ScanPosition:
        """A position from :meth:`to_dict`'s form, every field checked (:class:`PositionError`)."""
        if not isinstance(data, Mapping):
            raise PositionError(f"a position is a dict, got {type(data).__name__}")
        version = data.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise PositionError(f"unknown position format version {version!r} (this version reads {FORMAT_VERSION})")
        expected = {
            "version",
            "generation",
            "name",
            "selection",
            "partitions",
            "epoch",
            "finished",
            "open",
            "finished_rows",
            "topology",
        }
        if set(data) != expected:
            raise PositionError(f"a position has the fields {sorted(expected)}, got {sorted(data)}")
        generation = _int(data, "generation", 2)
        if generation not in (2, 3):
            raise PositionError(f"generation must be 2 or 3, got {generation}")
        name = data["name"]
        if not isinstance(name, str) or not name:
            raise PositionError(f"name must be a non-empty string, got {name!r}")
        selection = data["selection"]
        if not isinstance(selection, Mapping) or set(selection) != set(SELECTION_FIELDS):
            raise PositionError(f"selection must have the fields {list(SELECTION_FIELDS)}")
        _check_selection(selection)
        partitions = _ints(data, "partitions")
        if partitions != sorted(set(partitions)):
            raise PositionError("partitions must be sorted and each named once")
        finished = _ints(data, "finished")
        if finished != sorted(set(finished)) or not set(finished) <= set(partitions):
            raise PositionError("finished must be sorted partitions of the position, each named once")
        opened: dict[int, tuple[int, int]] = {}
        raw_open = data["open"]
        if not isinstance(raw_open, list):
            raise PositionError("open must be a list of [partition, rows, fingerprint]")
        for entry in raw_open:
            if not isinstance(entry, list) or len(entry) != 3 or not all(_is_int(v) for v in entry):
                raise PositionError(f"an open partition is [partition, rows, fingerprint], got {entry!r}")
            p, rows, fp = entry
            if p not in partitions or p in finished or p in opened or rows < 1 or not 0 <= fp <= _MASK:
                raise PositionError(f"open partition {entry!r} is not a begun, unfinished partition of the position")
            opened[p] = (rows, fp)
        if list(opened) != sorted(opened):
            raise PositionError("open partitions must be sorted")
        topology = data["topology"]
        if topology is not None and (
            not isinstance(topology, list) or len(topology) != 2 or not all(_is_int(v) and v >= 0 for v in topology)
        ):
            raise PositionError(f"topology must be [major, minor] or null, got {topology!r}")
        return cls(
            generation=generation,
            name=name,
            selection=_copied(selection),
            partitions=tuple(partitions),
            epoch=_int(data, "epoch", 0),
            finished=frozenset(finished),
            open=opened,
            finished_rows=_int(data, "finished_rows", 0),
            topology=None if topology is None else (topology[0], topology[1]),
            version=FORMAT_VERSION,
        )

    def to_bytes(self) -> bytes:
        """Canonical JSON of :meth:`to_dict` with its sha256: any changed byte is caught.

        Taken after every batch of a resumable pipeline (TensorFlow's state), so it is written
        out piece by piece rather than through ``json.dumps`` of :meth:`to_dict` (a third of a
        millisecond with a thousand partitions); the bytes are the same (the unit tests compare),
        the fields in sorted order."""
        name, selection, partitions = _fixed_parts(self.name, _canonical(self.selection), self.partitions)
        opened = ",".join(f"[{p},{rows},{fp}]" for p, (rows, fp) in sorted(self.open.items()))
        topology = "null" if self.topology is None else f"[{self.topology[0]},{self.topology[1]}]"
        position = (
            f'{{"epoch":{self.epoch},"finished":[{_joined(sorted(self.finished))}],'
            f'"finished_rows":{self.finished_rows},"generation":{self.generation},"name":{name},'
            f'"open":[{opened}],"partitions":{partitions},"selection":{selection},'
            f'"topology":{topology},"version":{self.version}}}'
        ).encode()
        return b'{"position":' + position + b',"sha256":"' + hashlib.sha256(position).hexdigest().encode() + b'"}'

    @classmethod
    def from_bytes(cls, data: bytes) -> ScanPosition:
        """A position from :meth:`to_bytes`; anything else (a changed byte, another version)
        raises :class:`PositionError`."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise PositionError(f"a serialised position is bytes, got {type(data).__name__}")
        data = bytes(data)
        try:
            outer = json.loads(data.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            raise PositionError("not a serialised position (not canonical JSON)") from None
        if not isinstance(outer, dict) or set(outer) != {"position", "sha256"}:
            raise PositionError("not a serialised position (no position and sha256)")
        if _canonical(outer) != data:
            raise PositionError("a serialised position was changed (not its canonical form)")
        if hashlib.sha256(_canonical(outer["position"])).hexdigest() != outer["sha256"]:
            raise PositionError("a serialised position was changed (its sha256 does not match)")
        return cls.from_dict(outer["position"])


def _copied(selection: Mapping[str, Any]) -> dict[str, Any]:
    """The selection's fields, its lists copied (a position shares nothing with its callers)."""
    return {
        key: list(selection[key]) if isinstance(selection[key], list) else selection[key] for key in SELECTION_FIELDS
    }


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def _joined(numbers: Any) -> str:
    return ",".join(map(str, numbers))


@functools.lru_cache(maxsize=64)
def _fixed_parts(name: str, selection: bytes, partitions: tuple[int, ...]) -> tuple[str, str, str]:
    """The canonical JSON of the fields a scan's positions share (the same at every batch)."""
    return _canonical(name).decode(), selection.decode(), f"[{_joined(partitions)}]"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(data: Mapping[str, Any], key: str, least: int) -> int:
    value = data[key]
    if not _is_int(value) or value < least:
        raise PositionError(f"{key} must be an integer of at least {least}, got {value!r}")
    return int(value)


def _ints(data: Mapping[str, Any], key: str) -> list[int]:
    value = data[key]
    if not isinstance(value, list) or not all(_is_int(v) and v >= 0 for v in value):
        raise PositionError(f"{key} must be a list of partition numbers")
    return list(value)


def _check_selection(selection: Mapping[str, Any]) -> None:
    columns, shard, plan, value_type = (selection[key] for key in SELECTION_FIELDS)
    if columns is not None and (not isinstance(columns, list) or not all(isinstance(c, str) for c in columns)):
        raise PositionError(f"selection columns must be a list of names or null, got {columns!r}")
    if shard is not None and (
        not isinstance(shard, list)
        or len(shard) != 2
        or not all(_is_int(v) for v in shard)
        or not 0 <= shard[0] < shard[1]
    ):
        raise PositionError(f"selection shard must be [i, n] or null, got {shard!r}")
    if not isinstance(plan, str):
        raise PositionError(f"selection plan must be a fingerprint string, got {plan!r}")
    if value_type is not None and not isinstance(value_type, str) and not _is_int(value_type):
        raise PositionError(f"selection value_type must be a name, an id or null, got {value_type!r}")


def selection_of(
    columns: Any, shard: tuple[int, int] | None, plan: dict[str, Any] | None, value_type: str | int | None = None
) -> dict[str, Any]:
    """A scan's selection fields (:data:`SELECTION_FIELDS`) from its arguments: ``plan`` is the
    plan's ``to_dict()`` (fingerprinted), None without one."""
    plan_fp = "" if plan is None else hashlib.sha256(_canonical(plan)).hexdigest()[:32]
    return {
        "columns": None if columns is None else [str(c) for c in columns],
        "shard": None if shard is None else [int(shard[0]), int(shard[1])],
        "plan": plan_fp,
        "value_type": value_type,
    }


def check_position(
    position: ScanPosition, generation: int, name: str, partitions: list[int], selection: Mapping[str, Any]
) -> None:
    """Raises :class:`PositionError` naming the first field where ``position`` is not of this
    read (its generation, name, partitions or selection)."""
    if not isinstance(position, ScanPosition):
        raise PositionError(f"position must be a ScanPosition (from_dict/from_bytes), got {type(position).__name__}")
    kind = "cache" if generation == 2 else "table"
    if position.generation != generation:
        raise PositionError(f"position is of Ignite {position.generation}, this scan reads Ignite {generation}")
    if position.name != name:
        raise PositionError(f"position is of {kind} {position.name!r}, this scan reads {name!r}")
    for key in SELECTION_FIELDS:
        if position.selection[key] != selection[key]:
            raise PositionError(
                f"position was taken with {key}={position.selection[key]!r}, this scan has {key}={selection[key]!r}"
            )
    if list(position.partitions) != sorted(partitions):
        raise PositionError(
            f"position is of partitions {_ranges(position.partitions)}, this scan reads {_ranges(sorted(partitions))}"
        )


def _ranges(partitions: Any) -> str:
    runs: list[list[int]] = []
    for p in partitions:
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs[:8])
    return "[" + text + (", ..." if len(runs) > 8 else "") + "]"


# ---- key fingerprints ---------------------------------------------------------------------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x6A09E667F3BCC909)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on every element (uint64 arithmetic wraps)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


def _words(raw: np.ndarray) -> np.ndarray:
    """``(rows, bytes)`` uint8 as ``(rows, words)`` little-endian uint64, zero-padded to whole words."""
    rows, width = raw.shape
    if width % 8:
        padded = np.zeros((rows, width + 8 - width % 8), np.uint8)
        padded[:, :width] = raw
        raw = padded
    return np.ascontiguousarray(raw).view("<u8")


def _hash_words(words: np.ndarray) -> np.ndarray:
    """One hash per row of a ``(rows, words)`` uint64 array; a zero word adds nothing, so zero
    padding at the end (any width) does not change a row's hash."""
    acc = np.zeros(len(words), np.uint64)
    for j in range(words.shape[1]):
        column = words[:, j]
        salt = np.uint64((int(_GOLDEN) * (j + 1)) & _MASK)
        acc += np.where(column != 0, _mix(column ^ salt), np.uint64(0))
    return _mix(acc + _GOLDEN)  # the constant: a key of zero bytes hashes to non-zero too


def _bytes_rows(offsets: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Variable-length rows (Arrow's layout) as a zero-padded ``(rows, longest)`` uint8 array."""
    offsets = offsets.astype(np.int64)
    lengths = np.diff(offsets)
    out = np.zeros((len(lengths), int(lengths.max(initial=0))), np.uint8)
    mask = np.arange(out.shape[1]) < lengths[:, None]
    out[mask] = data[offsets[0] : offsets[-1]]
    return out


def row_hashes(column: Column | dict[str, Column]) -> np.ndarray:
    """One uint64 hash per row of a key column (or of several: a dict, by name). Numbers, text,
    bytes, UUIDs, dates and objects of them; lists and maps are refused (InvalidArgumentError)."""
    if isinstance(column, dict):
        return _combine(column)
    if isinstance(column, StructColumn):
        return _combine(column.fields) if column.fields else np.zeros(column.length, np.uint64)
    if isinstance(column, NullColumn):
        return np.full(column.length, _mix(np.array([_NULL]))[0], np.uint64)
    if isinstance(column, (PrimColumn, FixedColumn)):
        values = np.ascontiguousarray(column.values)
        width = values.dtype.itemsize * int(np.prod(values.shape[1:]))
        hashes = _hash_words(_words(values.view(np.uint8).reshape(len(values), width)))
    elif isinstance(column, StrColumn):
        hashes = _hash_words(_words(_bytes_rows(column.offsets, column.data)))
    elif isinstance(column, VarColumn):
        size = column.values.dtype.itemsize
        raw = np.ascontiguousarray(column.values).view(np.uint8)
        hashes = _hash_words(_words(_bytes_rows(column.offsets.astype(np.int64) * size, raw)))
    else:
        raise InvalidArgumentError(f"resumable scans cannot fingerprint keys of this kind ({type(column).__name__})")
    if column.valid is not None:
        hashes = np.where(column.valid, hashes, _mix(np.array([_NULL]))[0])
    return hashes


def _combine(fields: dict[str, Column]) -> np.ndarray:
    total: np.ndarray | None = None
    for name, col in fields.items():
        salt = np.uint64(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little"))
        part = _mix(row_hashes(col) ^ salt)
        total = part if total is None else total + part
    assert total is not None
    return _mix(total)


def fingerprint(hashes: np.ndarray) -> int:
    """The fingerprint of a set of rows: the sum of their hashes modulo 2**64."""
    return int(np.add.reduce(hashes, dtype=np.uint64)) if len(hashes) else 0


def add(a: int, b: int) -> int:
    """Two fingerprints' union (of disjoint row sets)."""
    return (a + b) & _MASK
