"""Resumable scans, shared by both generations: :class:`ResumableScan` yields a scan's batches and
keeps its :class:`~ignite_fast.position.ScanPosition` after each, and reads from a saved one.

A generation's client gives it a :data:`ReadPartitions`: the partition-parallel read of some of
its partitions as :class:`Chunk` s, each telling which partition every row came from (or only
that it belongs to a partition read whole within the chunk), one hash per row of its key
(``position.row_hashes``), and which partitions are read whole once the chunk has been given.
With that, this module alone keeps the position, resumes, and checks:

- finished partitions are not read again;
- partitions begun before (``open``) are read first, in the same read as the others: their first
  ``rows`` rows are skipped and fingerprinted, and a count or fingerprint that differs, or a
  partition that ends before, raises :class:`~ignite_fast.errors.PositionMismatchError` before
  any row is given (the rows read meanwhile wait until every open partition has been checked);
  a generation may check some itself instead (Ignite 3 counts the rows of those its read before
  took to their end: ``Chunk.checked``);
- the rows held back waiting are bounded where the generation can read keys alone (Ignite 3,
  whose partitions end with their query): past :data:`WAITING_ROWS` rows, the partitions
  still unchecked are checked on a read of their keys.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

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
from .errors import PositionMismatchError
from .position import ScanPosition, add, fingerprint

#: The partition of a row that belongs to one of the partitions its chunk finishes, read whole
#: within that chunk, when the read does not tell which (Ignite 2 gives the rows of small
#: partitions that came whole in one page in one batch): it is counted, not fingerprinted.
WHOLE = -1


@dataclass(frozen=True)
class Chunk:
    """Rows of a partition-parallel read: ``columns`` (None: no rows), the partition of each row
    (``parts``: one for all, or an array; :data:`WHOLE` for rows of partitions read whole
    within this chunk), one key hash per row (any value for WHOLE rows), and the partitions
    read whole once this chunk has been given. A read tells the partition of every row of the
    partitions its position had begun (their rows are skipped by partition)."""

    columns: dict[str, Column] | None
    rows: int
    parts: int | np.ndarray
    hashes: np.ndarray
    finished: tuple[int, ...] = ()
    #: Begun partitions the generation counted instead of reading them, none of their rows in
    #: this chunk, each with the rows it has now: as many as the position says (taken as read;
    #: the generation says it is finished) or fewer (the scan raises PositionMismatchError).
    #: One with more is not counted: the generation reads it, for the scan to skip and check.
    checked: tuple[tuple[int, int], ...] = ()


def end_of(partitions: tuple[int, ...], checked: tuple[tuple[int, int], ...] = ()) -> Chunk:
    """A chunk without rows that says ``partitions`` are read whole (and which are ``checked``)."""
    return Chunk(None, 0, np.empty(0, np.int64), np.empty(0, np.uint64), partitions, checked)


#: Reads some partitions partition-parallel, as chunks; those named first are read first where
#: the generation can (Ignite 2 queues them first; an Ignite 3 query scans partitions in order).
ReadPartitions = Callable[[list[int]], Iterator[Chunk]]

#: Rows a resumed read holds back, waiting for its open partitions to be checked, before it
#: checks them on a read of their keys alone (when the generation has one).
WAITING_ROWS = 1 << 16

#: Rows and key fingerprint of each partition in a batch.
Tally = dict[int, tuple[int, int]]


@dataclass(frozen=True)
class _Counted:
    """A batch to give, with what it adds to the position."""

    columns: dict[str, Column] | None
    rows: int
    tally: Tally
    finished: tuple[int, ...]
    whole_rows: int = 0  # rows of WHOLE partitions (counted with the finished ones)


class ResumableScan(Iterator[Any]):
    """An iterator of a scan's batches (as ``scan`` gives them, minus what ``start`` says was
    read) whose :meth:`position` says where it is after the last batch given. Made by the
    clients' ``resumable_scan``, which check ``start`` against the read before making it.
    ``read_keys``: a read of just the keys (chunks without
    columns), for a generation whose partitions stay open long (Ignite 3: until their query
    ends), to check open partitions on when too many rows wait for their check. Leaving the loop early, or
    :meth:`close`, stops the read."""

    def __init__(
        self,
        start: ScanPosition,
        read: ReadPartitions,
        convert: Callable[[dict[str, Column]], Any],
        *,
        read_keys: ReadPartitions | None = None,
    ) -> None:
        self._start = start
        self._read = read
        self._read_keys = read_keys
        self._convert = convert
        self._finished = set(start.finished)
        self._open = dict(start.open)
        self._finished_rows = start.finished_rows
        self._batches = self._run()

    def position(self) -> ScanPosition:
        """Where the scan is after the last batch given (a value: cheap to take, safe to keep)."""
        return ScanPosition(
            generation=self._start.generation,
            name=self._start.name,
            selection=self._start.selection,
            partitions=self._start.partitions,
            epoch=self._start.epoch,
            finished=frozenset(self._finished),
            open=dict(self._open),
            finished_rows=self._finished_rows,
            topology=self._start.topology,
        )

    def __next__(self) -> Any:
        return next(self._batches)

    def close(self) -> None:
        """Stops the read (its cursors are closed); the position stays as it is."""
        self._batches.close()

    def __enter__(self) -> ResumableScan:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def _give(self, counted: _Counted) -> Iterator[Any]:
        for p, (rows, fp) in counted.tally.items():
            had_rows, had_fp = self._open.get(p, (0, 0))
            self._open[p] = (had_rows + rows, add(had_fp, fp))
        for p in counted.finished:
            self._finished_rows += self._open.pop(p, (0, 0))[0]
            self._finished.add(p)
        self._finished_rows += counted.whole_rows
        if counted.columns is not None:
            yield self._convert(counted.columns)

    def _run(self) -> Generator[Any]:
        start = self._start
        opened = sorted(start.open)
        rest = [p for p in start.partitions if p not in start.finished and p not in start.open]
        if opened:
            # One read (on Ignite 3, one table scan per query): the open partitions first, their
            # rows read before skipped and checked before anything is given, then the rest.
            yield from self._resumed(opened, self._read(opened + rest))
        elif rest:
            for chunk in self._read(rest):
                yield from self._give(_counted(chunk))

    def _check_keys(self, opened: list[int]) -> None:
        """Checks the ``opened`` partitions' first rows on a read of their keys alone."""
        assert self._read_keys is not None
        want = {p: self._start.open[p][0] for p in opened}
        skipped: Tally = {p: (0, 0) for p in opened}
        for chunk in self._read_keys(opened):
            _skip(chunk, want, skipped)
        for p in opened:
            self._check(p, skipped[p])

    def _resumed(self, opened: list[int], chunks: Iterator[Chunk]) -> Iterator[Any]:
        """What ``chunks`` hold past the ``opened`` partitions' rows read before (all the rows of
        other partitions), once every opened partition is checked."""
        want = {p: self._start.open[p][0] for p in opened}
        skipped: Tally = {p: (0, 0) for p in want}
        waiting: list[_Counted] = []
        waiting_rows = 0
        unchecked = set(want)
        for chunk in chunks:
            for p, rows in chunk.checked:
                if rows < want[p]:
                    raise self._fewer_rows(p, rows)
                skipped[p] = self._start.open[p]  # as many: as they were read
            counted = _skip(chunk, want, skipped)
            if unchecked:
                for p in [p for p in unchecked if skipped[p][0] == want[p]]:
                    self._check(p, skipped[p])
                    unchecked.discard(p)
                for p in set(counted.finished) & unchecked:
                    self._check(p, skipped[p])
                if counted.rows or counted.finished:
                    waiting.append(counted)
                    waiting_rows += counted.rows
                if waiting_rows > WAITING_ROWS and self._read_keys is not None:
                    # Rows pile up behind open partitions not yet checked (on Ignite 3 one that
                    # lost rows shows only when its query ends): check those on their keys now.
                    self._check_keys(sorted(unchecked))
                    unchecked.clear()
                if not unchecked:
                    for held in waiting:
                        yield from self._give(held)
                    waiting, waiting_rows = [], 0
                continue
            yield from self._give(counted)
        for p in unchecked:  # the read ended before these were finished: cannot happen with a
            self._check(p, skipped[p])  # complete read, but never give rows unchecked

    def _check(self, partition: int, skipped: tuple[int, int]) -> None:
        """Raises unless ``skipped`` (rows, fingerprint) are the rows of ``partition`` read
        before the position was taken."""
        rows, fp = self._start.open[partition]
        if skipped[0] < rows:
            raise self._fewer_rows(partition, skipped[0])
        if skipped[1] != fp:
            raise PositionMismatchError(
                f"the first {rows} rows of {self._where(partition)} are not those read before the position was "
                "taken (their keys differ): it changed or moved, so the scan cannot resume exactly"
            )

    def _fewer_rows(self, partition: int, rows_now: int) -> PositionMismatchError:
        return PositionMismatchError(
            f"{self._where(partition)} has {rows_now} rows now, fewer than the {self._start.open[partition][0]} read "
            "before the position was taken: it changed, so the scan cannot resume exactly"
        )

    def _where(self, partition: int) -> str:
        kind = "cache" if self._start.generation == 2 else "table"
        return f"partition {partition} of {kind} {self._start.name!r}"


