"""Partition-parallel scans. Every partition is read from its primary node. Each worker thread
holds one connection to one node with several partitions' cursors in flight on it (the server
prepares their pages while the client decodes); the Rust side releases the GIL, so the threads
overlap. A partition is handed over only once it has been read whole, so when a node dies mid-scan
its unfinished partitions are read again from their new primary (a backup that took over) with no
duplicates and no gaps.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

from ._nodes import NodeConnections, primaries_of
from ._sizing import Sizer
from .columns import Column, batch_from_native, concat_batches, nbytes
from .errors import DataLostError, IgniteConnectionError

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


def parallel_scan(
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
) -> Iterator[tuple[Any, ...]]:
    """Yields ``(rows, columns)`` batches of the partitions ``mine`` of ``cache`` (whose primaries
    are ``primaries``), partition by partition. ``workers`` threads each keep up to ``cursors``
    partitions in flight on one connection, with at most ``IN_FLIGHT_BYTES`` of pages asked for at
    once (pages are sized to fit when ``page_size`` is None; otherwise fewer cursors are used).
    ``decode`` is what to decode (see ``_options.decode_args``). With ``raw``, pages are discarded
    undecoded and ``(entries, bytes)`` pairs come out (the benchmarks' server-and-wire limit)."""
    page_size, cursors = sizer.pages_in_flight(cache, page_size, cursors)
    nodes.look_for(primaries)
    todo = _PartitionQueues(mine, primaries)
    # Read partitions wait here for the consumer; the bound keeps memory flat when it is slow.
    done: queue.Queue[tuple[Any, ...]] = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()
    # When the scan last finished a partition: connection failures are retried (on the
    # partitions' new primaries) until none has been finished for ``failover_timeout`` seconds.
    progress = [time.monotonic()]

    finished: set[int] = set()
    backups: list[int] = []  # the cache's backup count, asked for once a node has left

    def check_nothing_lost(fresh: list[bytes], routed_only: bool = False) -> None:
        """Raises if nodes left the cluster during the scan, more of them than the cache keeps
        backups, while partitions that may have lived on them were unread: Ignite gives such
        partitions to other nodes empty, and reading those would silently return part of the
        cache. (A partition read over its primary's own connection before that broke is safe;
        ``routed_only`` checks, at the end, the partitions read through another node.)"""
        gone = set(primaries) - set(fresh)
        if routed_only:
            gone = {node for node in gone if not nodes.reaches(node)}
        if not gone:
            return
        if not backups:
            backups.append(nodes.main.cache_backups(cache))
        if len(gone) <= backups[0]:
            return
        at_risk = [p for p in mine if p not in finished or (routed_only and primaries[p] in gone)]
        # with no backups a partition is lost with its primary; with some, which copies were on
        # the nodes that left is not known here (the map names primaries only): all may be
        lost = [p for p in at_risk if primaries[p] in gone] if backups[0] == 0 else at_risk
        if lost:
            raise DataLostError(
                f"{len(gone)} node(s) left the cluster while cache {cache!r} was being read, and it keeps "
                f"{backups[0]} backup(s): {len(lost)} unread partition(s) ({_ranges(lost)}) may have lost their "
                "data, so the scan stops instead of returning part of the cache"
            )

    def refresh_primaries() -> None:
        for live in nodes.live():
            try:
                fresh = primaries_of(live, cache)
            except IgniteConnectionError:
                continue
            if fresh is not None:
                check_nothing_lost(fresh)
                todo.set_primaries(fresh)
                return

    def hand_over(item: tuple[Any, ...]) -> None:
        while not stop.is_set():
            try:
                done.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def read_node(node: bytes) -> None:
        """Reads ``node``'s queued partitions, ``cursors`` at a time on one connection, handing
        each over once whole. If the node goes away, the unfinished ones are queued again for
        their new primaries (after the cluster has had a moment to hand them to backups)."""
        held: dict[int, list[Any]] = {}
        rows_read = parts_read = 0
        # The raw reader hands complete partitions over in groups: one hand-over per partition
        # cost more than fetching a small partition's page (the numpy path shares batches).
        group_partitions: list[int] = []
        group_pages: list[Any] = []

        def hand_over_group() -> None:
            nonlocal group_partitions, group_pages
            if group_partitions:
                hand_over((group_partitions, group_pages, None))
                group_partitions, group_pages = [], []

        scan = None
        try:
            scan = nodes.for_node(node).partition_scan(cache, page_size=page_size, cursors=cursors, **decode)
            # Unordered, partitions that arrive whole in one page share batches (a cache of many
            # small partitions would otherwise give many small batches).
            step = raw_step(scan) if raw else batch_step(scan, batch_size, not ordered)
            while not stop.is_set():
                # more than the cursors: they open as cursors free up, and small partitions
                # then fill a batch together (enough for two batches, by the sizes seen so far)
                ahead = (
                    QUEUED_AHEAD
                    if not parts_read
                    else min(MAX_QUEUED_AHEAD, max(QUEUED_AHEAD, 2 * batch_size * parts_read // max(1, rows_read)))
                )
                taken = todo.take(node, cursors + ahead - scan.pending)
                held.update((partition, []) for partition in taken)  # before a failure can lose them
                for partition in taken:
                    scan.add(partition)
                if (piece := step()) is None:
                    hand_over_group()
                    return
                partition, done_reading, rows, payload, merged = piece
                rows_read += rows
                if rows:
                    held[partition].append((rows, payload))
                if done_reading:
                    whole = [partition, *merged]
                    parts_read += len(whole)
                    for other in whole[1:]:
                        held.pop(other)  # its rows are in this batch
                    progress[0] = time.monotonic()
                    finished.update(whole)
                    if not raw:
                        hand_over((whole, held.pop(partition), None))
                        continue
                    group_partitions += whole
                    group_pages += held.pop(partition)
                    if len(group_partitions) >= RAW_GROUP_PARTITIONS:
                        hand_over_group()
        except IgniteConnectionError:
            hand_over_group()  # complete partitions, read before the failure
            if stop.is_set() or time.monotonic() - progress[0] > failover_timeout:
                raise
            nodes.forget(node)
            time.sleep(0.5)
            refresh_primaries()
            todo.put(sorted(held))
        finally:
            if scan is not None:
                scan.close()

    def worker() -> None:
        while not stop.is_set() and (node := todo.claim_node()) is not None:
            try:
                read_node(node)
            except BaseException as error:  # re-raised in the consumer
                hand_over((None, None, error))
                return
            finally:
                todo.release_node(node)

    threads = [
        threading.Thread(target=worker, name=f"ignite-fast-scan-{i}", daemon=True)
        for i in range(max(1, min(workers, len(mine))))
    ]
    for thread in threads:
        thread.start()

    def handed_over() -> Iterator[tuple[Any, ...]]:
        waiting: dict[int, list[Any]] = {}
        in_order = iter(mine)
        next_partition = next(in_order, None)
        received = 0
        while received < len(mine):
            partitions, batches, error = done.get()
            if error is not None:
                raise error
            received += len(partitions)
            if not ordered:
                yield from batches
                continue
            (partition,) = partitions  # ordered scans do not share batches between partitions
            waiting[partition] = batches
            while next_partition in waiting:
                yield from waiting.pop(next_partition)
                next_partition = next(in_order, None)

    try:
        yield from handed_over() if raw else coalesce(handed_over(), batch_size)
        # Partitions of nodes without a connection of their own were routed through another
        # node, which answers for whoever owns them now: check nobody left.
        if (
            any(not nodes.reaches(node) for node in set(primaries))
            and (fresh := primaries_of(nodes.main, cache)) is not None
        ):
            check_nothing_lost(fresh, routed_only=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


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


# Batches smaller than this (and than batch_size) are merged with their neighbours: a partition of
# a few dozen small entries would otherwise be a batch of its own, and every batch costs its
# consumer (TensorFlow most) a fixed price. Merging copies, so large batches are left alone.
SMALL_BATCH_BYTES = 1 << 20


def coalesce(
    batches: Iterator[tuple[int, dict[str, Column]]], batch_size: int
) -> Iterator[tuple[int, dict[str, Column]]]:
    """Yields ``(rows, columns)`` batches as they come, but runs of small ones merged into
    batches of up to ``batch_size`` rows (in the same order)."""
    pending: list[tuple[Any, ...]] = []
    pending_rows = 0

    def flush() -> Iterator[tuple[Any, ...]]:
        nonlocal pending, pending_rows
        if len(pending) == 1:
            yield pending[0]
        elif pending:
            merged = concat_batches([columns for _, columns in pending])
            yield from [(pending_rows, merged)] if merged is not None else pending
        pending, pending_rows = [], 0

    for rows, columns in batches:
        small = rows < batch_size and nbytes(columns) < SMALL_BATCH_BYTES
        if not small or pending_rows + rows > batch_size:
            yield from flush()
        if not small:
            yield rows, columns
            continue
        pending.append((rows, columns))
        pending_rows += rows
    yield from flush()


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
