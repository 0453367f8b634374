"""Ignite 2's partition-parallel scans. Every partition is read from its primary node. Each
thread of the fan-out (``ignite_fast.parallel.FanOut``) holds one connection to one node with
several partitions' cursors in flight on it (the server prepares their pages while the client
decodes); the Rust side releases the GIL, so the threads overlap. A partition is handed over only
once it has been read whole, so when a node dies mid-scan its unfinished partitions are read again
from their new primary (a backup that took over) with no duplicates and no gaps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from ignite_fast._sizing import Sizer
from ignite_fast.columns import batch_from_native
from ignite_fast.errors import DataLostError, IgniteConnectionError
from ignite_fast.parallel import FanOut, coalesce

from .nodes import NodeConnections, primaries_of

# Partitions a connection queues beyond its open cursors (see read_node): at least, and at most.
QUEUED_AHEAD, MAX_QUEUED_AHEAD = 32, 512

# Complete partitions the raw reader hands over at once.
RAW_GROUP_PARTITIONS = 32


class Piece(NamedTuple):
    """What one step of a node's partition scan gives: rows of ``partition`` (decoded columns, or
    the page's byte count for the raw reader), whether the partition is now read whole, and the
    other partitions whose rows share this batch (small partitions read whole in one page)."""

    partition: int
    done: bool
    rows: int
    payload: Any
    merged: list[int]


#: What a thread hands over: partitions read whole, and their batches (or raw pages).
Handover = tuple[list[int], list[Any]]


class _PartitionQueues:
    """Partitions still to read, queued by their primary node; worker threads take a node's
    partitions and spread themselves over the nodes."""

    def __init__(self, partitions: Sequence[int], primaries: list[bytes]):
        self._lock = threading.Lock()
        self._primaries = primaries
        self._queues: dict[bytes, list[int]] = {}
        self._readers: dict[bytes, int] = {}
        self.put(partitions)

    def put(self, partitions: Iterable[int]) -> None:
        with self._lock:
            for partition in partitions:
                self._queues.setdefault(self._primaries[partition], []).append(partition)

    def set_primaries(self, primaries: list[bytes]) -> None:
        """A new partition map: what is still queued moves to its new primaries."""
        with self._lock:
            queued = sorted(p for queue_ in self._queues.values() for p in queue_)
            self._primaries = primaries
            self._queues = {}
            for partition in queued:
                self._queues.setdefault(primaries[partition], []).append(partition)

    def claim_node(self) -> bytes | None:
        """The node with partitions left and the fewest workers on it (then the most left)."""
        with self._lock:
            candidates = [node for node, queue_ in self._queues.items() if queue_]
            if not candidates:
                return None
            node = min(candidates, key=lambda n: (self._readers.get(n, 0), -len(self._queues[n])))
            self._readers[node] = self._readers.get(node, 0) + 1
            return node

    def release_node(self, node: bytes) -> None:
        with self._lock:
            self._readers[node] -= 1

    def take(self, node: bytes, count: int) -> list[int]:
        """Up to ``count`` of ``node``'s queued partitions, lowest first."""
        with self._lock:
            queue_ = self._queues.get(node, [])
            taken, queue_[:] = queue_[:count], queue_[count:]
            return taken


