"""Ignite 2's shard plans: a cache's partition map, its entries counted per partition (one pass
over the data, read from the primaries), and the plan ``sharding.balanced_plan`` makes of them."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed

from ignite_fast import _native
from ignite_fast._progress import rows_bar
from ignite_fast._sizing import Sizer
from ignite_fast.errors import IgniteConnectionError, InvalidArgumentError
from ignite_fast.sharding import ShardPlan, balanced_plan, check_plan_args, home_nodes

from .nodes import NodeConnections


def partition_sizes(
    nodes: NodeConnections, sizer: Sizer, cache: str, parallel: int = 4, *, progress: bool | None = None
) -> list[int]:
    """The number of entries in each partition of ``cache``, counted by reading every partition
    from its primary node and discarding the pages undecoded: one pass over the data at the
    server's speed (the thin-client protocol has no per-partition size request). ``progress``:
    a bar of partitions counted (None: only when stderr is a terminal)."""
    _topology, primaries = _partition_map(nodes, cache)
    return _count_entries(nodes, sizer, cache, primaries, parallel, progress)


def _partition_map(nodes: NodeConnections, cache: str) -> tuple[tuple[int, int], list[bytes]]:
    """``((topology major, minor), primary node id of each partition)``; looks for nodes it names
    that ``nodes`` has not met."""
    partition_map = nodes.main.partition_map(cache)
    if partition_map is None:
        raise InvalidArgumentError(
            f"cache {cache!r} is not partitioned (replicated, or a custom affinity): "
            "it has no partitions to share out (shard=(i, n) gives it whole to worker 0)"
        )
    major, minor, ids = partition_map
    primaries = [bytes(node) for node in ids]
    nodes.look_for(primaries)
    return (int(major), int(minor)), primaries


def _count_entries(
    nodes: NodeConnections, sizer: Sizer, cache: str, primaries: list[bytes], parallel: int, progress: bool | None
) -> list[int]:
    page_size = sizer.count_page_rows(cache)

    def entries(target: _native.NativeClient, partition: int) -> int:
        scan = target.scan(cache, page_size=page_size, part=partition)
        total = 0
        try:
            while (page := scan.next_raw_page()) is not None:
                total += page[0]
        finally:
            scan.close()
        return total

    def count(partition: int) -> int:
        target = nodes.for_node(primaries[partition])
        try:
            return entries(target, partition)
        except IgniteConnectionError:
            if target is nodes.main:
                raise
            return entries(nodes.main, partition)  # its node went away: any node routes the scan

    with (
        rows_bar(progress, f"counting {cache}", total=len(primaries), unit="partitions") as bar,
        ThreadPoolExecutor(max_workers=max(1, parallel), thread_name_prefix="ignite-fast-count") as pool,
    ):
        counts = [pool.submit(count, partition) for partition in range(len(primaries))]
        for _ in as_completed(counts):  # the bar moves as partitions finish, in any order
            bar.update(1)
        return [counted.result() for counted in counts]


def plan_shards(
    nodes: NodeConnections,
    sizer: Sizer,
    cache: str,
    workers: int,
    *,
    homes: Sequence[str | None] | None = None,
    balance: str = "entries",
    parallel: int = 4,
    progress: bool | None = None,
) -> ShardPlan:
    """A plan giving each of ``workers`` a disjoint share of ``cache``'s partitions.

    ``balance="entries"`` counts the entries of every partition first (one pass over the data,
    see :func:`partition_sizes`) and balances those; ``"partitions"`` balances partition counts
    and reads nothing. ``homes[i]`` is the Ignite node beside worker i (``"host:port"``, or
    ``"host"`` for any node there): its partitions are preferred for that worker as long as the
    balance allows. The client must be given every node's address for locality to be known.
    ``progress``: a bar of the partitions counted (None: only when stderr is a terminal).
    """
    check_plan_args(workers, homes, balance, ("entries", "partitions"))
    topology, primaries = _partition_map(nodes, cache)  # one connection per node: the count and locality
    if balance == "entries":
        weights = _count_entries(nodes, sizer, cache, primaries, parallel, progress)
    else:
        weights = [1] * len(primaries)
    local_to = home_nodes(homes, nodes.addresses()) if homes is not None else None
    return balanced_plan(cache, weights, primaries, local_to, workers, counted=balance == "entries", topology=topology)
