"""Partition-parallel scans: every partition is read from its primary node, several at a time,
on worker threads (the Rust side releases the GIL, so they overlap). A partition is handed over
only once it has been read whole, so when a node dies mid-scan its unfinished partitions are
read again from their new primary (a backup that took over) with no duplicates and no gaps.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import TYPE_CHECKING, Any, Iterator

from .errors import IgniteConnectionError

if TYPE_CHECKING:
    from .client import Client


class _Nodes:
    """One client per reachable node, keyed by node id, to send each partition to its primary."""

    def __init__(self, client: "Client"):
        self._client = client
        self._lock = threading.Lock()
        self._by_id: dict[bytes, "Client"] = {}
        for address in client.addresses:
            try:
                sibling = client._sibling(address)
            except IgniteConnectionError:
                continue  # a node that is down now can still be routed around
            node_id = sibling._native.node_id()
            if node_id is not None:
                self._by_id[bytes(node_id)] = sibling

    def client_for(self, node_id: bytes) -> "Client":
        with self._lock:
            return self._by_id.get(node_id, self._client)

    def forget(self, node_id: bytes) -> None:
        with self._lock:
            self._by_id.pop(node_id, None)

    def live_clients(self) -> list["Client"]:
        with self._lock:
            return [*self._by_id.values(), self._client]


def shard_partitions(partition_count: int, shard: tuple[int, int]) -> range:
    """The partitions of shard ``i`` of ``n``: a contiguous, balanced range of partition
    numbers. It depends on nothing but the count, so every worker computes the same split
    whatever the topology, and the shards are disjoint and cover every partition."""
    index, count = shard
    return range(index * partition_count // count, (index + 1) * partition_count // count)


def parallel_scan(client: "Client", cache: str, *, workers: int, batch_size: int, page_size: int,
                  ordered: bool, failover_timeout: float, scan_args: dict[str, Any],
                  shard: tuple[int, int] | None = None) -> Iterator[tuple]:
    """Yields ``(rows, columns)`` batches like ``Client.scan_native``, partition by partition
    (only the partitions of ``shard`` when given)."""
    partition_map = client._native.partition_map(cache)
    if partition_map is None:  # replicated cache or custom affinity: one cursor does it
        if shard is not None and shard[0] != 0:
            return  # every entry lives everywhere: the first shard reads them all, once
        yield from client.scan_native(cache, batch_size, page_size=page_size, **scan_args)
        return
    primaries = [bytes(node) for node in partition_map[2]]
    mine = range(len(primaries)) if shard is None else shard_partitions(len(primaries), shard)
    nodes = _Nodes(client)
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
        next_partition = mine.start if len(mine) else 0
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
                next_partition += 1
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