class PartitionScan:
    """One partition-parallel scan: yields ``(rows, columns)`` batches of the partitions ``mine``
    of ``cache`` (whose primaries are ``primaries``), partition by partition, or ``(entries,
    bytes)`` of every page when ``raw`` (pages discarded undecoded: the benchmarks'
    server-and-wire limit). ``workers`` threads of a :class:`~ignite_fast.parallel.FanOut` each
    keep up to ``cursors`` partitions in flight on one node's connection, with at most
    ``IN_FLIGHT_BYTES`` of pages asked for at once (pages are sized to fit when ``page_size`` is
    None; otherwise fewer cursors are used). ``decode`` is what to decode (see
    ``_options.decode_args``). A partition is handed over once it is read whole, so a node that
    dies mid-scan has its unfinished partitions read again from their new primaries. With
    ``whole``, it yields each partition's hand-over instead, ``([partition], [(rows, columns),
    ...])``, and partitions never share a batch (what resumable scans count rows by), unless
    ``merge``: then partitions that come whole in one page share batches as in a scan, handed
    over together, ``([partition, *merged], [(rows, columns)])``."""

    def __init__(
        self,
        nodes: NodeConnections,
        sizer: Sizer,
        cache: str,
        primaries: list[bytes],
        mine: list[int],
        *,
        workers: int,
        batch_size: int,
        page_size: int | None,
        cursors: int,
        ordered: bool,
        failover_timeout: float,
        decode: dict[str, Any],
        raw: bool = False,
        whole: bool = False,
        merge: bool = False,
    ) -> None:
        self._nodes = nodes
        self._cache = cache
        self._primaries = primaries
        self._mine = mine
        self._batch_size = batch_size
        self._page_size, self._cursors = sizer.pages_in_flight(cache, page_size, cursors)
        self._ordered = ordered
        self._failover_timeout = failover_timeout
        self._decode = decode
        self._raw = raw
        self._whole = whole
        self._merge = merge
        nodes.look_for(primaries)
        self._todo = _PartitionQueues(mine, primaries)
        # When the scan last finished a partition: connection failures are retried (on the
        # partitions' new primaries) until none has been finished for ``failover_timeout`` seconds.
        self._last_finished = time.monotonic()
        self._finished: set[int] = set()
        self._backups: int | None = None  # the cache's backup count, asked for once a node has left
        threads = max(1, min(workers, len(mine)))
        self._fan_out: FanOut[Handover] = FanOut([self._worker] * threads, threads, name="ignite-fast-scan")

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        handed_over = self._handed_over()
        try:
            yield from handed_over if self._raw or self._whole else coalesce(handed_over, self._batch_size)
            # Partitions of nodes without a connection of their own were routed through another
            # node, which answers for whoever owns them now: check nobody left.
            if (
                any(not self._nodes.reaches(node) for node in set(self._primaries))
                and (fresh := primaries_of(self._nodes.main, self._cache)) is not None
            ):
                self._check_nothing_lost(fresh, routed_only=True)
        finally:
            handed_over.close()

    def _handed_over(self) -> Generator[Any]:
        """The batches of whole partitions as the threads hand them over (the hand-overs
        themselves with ``whole``); with ``ordered``, in the order of ``mine``."""
        waiting: dict[int, list[Any]] = {}
        in_order = iter(self._mine)
        next_partition = next(in_order, None)
        handed = iter(self._fan_out)
        try:
            for partitions, batches in handed:
                if self._whole:
                    yield partitions, batches
                    continue
                if not self._ordered:
                    yield from batches
                    continue
                (partition,) = partitions  # ordered scans do not share batches between partitions
                waiting[partition] = batches
                while next_partition in waiting:
                    yield from waiting.pop(next_partition)
                    next_partition = next(in_order, None)
        finally:
            handed.close()  # stops the fan-out's threads

    def _check_nothing_lost(self, fresh: list[bytes], routed_only: bool = False) -> None:
        """Raises if nodes left the cluster during the scan, more of them than the cache keeps
        backups, while partitions that may have lived on them were unread: Ignite gives such
        partitions to other nodes empty, and reading those would silently return part of the
        cache. (A partition read over its primary's own connection before that broke is safe;
        ``routed_only`` checks, at the end, the partitions read through another node.)"""
        gone = set(self._primaries) - set(fresh)
        if routed_only:
            gone = {node for node in gone if not self._nodes.reaches(node)}
        if not gone:
            return
        if self._backups is None:
            self._backups = self._nodes.main.cache_backups(self._cache)
        if len(gone) <= self._backups:
            return
        at_risk = [p for p in self._mine if p not in self._finished or (routed_only and self._primaries[p] in gone)]
        # with no backups a partition is lost with its primary; with some, which copies were on
        # the nodes that left is not known here (the map names primaries only): all may be
        lost = [p for p in at_risk if self._primaries[p] in gone] if self._backups == 0 else at_risk
        if lost:
            raise DataLostError(
                f"{len(gone)} node(s) left the cluster while cache {self._cache!r} was being read, and it "
                f"keeps {self._backups} backup(s): {len(lost)} unread partition(s) ({_ranges(lost)}) may have "
                "lost their data, so the scan stops instead of returning part of the cache"
            )

    def _refresh_primaries(self) -> None:
        for live in self._nodes.live():
            try:
                fresh = primaries_of(live, self._cache)
            except IgniteConnectionError:
                continue
            if fresh is not None:
                self._check_nothing_lost(fresh)
                self._todo.set_primaries(fresh)
                return

    def _worker(self) -> Iterator[Handover]:
        """One thread's work: nodes' queued partitions, node by node, until none is left."""
        while not self._fan_out.stop.is_set() and (node := self._todo.claim_node()) is not None:
            try:
                yield from self._read_node(node)
            finally:
                self._todo.release_node(node)

    def _read_node(self, node: bytes) -> Iterator[Handover]:
        """Reads ``node``'s queued partitions, ``cursors`` at a time on one connection, handing
        each over once whole. If the node goes away, the unfinished ones are queued again for
        their new primaries (after the cluster has had a moment to hand them to backups)."""
        held: dict[int, list[Any]] = {}
        rows_read = parts_read = 0
        # The raw reader hands complete partitions over in groups: one hand-over per partition
        # cost more than fetching a small partition's page (the numpy path shares batches).
        group_partitions: list[int] = []
        group_pages: list[Any] = []
        scan = None
        try:
            scan = self._nodes.for_node(node).partition_scan(
                self._cache, page_size=self._page_size, cursors=self._cursors, **self._decode
            )
            # Unordered, partitions that arrive whole in one page share batches (a cache of many
            # small partitions would otherwise give many small batches).
            share = not self._ordered and (not self._whole or self._merge)
            step = raw_step(scan) if self._raw else batch_step(scan, self._batch_size, share)
            while not self._fan_out.stop.is_set():
                # more than the cursors: they open as cursors free up, and small partitions
                # then fill a batch together (enough for two batches, by the sizes seen so far)
                ahead = (
                    QUEUED_AHEAD
                    if not parts_read
                    else min(
                        MAX_QUEUED_AHEAD, max(QUEUED_AHEAD, 2 * self._batch_size * parts_read // max(1, rows_read))
                    )
                )
                taken = self._todo.take(node, self._cursors + ahead - scan.pending)
                held.update((partition, []) for partition in taken)  # before a failure can lose them
                for partition in taken:
                    scan.add(partition)
                if (piece := step()) is None:
                    break
                partition, done_reading, rows, payload, merged = piece
                rows_read += rows
                if rows:
                    held[partition].append((rows, payload))
                if not done_reading:
                    continue
                whole = [partition, *merged]
                parts_read += len(whole)
                for other in whole[1:]:
                    held.pop(other)  # its rows are in this batch
                self._last_finished = time.monotonic()
                self._finished.update(whole)
                if not self._raw:
                    yield whole, held.pop(partition)
                    continue
                group_partitions += whole
                group_pages += held.pop(partition)
                if len(group_partitions) >= RAW_GROUP_PARTITIONS:
                    yield group_partitions, group_pages
                    group_partitions, group_pages = [], []
            if group_partitions:
                yield group_partitions, group_pages
        except IgniteConnectionError:
            if group_partitions:
                yield group_partitions, group_pages  # complete partitions, read before the failure
            if self._fan_out.stop.is_set() or time.monotonic() - self._last_finished > self._failover_timeout:
                raise
            self._nodes.forget(node)
            time.sleep(0.5)
            self._refresh_primaries()
            self._todo.put(sorted(held))
        finally:
            if scan is not None:
                scan.close()


def _ranges(partitions: list[int]) -> str:
    """``[1, 2, 3, 7]`` as ``"1-3, 7"`` (the first few runs)."""
    runs: list[list[int]] = []
    for p in sorted(partitions):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    text = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs[:8])
    return text + (", ..." if len(runs) > 8 else "")


def batch_step(scan: Any, batch_size: int, share_batches: bool) -> Callable[[], Piece | None]:
    """One step of a node's partition scan that decodes: a :class:`Piece` of named columns."""

    def step() -> Piece | None:
        item = scan.next_batch(batch_size, share_batches)
        if item is None:
            return None
        partition, done, rows, columns, merged = item
        return Piece(partition, done, rows, batch_from_native(columns), merged)

    return step


def raw_step(scan: Any) -> Callable[[], Piece | None]:
    """One step of a node's partition scan that discards pages: a :class:`Piece` of byte counts."""

    def step() -> Piece | None:
        item = scan.next_raw_page()
        if item is None:
            return None
        partition, done, entries, size = item
        return Piece(partition, done, entries, size, [])

    return step
