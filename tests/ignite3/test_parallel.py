"""Partition-parallel reads of an Ignite 3 table on the two-node cluster: every row exactly once with
``parallel=2`` (each partition read from its primary node), shards that cover the table, and a
node killed mid-scan giving a typed error or a complete result, never a silent partial one."""

from __future__ import annotations

import collections
import time

import numpy as np
import pytest

import ignite_fast
from ignite_fast.errors import IgniteError
from ignite_fast.server_ignite3 import Ignite3Cluster

ROWS = 100_000
PIXELS = "X'" + "5a" * 784 + "'"


@pytest.fixture(scope="module")
def big(ignite3_pair: Ignite3Cluster) -> ignite_fast.Ignite3Client:
    """BIG3: ROWS MNIST-shaped rows made by SQL on the server, in a zone of 16 partitions with one
    copy each, spread over both nodes."""
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    client.execute("DROP TABLE IF EXISTS BIG3")
    client.execute("DROP ZONE IF EXISTS BIG3_ZONE")
    client.execute("CREATE ZONE BIG3_ZONE (PARTITIONS 16, REPLICAS 1) STORAGE PROFILES ['default']")
    client.execute("CREATE TABLE BIG3 (ID INT PRIMARY KEY, PIXELS VARBINARY(784), LABEL INT) ZONE BIG3_ZONE")
    inserted = client.execute(
        f"INSERT INTO BIG3 SELECT x::INT, {PIXELS}, (x % 10)::INT FROM TABLE(SYSTEM_RANGE(0, {ROWS - 1}))"
    )
    assert inserted == ROWS
    return client


def test_parallel_reads_every_row_once_from_the_primaries(big):
    primaries = big.primaries("BIG3")
    # both nodes are primaries of some
    assert len(primaries) == 16
    assert len(set(primaries)) == 2
    assert set(big.node_clients()) == set(primaries)  # the client reached both by name
    seen = np.zeros(ROWS, np.int32)
    for batch in big.scan("BIG3", parallel=2, batch_size=5000):
        ids = batch["ID"]
        np.add.at(seen, ids, 1)
        assert batch["PIXELS"].shape == (len(ids), 784)
        assert (batch["PIXELS"] == 0x5A).all()
        assert np.array_equal(batch["LABEL"], ids % 10)
    assert (seen == 1).all(), f"{int((seen == 0).sum())} rows missed, {int((seen > 1).sum())} read twice"


def test_ordered_reads_give_partitions_in_order(big):
    per_partition = collections.Counter()
    order = []
    for batch in big.scan("BIG3", partitions=[7, 3, 11], parallel=3, ordered=True, columns=["ID"]):
        # which partition the batch came from: ask the server for the first id's partition
        [p] = next(big.sql("SELECT __part AS P FROM BIG3 WHERE ID = ?", [int(batch["ID"][0])]))["P"].tolist()
        if not order or order[-1] != p:
            order.append(p)
        per_partition[p] += len(batch["ID"])
    assert order == [7, 3, 11]
    counts = next(big.sql("SELECT __part AS P, COUNT(*) AS N FROM BIG3 WHERE __part IN (3, 7, 11) GROUP BY __part"))
    assert dict(zip(counts["P"].tolist(), counts["N"].tolist())) == dict(per_partition)


def test_shards_are_disjoint_and_cover_the_table(big):
    seen = np.zeros(ROWS, np.int32)
    for i in range(3):
        for batch in big.scan("BIG3", shard=(i, 3), columns=["ID"]):
            np.add.at(seen, batch["ID"], 1)
    assert (seen == 1).all()


def test_shard_plans_balance_rows_prefer_home_nodes_and_cover_the_table(ignite3_pair: Ignite3Cluster, big):
    counts = next(big.sql("SELECT __part AS P, COUNT(*) AS N FROM BIG3 GROUP BY __part"))
    rows_in = dict(zip(counts["P"].tolist(), counts["N"].tolist()))
    plan = big.plan_shards("BIG3", 3)
    # a ShardPlan checks every partition is in once
    assert plan.partition_count == 16
    assert len(plan) == 3
    assert plan.entries == tuple(sum(rows_in.get(p, 0) for p in shard) for shard in plan.shards)
    assert max(plan.entries) - ROWS / 3 <= max(rows_in.values())  # within one partition of the fair share

    # two workers, each beside one node: every partition read from its own worker's node
    first, second = ignite3_pair.addresses
    plan = big.plan_shards("BIG3", 2, homes=[first, second], balance="partitions")
    primaries = big.primaries("BIG3")
    names = {address: next(iter(ignite_fast.Client(address, ignite=3).node_clients())) for address in (first, second)}
    for worker, home in enumerate((first, second)):
        assert plan.local_partitions[worker] == sum(primaries[p] == names[home] for p in plan[worker])
        # its own node's partitions, as many as the fair share (8) allows
        assert plan.local_partitions[worker] == min(8, primaries.count(names[home]))
    seen = np.zeros(ROWS, np.int32)
    for shard in plan.shards:
        for batch in big.scan("BIG3", partitions=list(shard), parallel=2, columns=["ID"]):
            np.add.at(seen, batch["ID"], 1)
    assert (seen == 1).all()
    with pytest.raises(ignite_fast.errors.InvalidArgumentError, match="balance"):
        big.plan_shards("BIG3", 2, balance="entries")
    with pytest.raises(ignite_fast.errors.InvalidArgumentError, match="homes names 1"):
        big.plan_shards("BIG3", 2, homes=[first])


def test_a_node_killed_mid_scan_gives_a_typed_error_or_every_row(ignite3_pair: Ignite3Cluster, big):
    """Last in the module: it kills node 1 (node 0 keeps the meta storage). The zone keeps one copy
    of each partition, so node 1's partitions are gone: the scan must fail with a typed error,
    promptly, or (if it had read them before the kill) give every row exactly once."""
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3, read_timeout=20.0)
    seen = np.zeros(ROWS, np.int32)
    started = time.monotonic()
    outcome = None
    try:
        for n, batch in enumerate(client.scan("BIG3", parallel=2, batch_size=1000, page_size=1000)):
            np.add.at(seen, batch["ID"], 1)
            if n == 3:
                ignite3_pair.kill_node(1)
        outcome = "complete"
    except IgniteError as error:
        outcome = f"{type(error).__name__}: {error}"
    elapsed = time.monotonic() - started
    print(f"after the kill: {outcome} in {elapsed:.1f} s, {int((seen > 0).sum())} rows read")
    assert (seen <= 1).all()  # never a row twice
    if outcome == "complete":
        assert (seen == 1).all()
    assert elapsed < 120
