"""Partition-parallel scans: every partition is read from its primary node, several at a time,
on worker threads (the Rust side releases the GIL, so they overlap). A partition is handed over
only once it has been read whole, so when a node dies mid-scan its unfinished partitions are
read again from their new primary (a backup that took over) with no duplicates and no gaps.
"""

from __future__ import annotations

import operator
import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from .errors import IgniteConnectionError, IgniteError, InvalidArgumentError
from .sharding import shard_partitions

if TYPE_CHECKING:
    from .client import Client
    from .sharding import ShardPlan


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
            if node_id in self._by_id:
                continue
            for host in hosts:
                if "%" in host:
                    continue  # a link-local address with its interface: only meaningful there
                address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                try:
                    sibling = self._client._sibling(address, connect_timeout=DISCOVERED_CONNECT_TIMEOUT)
                    answered = sibling._native.node_id()
                except IgniteError:
                    continue
                if answered is not None and bytes(answered) == node_id:
                    self._by_id[node_id] = sibling
                    self._address[node_id] = address
                    break

    def client_for(self, node_id: bytes) -> "Client":
        with self._lock:
            return self._by_id.get(node_id, self._client)

    def forget(self, node_id: bytes) -> None:
        with self._lock:
            self._by_id.pop(node_id, None)

    def live_clients(self) -> list["Client"]:
        with self._lock:
            return [*self._by_id.values(), self._client]

    def addresses(self) -> dict[bytes, str]:
        """The address each node answered on, by node id."""
        with self._lock:
            return dict(self._address)


def parallel_scan(client: "Client", cache: str, *, workers: int, batch_size: int, page_size: int,
                  ordered: bool, failover_timeout: float, scan_args: dict[str, Any],
                  partitions: Sequence[int] | None = None, shard: tuple[int, int] | None = None,
                  plan: "ShardPlan | None" = None) -> Iterator[tuple]:
    """Yields ``(rows, columns)`` batches like ``Client.scan_native``, partition by partition:
    all of them, the given ``partitions``, or those of ``shard=(i, n)`` (from ``plan``, the
    launcher's plan in the environment, or contiguous ranges; see :mod:`ignite_fast.sharding`)."""
    partition_map = client._native.partition_map(cache)
    if partition_map is None:  # replicated cache or custom affinity: one cursor does it
        if partitions is not None:
            raise InvalidArgumentError(f"cache {cache!r} is not partitioned (replicated, or a custom affinity): "
                                       "partitions= does not apply to it")
        if shard is not None and shard[0] != 0:
            return  # every entry lives everywhere: the first shard reads them all, once
        yield from client.scan_native(cache, batch_size, page_size=page_size, **scan_args)
        return
    primaries = [bytes(node) for node in partition_map[2]]
    if partitions is not None:
        mine = _checked_partitions(cache, partitions, len(primaries))
    elif shard is not None:
        mine = list(shard_partitions(cache, len(primaries), shard, plan))
    else:
        mine = list(range(len(primaries)))
    nodes = NodeClients(client)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for partition in mine:
        todo.put(partition)
    # Read partitions wait here for the consumer; the bound keeps memory flat when it is slow.
    done: queue.Queue = queue.Queue(maxsize=2 * workers)
    stop = threading.Event()

    def refresh_primaries() -> None:
        for live in nodes.live_clients():
            try:
                fresh = live._native.partition_map(cache)
            except IgniteConnectionError:
                continue
            if fresh is not None:
                primaries[:] = [bytes(node) for node in fresh[2]]
                return

    def hand_over(item: tuple) -> None:
        while not stop.is_set():
            try:
                done.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def read_partition(partition: int) -> list:
        deadline = time.monotonic() + failover_timeout
        while True:
            node = primaries[partition]
            try:
                target = nodes.client_for(node)
                return list(target.scan_native(cache, batch_size, page_size=page_size, part=partition, **scan_args))
            except IgniteConnectionError:
                if stop.is_set() or time.monotonic() > deadline:
                    raise
                # The node is gone, or going: wait for the cluster to hand its partitions to a
                # backup, then read the partition again, from the start, on the new primary.
                nodes.forget(node)
                time.sleep(0.5)
                refresh_primaries()

    def worker() -> None:
        while not stop.is_set():
            try:
                partition = todo.get_nowait()
            except queue.Empty:
                return
            try:
                hand_over((partition, read_partition(partition), None))
            except BaseException as error:  # noqa: BLE001 - re-raised in the consumer
                hand_over((partition, None, error))
                return

    threads = [threading.Thread(target=worker, name=f"ignite-fast-scan-{i}", daemon=True)
               for i in range(max(1, min(workers, len(mine))))]
    for thread in threads:
        thread.start()
    try:
        waiting: dict[int, list] = {}
        in_order = iter(mine)
        next_partition = next(in_order, None)
        for _ in range(len(mine)):
            partition, batches, error = done.get()
            if error is not None:
                raise error
            if not ordered:
                yield from batches
                continue
            waiting[partition] = batches
            while next_partition in waiting:
                yield from waiting.pop(next_partition)
                next_partition = next(in_order, None)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
