"""What the resumable-scan tests of both generations share (tests/node/test_resumable_scan.py and
tests/ignite3/test_resumable3.py): reads stopped after some batches and resumed in new clients
from the position's bytes, the stops worth testing, and the exactly-once check."""

from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ignite_fast import ResumableScan, ScanPosition

#: Makes a resumable scan, in a new client, from a position (None: the epoch's start).
OpenScan = Callable[[ScanPosition | None], ResumableScan]


def positions_along(scan: ResumableScan) -> list[ScanPosition]:
    """A whole read's positions: before the first batch, then after each batch."""
    positions = [scan.position()]
    for _ in scan:
        positions.append(scan.position())
    return positions


def stops(positions: list[ScanPosition], *, boundary_closed: bool, boundary: bool = True) -> dict[str, int]:
    """Batch counts to stop after: none, mid-partition (a partition open), at a partition
    boundary (some finished; with ``boundary_closed``, none open either; none without
    ``boundary``), after the last batch (the position is done there, before the iterator says
    it ended)."""
    assert not positions[0].finished
    assert not positions[0].open
    assert positions[-1].done, positions[-1].describe()
    assert not any(p.done for p in positions[:-1])

    def first(test: Callable[[ScanPosition], bool]) -> int:
        found = [k for k, p in enumerate(positions) if test(p)]
        assert found, "no position of that kind in the read"
        return found[len(found) // 3]

    chosen = {"start": 0, "mid": first(lambda p: bool(p.open) and not p.done), "last": len(positions) - 1}
    if boundary:
        chosen["boundary"] = first(lambda p: bool(p.finished) and not p.done and not (boundary_closed and p.open))
    return chosen


def read_with_stops(open_scan: OpenScan, stops: Iterable[int], key: Callable[[Any], np.ndarray]) -> np.ndarray:
    """The keys read by a scan stopped after each count of ``stops`` batches in turn, each time
    its position saved as bytes and the read resumed from them in a new client, then read to
    its end. The last position must be done."""
    got = []
    position = None
    for count in stops:
        scan = open_scan(position)
        for _ in range(count):
            got.append(key(next(scan)))
        position = ScanPosition.from_bytes(scan.position().to_bytes())
        scan.close()
    scan = open_scan(position)
    got += [key(batch) for batch in scan]
    assert scan.position().done
    assert scan.position().epoch == (0 if position is None else position.epoch)
    return np.concatenate(got) if got else np.empty(0, np.int64)


def assert_each_once(keys: np.ndarray, expected: Iterable[int]) -> None:
    counts = collections.Counter(keys.tolist())
    twice = sorted(k for k, n in counts.items() if n > 1)
    assert not twice, f"{len(twice)} keys read more than once, e.g. {twice[:5]}"
    missing = set(expected) - set(counts)
    assert not missing, f"{len(missing)} keys not read, e.g. {sorted(missing)[:5]}"
    extra = set(counts) - set(expected)
    assert not extra, f"{len(extra)} keys read that should not be, e.g. {sorted(extra)[:5]}"
