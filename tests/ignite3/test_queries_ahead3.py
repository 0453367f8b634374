"""Ignite 3.1 holds every read-only query about 250 ms before it maps it (until the meta storage's
safe time passes the query's start; an idle cluster moves it on every 250 ms), and queries sent
together wait together. A partition-parallel read of more queries than threads therefore sends
each query a turn ahead (``ignite3/reading.partition_jobs``): on the two-node cluster, a read with
``parallel=1`` (one query per node, one thread) has both queries running on the server while the
first is still being read. Checked on the server's own list of running queries
(``SYSTEM.SQL_QUERIES``), read by the independent driver; no timing."""

from __future__ import annotations

import time
from contextlib import closing

import numpy as np
import pytest

import ignite_fast
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import read3

ROWS = 2000
TABLE = "AHEAD3"
# How long the server may take to list a query sent (or drop one closed): a bound on a wait for
# a state, not a timing.
LISTED_WITHIN = 60.0


@pytest.fixture(scope="module")
def table(ignite3_pair: Ignite3Cluster) -> str:
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    client.execute(f"DROP TABLE IF EXISTS {TABLE}")
    client.execute(f"CREATE TABLE {TABLE} (ID INT PRIMARY KEY, V INT)")
    client.put_batches(TABLE, {"ID": np.arange(ROWS, dtype=np.int32), "V": np.zeros(ROWS, np.int32)})
    assert len(set(client.primaries(TABLE))) == 2  # both nodes hold partitions: one query each
    return TABLE


def running_reads(cluster: Ignite3Cluster) -> list[str]:
    """The SQL of the partition queries of TABLE that the cluster is running."""
    return [sql for (sql,) in read3(cluster, "SELECT SQL FROM SYSTEM.SQL_QUERIES") if TABLE in sql and "__part" in sql]


def listed(cluster: Ignite3Cluster, count: int) -> list[str]:
    """The running partition queries once there are ``count`` of them (or the bound has passed)."""
    deadline = time.monotonic() + LISTED_WITHIN
    while len(running := running_reads(cluster)) != count and time.monotonic() < deadline:
        time.sleep(0.2)
    return running


def reader(client, resumable: bool):
    # pages of 10 rows: the first query stays open on the server while its reader is held back
    args = {"batch_size": 10, "page_size": 10, "parallel": 1}
    return client.resumable_scan(TABLE, **args) if resumable else client.scan(TABLE, **args)


@pytest.mark.parametrize("resumable", [False, True], ids=["scan", "resumable_scan"])
def test_the_next_query_is_sent_while_the_first_is_read(ignite3_pair, table, resumable):
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    with closing(iter(reader(client, resumable))) as batches:
        seen = list(next(batches)["ID"])
        # one thread, held by the consumer in the first node's query: the second was sent ahead
        assert len(listed(ignite3_pair, 2)) == 2
        for batch in batches:
            seen.extend(batch["ID"])
    assert sorted(seen) == list(range(ROWS))


def test_a_read_left_early_closes_the_query_sent_ahead(ignite3_pair, table):
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    with closing(iter(reader(client, resumable=True))) as batches:
        next(batches)
        assert len(listed(ignite3_pair, 2)) == 2
    assert listed(ignite3_pair, 0) == []
