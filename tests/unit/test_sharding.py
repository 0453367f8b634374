"""Shard assignment (ignite_fast.sharding.assign_partitions) on random partition weights, owners
and worker homes: no node needed. (Plans against a real cluster: tests/cluster/test_distributed.py.)"""

from __future__ import annotations

import random

from ignite_fast.sharding import assign_partitions


def test_assignment_is_balanced_disjoint_and_deterministic():
    rng = random.Random(5)
    for _ in range(200):
        partitions, workers = rng.randint(1, 300), rng.randint(1, 7)
        weights = [rng.choice([0, 1, 3, rng.randint(0, 500)]) for _ in range(partitions)]
        primaries = [rng.randint(0, 3) for _ in range(partitions)]
        homes = [set(rng.sample(range(5), rng.randint(0, 2))) for _ in range(workers)]
        shards = assign_partitions(weights, primaries, homes, workers)
        assert sorted(p for s in shards for p in s) == list(range(partitions))
        loads = [sum(weights[p] for p in s) for s in shards]
        assert max(loads) <= sum(weights) / workers + max(weights)
        assert shards == assign_partitions(weights, primaries, homes, workers)