def _tally(parts: int | np.ndarray, hashes: np.ndarray) -> Tally:
    if isinstance(parts, int):
        return {parts: (len(hashes), fingerprint(hashes))} if len(hashes) else {}
    if not len(parts):
        return {}
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    starts = np.flatnonzero(np.r_[True, sorted_parts[1:] != sorted_parts[:-1]])
    sums = np.add.reduceat(hashes[order], starts, dtype=np.uint64)
    counts = np.diff(np.r_[starts, len(parts)])
    return {
        int(p): (int(n), int(fp)) for p, n, fp in zip(sorted_parts[starts].tolist(), counts.tolist(), sums.tolist())
    }


def _counted(chunk: Chunk) -> _Counted:
    return _counted_rows(chunk.columns, chunk.rows, _tally(chunk.parts, chunk.hashes), chunk.finished)


def _counted_rows(columns: dict[str, Column] | None, rows: int, tally: Tally, finished: tuple[int, ...]) -> _Counted:
    """What a batch adds to the position, the rows of WHOLE partitions apart."""
    whole_rows, _ = tally.pop(WHOLE, (0, 0))
    return _Counted(columns, rows, tally, finished, whole_rows)


def _skip(chunk: Chunk, want: dict[int, int], skipped: Tally) -> _Counted:
    """``chunk`` without the rows of its partitions' first ``want[p]`` rows, which are counted and
    fingerprinted into ``skipped`` instead."""
    parts = chunk.parts
    if chunk.rows == 0:
        return _counted(chunk)
    if isinstance(parts, int):
        parts = np.full(chunk.rows, parts, np.int64)
    order = np.argsort(parts, kind="stable")
    sorted_parts = parts[order]
    starts = np.flatnonzero(np.r_[True, sorted_parts[1:] != sorted_parts[:-1]])
    # each row's rank among its partition's rows in this chunk, then in the whole read so far
    rank = np.empty(chunk.rows, np.int64)
    rank[order] = np.arange(chunk.rows) - np.repeat(starts, np.diff(np.r_[starts, chunk.rows]))
    seen = np.array([skipped.get(int(p), (0, 0))[0] for p in parts[order][starts]], np.int64)
    left = np.array([want.get(int(p), 0) for p in parts[order][starts]], np.int64) - seen
    limit = np.empty(chunk.rows, np.int64)
    limit[order] = np.repeat(left, np.diff(np.r_[starts, chunk.rows]))
    skip = rank < limit
    if not skip.any():
        return _counted(chunk)
    for p, (rows, fp) in _tally(parts[skip], chunk.hashes[skip]).items():
        had_rows, had_fp = skipped[p]
        skipped[p] = (had_rows + rows, add(had_fp, fp))
    keep = np.flatnonzero(~skip)
    if not len(keep):
        return _Counted(None, 0, {}, chunk.finished)
    columns = {name: take(column, keep) for name, column in (chunk.columns or {}).items()}
    return _counted_rows(columns, len(keep), _tally(parts[keep], chunk.hashes[keep]), chunk.finished)


