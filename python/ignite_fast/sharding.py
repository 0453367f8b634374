"""Which partitions each training worker reads.

A :class:`ShardPlan` splits the partitions of a cache (Ignite 2) or a table (Ignite 3) into
disjoint shards that together cover every partition, one shard per worker, balanced by entry or
row count and, where workers run beside Ignite nodes, preferring partitions whose primary copy is
on the worker's own node. A plan is computed once, in one place (``plan_shards`` of either
generation's client, or ``distributed.agreed_plan`` under an engine), and handed to the workers,
so they never need to agree on anything themselves: counts taken at different moments on a
changing cache cannot make two workers read the same partition, or none read one. Each
generation counts in its own room (``ignite2/plans.py``, ``Ignite3Client.plan_shards``); the
split (:func:`balanced_plan`) and its checks are made here, once.

Without a plan, ``shard=(i, n)`` falls back to contiguous ranges of partition numbers
(:func:`contiguous_shard`), which every worker can compute alone from the partition count: the
one formula of both generations.

>>> plan = client.plan_shards("digits", workers=2, homes=["10.0.0.1:10800", "10.0.0.2:10800"])  # doctest: +SKIP
>>> client.scan("digits", partitions=plan[0])                                      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._options import check_int, split_address
from .errors import InvalidArgumentError

#: Plans of caches handed to workers through the environment (JSON, by cache name): for layouts made by hand.
PLANS_ENV = "IGNITE_FAST_SHARD_PLANS"


@dataclass(frozen=True)
class ShardPlan:
    """The partitions of each of ``len(plan)`` workers; ``plan[i]`` is worker i's (sorted)."""

    cache: str
    partition_count: int
    shards: tuple[tuple[int, ...], ...]
    #: Entries in each shard when the plan was made (None when balanced by partition count).
    entries: tuple[int, ...] | None = None
    #: How many of each shard's partitions have their primary on that worker's own node.
    local_partitions: tuple[int, ...] | None = None
    #: The affinity topology version (major, minor) the plan was made for.
    topology: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        seen = sorted(p for shard in self.shards for p in shard)
        if seen != list(range(self.partition_count)):
            raise InvalidArgumentError(
                f"a shard plan for {self.cache!r} must hold each of its {self.partition_count} partitions exactly once"
            )

    def __len__(self) -> int:
        return len(self.shards)

    def __getitem__(self, worker: int) -> tuple[int, ...]:
        return self.shards[worker]

    def to_dict(self) -> dict[str, Any]:
        return {
            "cache": self.cache,
            "partition_count": self.partition_count,
            "shards": [list(s) for s in self.shards],
            "entries": None if self.entries is None else list(self.entries),
            "local_partitions": None if self.local_partitions is None else list(self.local_partitions),
            "topology": None if self.topology is None else list(self.topology),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardPlan:
        def tup(value: Any) -> tuple[Any, ...] | None:
            return None if value is None else tuple(value)

        try:
            return cls(
                cache=str(data["cache"]),
                partition_count=int(data["partition_count"]),
                shards=tuple(tuple(int(p) for p in shard) for shard in data["shards"]),
                entries=tup(data.get("entries")),
                local_partitions=tup(data.get("local_partitions")),
                topology=tup(data.get("topology")),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidArgumentError(f"not a shard plan: {e}") from None

    def describe(self) -> str:
        """One line per worker: partitions, entries, and how many partitions are local."""
        lines = []
        for i, shard in enumerate(self.shards):
            entries = "" if self.entries is None else f", {self.entries[i]} entries"
            local = "" if self.local_partitions is None else f", {self.local_partitions[i]} on its own node"
            lines.append(f"worker {i}: {len(shard)} partitions{entries}{local}")
        return "\n".join(lines)


def contiguous_shard(partition_count: int, shard: tuple[int, int]) -> range:
    """The partitions of shard ``i`` of ``n`` without a plan: a contiguous, balanced range of
    partition numbers. It depends on nothing but the count, so every worker computes the same
    split whatever the topology, and the shards are disjoint and cover every partition."""
    index, count = shard
    return range(index * partition_count // count, (index + 1) * partition_count // count)


def check_shard(shard: object) -> tuple[int, int]:
    if (
        not isinstance(shard, tuple)
        or len(shard) != 2
        or not all(isinstance(v, int) for v in shard)
        or not 0 <= shard[0] < shard[1]
    ):
        raise InvalidArgumentError(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
    return shard


def check_selection(shard: object, partitions: object, plan: object) -> list[int] | None:
    """Checks the partition-choosing arguments of a scan (``shard=``, ``partitions=``, ``plan=``)
    and returns ``partitions`` as a list (None when not given)."""
    if shard is not None and partitions is not None:
        raise InvalidArgumentError("give shard= or partitions=, not both")
    if shard is not None:
        check_shard(shard)
    elif plan is not None:
        raise InvalidArgumentError("plan= needs shard=(i, n) to say which of its shards to read")
    if partitions is None:
        return None
    if isinstance(partitions, (str, bytes)) or not hasattr(partitions, "__iter__"):
        raise InvalidArgumentError(f"partitions must be a list of partition numbers, got {partitions!r}")
    return list(partitions)


def shard_partitions(
    cache: str, partition_count: int, shard: tuple[int, int], plan: ShardPlan | None = None
) -> Sequence[int]:
    """Worker ``i``'s partitions for ``shard=(i, n)``: from ``plan`` or the plan for ``cache`` in
    the environment (:data:`PLANS_ENV`) when it has ``n`` shards of this
    cache's partitions, otherwise :func:`contiguous_shard`."""
    index, count = check_shard(shard)
    explicit = plan is not None
    plan = plan if explicit else plan_from_env(cache)
    if plan is not None:
        if plan.cache == cache and len(plan) == count and plan.partition_count == partition_count:
            return plan[index]
        if explicit:
            raise InvalidArgumentError(
                f"the shard plan has {len(plan)} shards of the {plan.partition_count} partitions of {plan.cache!r}; "
                f"shard={shard} of {cache!r} ({partition_count} partitions) does not fit it"
            )
    return contiguous_shard(partition_count, shard)


def plans_to_env(plans: Sequence[ShardPlan]) -> str:
    """The value of :data:`PLANS_ENV` for these plans."""
    return json.dumps({plan.cache: plan.to_dict() for plan in plans}, separators=(",", ":"))


def plan_from_env(cache: str) -> ShardPlan | None:
    raw = os.environ.get(PLANS_ENV)
    if not raw:
        return None
    try:
        plans = json.loads(raw)
    except ValueError as e:
        raise InvalidArgumentError(f"{PLANS_ENV} is not valid JSON: {e}") from None
    data = plans.get(cache) if isinstance(plans, dict) else None
    return None if data is None else ShardPlan.from_dict(data)


def assign_partitions(
    weights: Sequence[int], primaries: Sequence[object], homes: Sequence[set[object]], workers: int
) -> list[list[int]]:
    """Splits partitions ``0..len(weights)`` among ``workers``.

    ``weights[p]`` is partition p's cost (its entry count, or 1), ``primaries[p]`` its primary
    node, and ``homes[i]`` the nodes that are local to worker i (maybe none). Heaviest first,
    each partition goes to the least-loaded worker local to its primary while that worker stays
    within the fair share, and otherwise to the least-loaded worker of all; so no worker ends
    more than one partition's weight above the fair share. Deterministic: ties go to the lower
    worker number."""
    total = sum(weights)
    fair_share = total / workers
    loads = [0] * workers
    counts = [0] * workers
    shards: list[list[int]] = [[] for _ in range(workers)]

    def lightest(candidates: Iterable[int]) -> int:
        return min(candidates, key=lambda i: (loads[i], counts[i], i))

    def give(worker: int, partition: int) -> None:
        shards[worker].append(partition)
        loads[worker] += weights[partition]
        counts[worker] += 1

    heaviest_first = sorted(range(len(weights)), key=lambda p: (-weights[p], p))
    remote = []
    for partition in heaviest_first:
        local = [i for i in range(workers) if primaries[partition] in homes[i]]
        if local:
            worker = lightest(local)
            if loads[worker] + weights[partition] <= fair_share:
                give(worker, partition)
                continue
        remote.append(partition)
    everyone = range(workers)
    for partition in remote:
        give(lightest(everyone), partition)
    return [sorted(shard) for shard in shards]


def _host_ips(host: str) -> set[str]:
    try:
        return {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return {host}


def home_nodes(homes: Sequence[str | None], nodes: dict[Any, str]) -> list[set[Any]]:
    """For each worker's home (``"host:port"``: that node; ``"host"``: every node on that host;
    None: nowhere), the nodes local to it, as ``nodes`` names them (``{node: "host:port"}``: an
    Ignite 2 node id, an Ignite 3 node name). Hosts are compared by IP address."""
    resolved = {
        node: (_host_ips(split_address(address)[0]), split_address(address)[1]) for node, address in nodes.items()
    }
    out: list[set[Any]] = []
    for home in homes:
        if home is None:
            out.append(set())
            continue
        host, port = split_address(home)
        ips = _host_ips(host)
        out.append(
            {
                node
                for node, (node_ips, node_port) in resolved.items()
                if ips & node_ips and (port is None or port == node_port)
            }
        )
    return out


def check_plan_args(workers: int, homes: Sequence[str | None] | None, balance: str, balances: tuple[str, str]) -> None:
    """Checks a plan's arguments: ``balance`` is one of ``balances`` (the source's count, then
    ``"partitions"``), ``homes`` names each worker's node."""
    check_int("workers", workers, 1)
    if balance not in balances:
        raise InvalidArgumentError(f"balance must be {balances[0]!r} or {balances[1]!r}, got {balance!r}")
    if homes is not None and len(homes) != workers:
        raise InvalidArgumentError(f"homes names {len(homes)} workers' nodes, but there are {workers} workers")


def balanced_plan(
    cache: str,
    weights: Sequence[int],
    primaries: Sequence[object],
    local_to: list[set[object]] | None,
    workers: int,
    *,
    counted: bool,
    topology: tuple[int, int] | None = None,
) -> ShardPlan:
    """The plan :func:`assign_partitions` makes of partition ``weights`` (entry or row counts
    when ``counted``, else ones), their ``primaries`` and the nodes local to each worker
    (``None``: no homes given), with what it gives each shard."""
    shards = assign_partitions(weights, primaries, local_to or [set()] * workers, workers)
    return ShardPlan(
        cache=cache,
        partition_count=len(primaries),
        shards=tuple(tuple(s) for s in shards),
        entries=tuple(sum(weights[p] for p in s) for s in shards) if counted else None,
        local_partitions=None
        if local_to is None
        else tuple(sum(primaries[p] in local_to[i] for p in s) for i, s in enumerate(shards)),
        topology=topology,
    )
