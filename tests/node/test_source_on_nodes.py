"""Both generations' real clients are sources (``ignite_fast.source.Source``), and what the
protocol says they share holds on real nodes: node keys, partition counts, the schema's shape,
the topology, and one shard formula (``sharding.contiguous_shard``) for both."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast
from ignite_fast.server_ignite3 import Ignite3Cluster
from ignite_fast.sharding import contiguous_shard
from ignite_fast.source import Source
from node_fixtures import ignite3_connect

ROWS = 200


@pytest.fixture(scope="module")
def table3(ignite3: Ignite3Cluster) -> str:
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS SOURCE3")
        cur.execute("CREATE TABLE SOURCE3 (ID INT PRIMARY KEY, NAME VARCHAR)")
        cur.executemany("INSERT INTO SOURCE3 VALUES (?, ?)", [(i, f"n{i}") for i in range(ROWS)])
    return "SOURCE3"


@pytest.fixture
def cache2(client: ignite_fast.Client, cache_name: str) -> str:
    client.put_batches(cache_name, {"key": np.arange(ROWS, dtype=np.int64), "val": {"n": np.arange(ROWS)}})
    return cache_name


def test_both_clients_are_sources(client, ignite3: Ignite3Cluster):
    ignite2_client = client
    ignite3_client = ignite_fast.Client(port=ignite3.port, ignite=3)
    assert isinstance(ignite2_client, Source)
    assert isinstance(ignite3_client, Source)
    assert not isinstance(object(), Source)


def test_node_keys_partitions_and_topology_agree_on_ignite2(client, cache2):
    primaries = client.primaries(cache2)
    assert client.partitions(cache2) == len(primaries) == 1024
    assert all(isinstance(node, str) for node in primaries)
    assert set(primaries) <= set(client.node_addresses())
    assert client.topology() == client.topology_version()
    assert client.schema(cache2) == {"key": "long", "val": {"n": "long"}}


def test_node_keys_partitions_and_topology_agree_on_ignite3(ignite3: Ignite3Cluster, table3):
    client = ignite_fast.Client(port=ignite3.port, ignite=3)
    primaries = client.primaries(table3)
    assert client.partitions(table3) == len(primaries)
    assert {node for node in primaries if node is not None} <= set(client.node_addresses())
    assert client.topology() is None
    assert client.schema(table3) == {"ID": "INTEGER", "NAME": "VARCHAR(65536) NULL"}


def test_a_replicated_cache_has_no_partitions_to_read_one_by_one(client, cache_name):
    list(client.sql(f'CREATE TABLE {cache_name} (ID INT PRIMARY KEY, V INT) WITH "template=replicated"'))
    table = f"SQL_PUBLIC_{cache_name.upper()}"
    assert client.partitions(table) == 0
    assert client.primaries(table) == []


@pytest.mark.parametrize("n", [1, 3, 4])
def test_both_generations_shard_with_one_formula(client, cache2, ignite3: Ignite3Cluster, table3, n):
    """``shard=(i, n)`` reads the partitions ``contiguous_shard(partitions, (i, n))`` on both."""
    client3 = ignite_fast.Client(port=ignite3.port, ignite=3)
    for source, name, key in ((client, cache2, "key"), (client3, table3, "ID")):
        columns = {} if key == "key" else {"columns": [key]}
        read = []
        for i in range(n):
            mine = list(contiguous_shard(source.partitions(name), (i, n)))
            got = sorted(int(k) for b in source.scan(name, shard=(i, n), **columns) for k in b[key])
            assert got == sorted(int(k) for b in source.scan(name, partitions=mine, **columns) for k in b[key])
            read += got
        assert sorted(read) == list(range(ROWS))


def test_both_generations_give_text_in_the_form_asked(client, cache2, ignite3: Ignite3Cluster, table3):
    """``strings=`` is the protocol's: the same text as ``S`` bytes or as ``str`` on both, whether
    read by one cursor or partition by partition."""
    client3 = ignite_fast.Client(port=ignite3.port, ignite=3)
    for parallel in (None, 2):
        as_bytes = [b["NAME"] for b in client3.scan(table3, columns=["NAME"], parallel=parallel)]
        as_str = [b["NAME"] for b in client3.scan(table3, columns=["NAME"], parallel=parallel, strings="str")]
        assert {v.decode() for a in as_bytes for v in a.tolist()} == {str(v) for a in as_str for v in a.tolist()}
        assert all(a.dtype.kind == "S" for a in as_bytes)
        assert all(a.dtype.kind != "S" for a in as_str)
    text = {b["NAME"].dtype.kind for b in client3.sql(f"SELECT NAME FROM {table3}", strings="str")}
    assert "S" not in text
    client.put_batches(cache2, {"key": np.arange(3), "val": {"s": np.array(["a", "bc", "déf"])}}, type_name="Texts")
    got = [b["val"]["s"] for b in client.scan(cache2, value_type="Texts", strings="str")]
    assert sorted(str(v) for a in got for v in a.tolist()) == ["a", "bc", "déf"]
