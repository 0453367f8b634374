"""Partition-parallel scans. Every partition is read from its primary node. Each worker thread
holds one connection to one node with several partitions' cursors in flight on it (the server
prepares their pages while the client decodes); the Rust side releases the GIL, so the threads
overlap. A partition is handed over only once it has been read whole, so when a node dies mid-scan
its unfinished partitions are read again from their new primary (a backup that took over) with no
duplicates and no gaps.
"""

from __future__ import annotations

import operator
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from .errors import DataLostError, IgniteConnectionError, IgniteError, InvalidArgumentError
from .client import DEFAULT_BATCH_ROWS, DEFAULT_CURSORS, IN_FLIGHT_BYTES, native_decode_args
from .sharding import shard_partitions

if TYPE_CHECKING:
    from .client import Client
    from .sharding import ShardPlan


# Partitions a connection queues beyond its open cursors (see read_node): at least, and at most.
QUEUED_AHEAD, MAX_QUEUED_AHEAD = 32, 512

# Complete partitions the raw reader hands over at once.
RAW_GROUP_PARTITIONS = 32

# Entries a page holds at least when they are large (if two such pages fit in flight).
MIN_PAGE_ROWS = 3

# Seconds to wait on an address the cluster reported rather than one the caller gave.
DISCOVERED_CONNECT_TIMEOUT = 2.0


def _checked_partitions(cache: str, partitions: Sequence[int], count: int) -> list[int]:
    """Partition numbers as given, in order, each in range and named once."""
    out = []
    for p in partitions:
        try:
            if isinstance(p, bool):
                raise TypeError
            p = operator.index(p)  # ints and numpy integers, not floats or strings
        except TypeError:
            raise InvalidArgumentError(f"partitions must be partition numbers, got {p!r}") from None
        if not 0 <= p < count:
            raise InvalidArgumentError(f"partition {p} is out of range: cache {cache!r} has {count} partitions (0-{count - 1})")
        out.append(p)
    if len(set(out)) != len(out):
        raise InvalidArgumentError("partitions names a partition more than once")
    return out


class NodeClients:
    """One client per reachable node, keyed by node id, to send each partition to its primary:
    the nodes at the client's addresses, and the others the cluster names (node endpoints)."""

    def __init__(self, client: "Client"):
        self._client = client
        self._lock = threading.Lock()
        self._by_id: dict[bytes, "Client"] = {}
        self._address: dict[bytes, str] = {}
        self._looked_for: set[bytes] = set()  # node ids discovery has tried
        for address in client.addresses:
            try:
                sibling = client._sibling(address)
            except IgniteConnectionError:
                continue  # a node that is down now can still be routed around
            node_id = sibling._native.node_id()
            if node_id is not None:
                self._by_id[bytes(node_id)] = sibling
                self._address[bytes(node_id)] = address
        self._discover()

    def _discover(self) -> None:
        """Adds the nodes the client was not given, from the cluster's own list of client
        endpoints (op 5102). An endpoint counts only if the node that answers there has the id
        the cluster gave: a node's own list can name addresses (loopback, container bridges)
        that mean something else from here."""
        try:
            endpoints = self._client._native.node_endpoints()
        except IgniteError:
            return
        for node_id, port, hosts in endpoints or []:
            node_id = bytes(node_id)
            with self._lock:
                if node_id in self._address or node_id in self._looked_for:
                    continue
                self._looked_for.add(node_id)
            for host in hosts:
                if "%" in host:
                    continue  # a link-local address with its interface: only meaningful there
                address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                try:
                    sibling = self._connect_to(address, node_id)
                except IgniteError:
                    continue
                if sibling is not None:
                    with self._lock:
                        self._by_id[node_id] = sibling
                        self._address[node_id] = address
                    break

    def _connect_to(self, address: str, node_id: bytes) -> "Client | None":
        """A client for ``address`` if the node answering there is ``node_id``; None if another
        node answers."""
        sibling = self._client._sibling(address, connect_timeout=DISCOVERED_CONNECT_TIMEOUT)
        answered = sibling._native.node_id()
        return sibling if answered is not None and bytes(answered) == node_id else None

    def look_for(self, node_ids) -> None:
        """Discovers again if ``node_ids`` (a partition map's primaries) name nodes not reached
        nor tried yet: nodes that joined since (a node that cannot be reached is tried once)."""
        with self._lock:
            unknown = {n for n in node_ids if n not in self._address and n not in self._looked_for}
        if unknown:
            self._discover()

    def client_for(self, node_id: bytes) -> "Client":
        """The client connected to ``node_id``; a node whose connection was dropped is connected
        again at its address (raising IgniteConnectionError if it does not answer there, rather
        than routing through another node, which would read whatever now owns its partitions).
        Nodes never reached directly go through the client's own node."""
        with self._lock:
            if (known := self._by_id.get(node_id)) is not None:
                return known
            address = self._address.get(node_id)
        if address is None:
            return self._client
        sibling = self._connect_to(address, node_id)
        if sibling is None:
            raise IgniteConnectionError(f"node {node_id.hex()} no longer answers at {address}")
        with self._lock:
            return self._by_id.setdefault(node_id, sibling)

    def reaches(self, node_id: bytes) -> bool:
        """Whether ``node_id`` is read over its own connection (not routed through another)."""
        with self._lock:
            return node_id in self._address

    def forget(self, node_id: bytes) -> None:
        """Drops the node's connection (after a failure); :meth:`client_for` reconnects."""
        with self._lock:
            self._by_id.pop(node_id, None)

    def live_clients(self) -> list["Client"]:
        with self._lock:
            return [*self._by_id.values(), self._client]

    def addresses(self) -> dict[bytes, str]:
        """The address each node answered on, by node id."""
        with self._lock:
            return dict(self._address)


