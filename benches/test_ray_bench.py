"""Ray Data's read of an Ignite cache (``ignite_fast.ray.read_ignite``) next to ``Client.scan`` on
the same three local nodes.

Readers, each over the whole cache per round:
- ``Client.scan arrow, parallel=3``: one process, one connection per node, Arrow batches (what
  each read task does for its partitions);
- ``read_ignite, materialize``: the read tasks fill Ray's object stores (three Ray nodes on this
  machine, one beside each Ignite node, two CPUs each: 12 read tasks);
- ``read_ignite, iter_batches``: the same, every block then carried to one consumer (the driver),
  as a single-process trainer would take them.

On a 2-core machine the three JVMs, the Ray nodes and their workers share two cores: this shows
the cost of Ray's task machinery next to the scan, not scaling.
"""

from __future__ import annotations

import pytest
import ray
from ray.cluster_utils import Cluster

import ignite_fast
from conftest import quiet_before_timing, record
from ignite_fast.ray import read_ignite

ROUNDS, WARMUP_ROUNDS = 3, 1
RAY_NODES, CPUS_PER_RAY_NODE = 3, 2


@pytest.fixture(scope="module")
def ray_cluster():
    """Three Ray nodes on this machine; this process is the driver."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": CPUS_PER_RAY_NODE, "object_store_memory": 300 << 20, "include_dashboard": False},
    )
    try:
        for _ in range(RAY_NODES - 1):
            cluster.add_node(num_cpus=CPUS_PER_RAY_NODE, object_store_memory=300 << 20)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def _scan(cache):
    client = ignite_fast.Client(cache["addresses"])

    def run():
        return sum(batch.num_rows for batch in client.scan(cache["name"], format="arrow", parallel=3))

    return run


def _materialize(cache):
    def run():
        dataset = read_ignite(cache["name"], hosts=cache["addresses"]).materialize()
        rows = dataset.count()
        del dataset  # the blocks leave the object stores
        return rows

    return run


def _iter_batches(cache):
    def run():
        dataset = read_ignite(cache["name"], hosts=cache["addresses"])
        return sum(table.num_rows for table in dataset.iter_batches(batch_size=None, batch_format="pyarrow"))

    return run


READERS = {
    "Client.scan arrow, parallel=3": _scan,
    "read_ignite, materialize": _materialize,
    "read_ignite, iter_batches": _iter_batches,
}


@pytest.mark.parametrize("scenario", ["mnist", "tabular"])
@pytest.mark.parametrize("reader", list(READERS))
def test_ray_read_throughput(benchmark, caches, ray_cluster, scenario, reader):
    cache = caches.get(scenario, nodes=3)
    run = READERS[reader](cache)
    assert run() == cache["rows"]  # a first pass: Ray's workers start, the nodes compile for it
    quiet_before_timing(cache["cluster"])
    rows = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    assert rows == cache["rows"]
    record(benchmark, f"{scenario} (3 nodes, Ray)", reader, rows, rows * cache["value_bytes"])
