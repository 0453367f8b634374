"""Aggregate read throughput of 1, 2 and 3 training workers against three local nodes.

Each worker is its own process, as in distributed training: it reads its shard of the
plan (balanced by entries, partitions of its own node first) with ``scan(shard=(i, n))`` over
two connections. The workers start and connect before the clock starts; a round is one
pass over the whole cache by all of them together, timed from "go" to the last worker's "done".

On a 2-core machine the three JVMs and the workers share two cores, so this shows the cost of
coordination rather than scaling; on real hardware each worker and node has its own.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import quiet_before_timing, record

ROUNDS, WARMUP_ROUNDS = 3, 1

WORKER = r"""
import sys
import ignite_fast
index, count, cache = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
client = ignite_fast.Client(sys.argv[4].split(","))
print("ready", flush=True)
for line in sys.stdin:
    rows = 0
    for batch in client.scan(cache, shard=(index, count), parallel=2):
        rows += len(batch["key"])
    print(rows, flush=True)
"""


class Workers:
    """``count`` reader processes with the plans' environment, kept alive across rounds."""

    def __init__(self, cluster, cache: str, count: int):
        import ignite_fast
        from ignite_fast.sharding import PLANS_ENV, plans_to_env

        client = ignite_fast.Client(cluster.addresses)
        homes = [cluster.addresses[i % len(cluster.addresses)] for i in range(count)]
        self.plan = client.plan_shards(cache, count, homes=homes)
        env = dict(os.environ, **{PLANS_ENV: plans_to_env([self.plan])})
        self.procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(i), str(count), cache, ",".join(cluster.addresses)],
                env=env,
                text=True,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
            for i in range(count)
        ]
        for proc in self.procs:
            assert proc.stdout.readline().strip() == "ready"

    def one_pass(self) -> int:
        for proc in self.procs:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        return sum(int(proc.stdout.readline()) for proc in self.procs)

    def close(self) -> None:
        for proc in self.procs:
            proc.stdin.close()
            proc.wait(timeout=30)


@pytest.mark.parametrize("scenario", ["1mb", "mnist"])
@pytest.mark.parametrize("workers", [1, 2, 3])
def test_aggregate_read_throughput(benchmark, caches, bench_trio, scenario, workers):
    cache = caches.get(scenario, nodes=3)
    readers = Workers(bench_trio, cache["name"], workers)
    try:
        quiet_before_timing(bench_trio)
        read = benchmark.pedantic(readers.one_pass, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    finally:
        readers.close()
    assert read == cache["rows"]
    benchmark.extra_info["plan"] = readers.plan.describe()
    record(
        benchmark,
        f"3 nodes {scenario}",
        f"{workers} worker{'s' if workers > 1 else ''}",
        read,
        read * cache["value_bytes"],
    )