def _pages_in_flight(client: "Client", cache: str, page_size: int | None, cursors: int) -> tuple[int, int]:
    """Entries per page and cursors per connection such that the pages asked for at once on a
    connection hold about ``IN_FLIGHT_BYTES`` at most: pages of ``IN_FLIGHT_BYTES / cursors``
    unless ``page_size`` is given, and then no more than ``IN_FLIGHT_BYTES`` (fewer cursors)."""
    entry = client._entry_size(cache)
    if entry is None:  # empty (for now): nothing to size by
        return page_size or DEFAULT_BATCH_ROWS, cursors
    if page_size is None:
        # A little under the share, as the server's page buffer is the next power of two up;
        # large entries get a few per page (fewer cursors) so partitions come in fewer pieces.
        page_size = max(client._rows_for_bytes(cache, IN_FLIGHT_BYTES * 15 // 16 // cursors),
                        min(MIN_PAGE_ROWS, client._rows_for_bytes(cache, IN_FLIGHT_BYTES // 2)))
    page_size = min(page_size, client._rows_for_bytes(cache, IN_FLIGHT_BYTES))
    return page_size, max(1, min(cursors, IN_FLIGHT_BYTES // (page_size * entry)))


class _PartitionQueues:
    """Partitions still to read, queued by their primary node; worker threads take a node's
    partitions and spread themselves over the nodes."""

    def __init__(self, partitions: Sequence[int], primaries: list[bytes]):
        self._lock = threading.Lock()
        self._primaries = primaries
        self._queues: dict[bytes, list[int]] = {}
        self._readers: dict[bytes, int] = {}
        self.put(partitions)

    def put(self, partitions) -> None:
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


def parallel_scan(client: "Client", cache: str, *, workers: int, batch_size: int, page_size: int | None,
                  ordered: bool, failover_timeout: float, scan_args: dict[str, Any],
                  partitions: Sequence[int] | None = None, shard: tuple[int, int] | None = None,
                  plan: "ShardPlan | None" = None, cursors: int = DEFAULT_CURSORS,
                  raw: bool = False) -> Iterator[tuple]:
    """Yields ``(rows, columns)`` batches like ``Client.scan_native``, partition by partition:
    all of them, the given ``partitions``, or those of ``shard=(i, n)`` (from ``plan``, the
    launcher's plan in the environment, or contiguous ranges; see :mod:`ignite_fast.sharding`).
    ``workers`` threads each keep up to ``cursors`` partitions in flight on one connection, with
    at most ``IN_FLIGHT_BYTES`` of pages asked for at once (pages are sized to fit when
    ``page_size`` is None; otherwise fewer cursors are used).
    With ``raw``, pages are discarded undecoded and ``(entries, bytes)`` pairs come out (the
    benchmarks' server-and-wire limit)."""
    primaries = client.partition_map(cache)
    if primaries is None:  # replicated cache or custom affinity: one cursor does it
        if partitions is not None:
            raise InvalidArgumentError(f"cache {cache!r} is not partitioned (replicated, or a custom affinity): "
                                       "partitions= does not apply to it")
        if shard is not None and shard[0] != 0:
            return  # every entry lives everywhere: the first shard reads them all, once
        if raw:
            yield from client.raw_pages(cache, page_size=page_size)
        else:
            yield from client.scan_native(cache, batch_size, page_size=page_size, **scan_args)
        return
    page_size, cursors = _pages_in_flight(client, cache, page_size, cursors)
    if partitions is not None:
        mine = _checked_partitions(cache, partitions, len(primaries))
    elif shard is not None:
        mine = list(shard_partitions(cache, len(primaries), shard, plan))
    else:
        mine = list(range(len(primaries)))
    nodes = client._node_clients(primaries)
    todo = _PartitionQueues(mine, primaries)
    native_args = native_decode_args(**scan_args)
    # Read partitions wait here for the consumer; the bound keeps memory flat when it is slow.
    done: queue.Queue = queue.Queue(maxsize=2 * workers)
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
            backups.append(client._native.cache_backups(cache))
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
                "data, so the scan stops instead of returning part of the cache")

    def refresh_primaries() -> None:
        for live in nodes.live_clients():
            try:
                fresh = live.partition_map(cache)
            except IgniteConnectionError:
                continue
            if fresh is not None:
                check_nothing_lost(fresh)
                todo.set_primaries(fresh)
                return

    def hand_over(item: tuple) -> None:
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
        held: dict[int, list] = {}
        rows_read = parts_read = 0
        # The raw reader hands complete partitions over in groups: one hand-over per partition
        # cost more than fetching a small partition's page (the numpy path shares batches).
        group_partitions: list[int] = []
        group_pages: list = []

        def hand_over_group() -> None:
            nonlocal group_partitions, group_pages
            if group_partitions:
                hand_over((group_partitions, group_pages, None))
                group_partitions, group_pages = [], []

        scan = None
        try:
            scan = nodes.client_for(node)._native.partition_scan(cache, page_size=page_size, cursors=cursors,
                                                                  **native_args)
            # Unordered, partitions that arrive whole in one page share batches (a cache of many
            # small partitions would otherwise give many small batches).
            step = scan.next_raw_page if raw else (lambda: scan.next_batch(batch_size, not ordered))
            while not stop.is_set():
                # more than the cursors: they open as cursors free up, and small partitions
                # then fill a batch together (enough for two batches, by the sizes seen so far)
                ahead = QUEUED_AHEAD if not parts_read else \
                    min(MAX_QUEUED_AHEAD, max(QUEUED_AHEAD, 2 * batch_size * parts_read // max(1, rows_read)))
                taken = todo.take(node, cursors + ahead - scan.pending)
                held.update((partition, []) for partition in taken)  # before a failure can lose them
                for partition in taken:
                    scan.add(partition)
                if (item := step()) is None:
                    hand_over_group()
                    return
                partition, done_reading, rows, payload, *merged = item
                rows_read += rows
                if rows:
                    held[partition].append((rows, payload))
                if done_reading:
                    whole = [partition, *merged[0]] if merged else [partition]
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
            except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
                hand_over((None, None, error))
                return
            finally:
                todo.release_node(node)

    threads = [threading.Thread(target=worker, name=f"ignite-fast-scan-{i}", daemon=True)
               for i in range(max(1, min(workers, len(mine))))]
    for thread in threads:
        thread.start()
    def handed_over() -> Iterator[tuple]:
        waiting: dict[int, list] = {}
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
        if any(not nodes.reaches(node) for node in set(primaries)):
            # Partitions of nodes without a connection of their own were routed through
            # another node, which answers for whoever owns them now: check nobody left.
            if (fresh := client.partition_map(cache)) is not None:
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


def coalesce(batches: Iterator[tuple], batch_size: int) -> Iterator[tuple]:
    """Yields ``(rows, columns)`` batches as they come, but runs of small ones merged into
    batches of up to ``batch_size`` rows (in the same order)."""
    pending: list[tuple] = []
    pending_rows = 0

    def flush() -> Iterator[tuple]:
        nonlocal pending, pending_rows
        if len(pending) == 1:
            yield pending[0]
        elif pending:
            merged = _concat_batches([columns for _, columns in pending])
            yield from [(pending_rows, merged)] if merged is not None else pending
        pending, pending_rows = [], 0

    for rows, columns in batches:
        small = rows < batch_size and _nbytes(columns) < SMALL_BATCH_BYTES
        if not small or pending_rows + rows > batch_size:
            yield from flush()
        if not small:
            yield rows, columns
            continue
        pending.append((rows, columns))
        pending_rows += rows
    yield from flush()


def _nbytes(native: Any) -> int:
    """Bytes of the arrays in a native column, or a dict of them."""
    if isinstance(native, dict):
        return sum(_nbytes(column) for column in native.values())
    if isinstance(native, tuple):
        return sum(_nbytes(part) for part in native if isinstance(part, (np.ndarray, dict, tuple)))
    return native.nbytes if isinstance(native, np.ndarray) else 0


def _concat_batches(batches: list[dict]) -> dict | None:
    """One batch of native columns from several with the same columns; None when some column
    cannot be merged cheaply (ragged, map and list columns, or different shapes)."""
    merged = {}
    for name in batches[0]:
        if any(name not in b for b in batches) or (column := _concat_column([b[name] for b in batches])) is None:
            return None
        merged[name] = column
    return merged if all(len(b) == len(merged) for b in batches) else None


def _concat_column(columns: list[tuple]) -> tuple | None:
    tag = columns[0][0]
    if any(c[0] != tag for c in columns):
        return None
    if tag in ("prim", "fixed"):
        values = [c[1] for c in columns]
        if any(v.dtype != values[0].dtype or v.shape[1:] != values[0].shape[1:] for v in values) or \
                (tag == "prim" and any(c[3] != columns[0][3] for c in columns)):
            return None
        return (tag, np.concatenate(values), _concat_valid(columns, [len(v) for v in values]), *columns[0][3:])
    if tag == "str":
        if any(c[3] != columns[0][3] for c in columns):
            return None
        width = max(c[1].shape[1] for c in columns)
        out = np.zeros((sum(len(c[1]) for c in columns), width), np.uint8)  # zero bytes pad short strings
        at = 0
        for c in columns:
            out[at:at + len(c[1]), :c[1].shape[1]] = c[1]
            at += len(c[1])
        return ("str", out, _concat_valid(columns, [len(c[1]) for c in columns]), columns[0][3])
    if tag == "struct":
        if any(c[1] != columns[0][1] or c[2].keys() != columns[0][2].keys() for c in columns):
            return None
        fields = {}
        for name in columns[0][2]:
            if (field := _concat_column([c[2][name] for c in columns])) is None:
                return None
            fields[name] = field
        return ("struct", columns[0][1], fields, sum(c[3] for c in columns))
    return None


def _concat_valid(columns: list[tuple], lengths: list[int]) -> np.ndarray | None:
    if all(c[2] is None for c in columns):
        return None
    return np.concatenate([np.ones(n, bool) if c[2] is None else c[2] for c, n in zip(columns, lengths)])