def take(column: Column, rows: np.ndarray) -> Column:
    """Rows ``rows`` (indices, ascending) of any column."""
    if isinstance(column, PrimColumn):
        return PrimColumn(column.values[rows], _valid(column.valid, rows), column.logical)
    if isinstance(column, FixedColumn):
        return FixedColumn(column.values[rows], _valid(column.valid, rows))
    if isinstance(column, StructColumn):
        return StructColumn(column.type_name, {n: take(c, rows) for n, c in column.fields.items()}, len(rows))
    if isinstance(column, NullColumn):
        return NullColumn(len(rows))
    offsets, inner = _gather(column.offsets, rows)
    valid = _valid(column.valid, rows)
    if isinstance(column, StrColumn):
        return StrColumn(offsets, column.data[inner], valid, column.logical)
    if isinstance(column, VarColumn):
        return VarColumn(column.values[inner], offsets, valid)
    if isinstance(column, ListColumn):
        return ListColumn(offsets, take(column.child, inner), valid)
    assert isinstance(column, MapColumn)
    return MapColumn(offsets, take(column.keys, inner), take(column.values, inner), valid)


def _valid(valid: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    return None if valid is None else valid[rows]


def _gather(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """New offsets for ``rows`` of a variable-length column, and the inner indices they take."""
    starts = offsets[rows].astype(np.int64)
    lengths = offsets[rows + 1].astype(np.int64) - starts
    new = np.zeros(len(rows) + 1, np.int64)
    np.cumsum(lengths, out=new[1:])
    inner = np.repeat(starts - new[:-1], lengths) + np.arange(new[-1])
    return new.astype(offsets.dtype if new[-1] < 2**31 else np.int64), inner
