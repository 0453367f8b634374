"""Partition-aware, parallel reading on a three-node cluster: the partition map, every key read
exactly once, partition order on request, and a node killed mid-scan with backups configured:
the affected partitions are read again from the new primaries, with no duplicates and no gaps."""

from __future__ import annotations

import collections

import pytest
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

import ignite_fast
from conftest import started
from ignite_fast.columns import from_native
from ignite_fast.server import IgniteCluster

ROWS = 20_000


@pytest.fixture(scope="module")
def trio():
    cluster = started(IgniteCluster(nodes=3, port=10910, discovery_port=27610, communication_port=27210,
                                    name="pytest-trio", region_mb=256, heap_mb=512))
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", 10910)
    cache = writer.get_or_create_cache({PROP_NAME: "spread3", PROP_BACKUPS_NUMBER: 1})
    lone = writer.get_or_create_cache({PROP_NAME: "lone3", PROP_BACKUPS_NUMBER: 0})
    for start in range(0, ROWS, 5000):
        cache.put_all({i: i * 2 for i in range(start, start + 5000)})
        lone.put_all({i: i for i in range(start, start + 5000)})
    writer.close()
    yield cluster
    cluster.stop()


def _keys(batches) -> list[int]:
    return [k for b in batches for k in b["key"].tolist()]


def test_partition_map_names_every_node(trio):
    client = ignite_fast.Client(trio.addresses)
    primaries = client.partition_map("spread3")
    assert len(primaries) == 1024
    node_ids = {bytes(ignite_fast.Client(a)._native.node_id()) for a in trio.addresses}
    assert set(primaries) == node_ids
    assert min(collections.Counter(primaries).values()) > 200


def test_one_address_is_enough_to_reach_every_node(trio):
    from ignite_fast.parallel import NodeClients

    client = ignite_fast.Client(trio.addresses[0])
    endpoints = client._native.node_endpoints()
    assert sorted(port for _, port, _ in endpoints) == [10910, 10911, 10912]
    assert all("127.0.0.1" in hosts for _, _, hosts in endpoints)
    reached = NodeClients(client).addresses()  # the other two from the cluster's node endpoints
    assert sorted(reached.values()) == trio.addresses
    assert set(reached) == set(client.partition_map("spread3"))
    keys = _keys(client.scan("spread3", parallel=3, batch_size=1000))
    assert sorted(keys) == list(range(ROWS))


def test_scans_of_one_client_share_their_node_connections(trio):
    client = ignite_fast.Client(trio.addresses[0])
    assert sorted(_keys(client.scan("spread3", parallel=3, batch_size=1000))) == list(range(ROWS))
    nodes = client._node_clients()
    per_node = {node: nodes.client_for(node) for node in set(client.partition_map("spread3"))}
    assert len(per_node) == 3 and client not in per_node.values()  # each node over its own client
    assert sorted(_keys(client.scan("spread3", parallel=3, batch_size=1000))) == list(range(ROWS))
    assert client._node_clients() is nodes
    assert all(nodes.client_for(node) is sibling for node, sibling in per_node.items())


def test_raw_pages_in_parallel_count_every_entry(trio):
    client = ignite_fast.Client(trio.addresses)
    pages = list(client.raw_pages("spread3", parallel=3, page_size=8))  # complete partitions handed over in groups
    assert sum(entries for entries, _ in pages) == ROWS
    assert all(entries <= 8 and size > 0 for entries, size in pages)


def test_parallel_scan_reads_every_key_exactly_once(trio):
    client = ignite_fast.Client(trio.addresses)
    keys = _keys(client.scan("spread3", parallel=4, batch_size=256))
    assert len(keys) == ROWS and set(keys) == set(range(ROWS))


def test_several_partition_cursors_in_flight_on_one_connection(trio):
    client = ignite_fast.Client(trio.addresses[0])
    idle_before = client._native.idle_connections
    scan = client._native.partition_scan("spread3", page_size=7, cursors=5)
    todo = list(range(0, 1024, 7))
    keys: dict[int, list[int]] = collections.defaultdict(list)
    order, finished = [], []
    while True:
        while scan.free_cursors and todo:
            scan.add(todo.pop(0))
        if (item := scan.next_batch(100)) is None:
            break
        partition, done, rows, columns, merged = item
        assert rows <= 7 and merged == []  # a batch is one page of one partition
        keys[partition] += from_native(columns["key"]).tolist()
        order.append(partition)
        if done:
            finished.append(partition)
    assert sorted(finished) == list(range(0, 1024, 7))  # each partition finished exactly once
    for partition in (0, 7, 511, 1022):
        assert keys[partition] == _keys(client.scan("spread3", part=partition))
    assert sorted(k for ks in keys.values() for k in ks) == sorted(
        k for p in range(0, 1024, 7) for k in _keys(client.scan("spread3", part=p)))
    # pages of different partitions arrive interleaved: several cursors were open at once
    first = {p: order.index(p) for p in set(order)}
    last = {p: len(order) - 1 - order[::-1].index(p) for p in set(order)}
    interleaved = [p for p in first if last[p] - first[p] + 1 > order.count(p)]
    assert len(interleaved) > 10
    assert client._native.idle_connections == idle_before  # one connection, given back at the end
    with pytest.raises(ignite_fast.InvalidArgumentError, match="cursors per connection"):
        client._native.partition_scan("spread3", cursors=0)


def test_partitions_whole_in_one_page_share_batches(trio):
    client = ignite_fast.Client(trio.addresses[0])
    scan = client._native.partition_scan("spread3", page_size=100, cursors=4)  # ~20 entries each
    todo = list(range(0, 1024, 3))
    read: list[int] = []
    sizes = []
    while True:
        while todo and scan.pending < 40:  # queued beyond the 4 cursors, opened as they free up
            scan.add(todo.pop(0))
        if (item := scan.next_batch(200, True)) is None:
            break
        partition, done, rows, columns, merged = item
        whole = [partition, *merged]
        assert done and rows <= 200
        # the batch is those partitions' entries, one after the other, each complete
        assert from_native(columns["key"]).tolist() == [k for p in whole for k in _keys(client.scan("spread3", part=p))]
        read += whole
        sizes.append(rows)
    assert sorted(read) == list(range(0, 1024, 3))  # each exactly once
    assert len(sizes) < 342 / 4 and max(sizes) > 150  # most batches hold several partitions


def test_small_partitions_are_merged_into_full_batches(trio):
    client = ignite_fast.Client(trio.addresses)
    sizes = [len(b["key"]) for b in client.scan("spread3", parallel=3, batch_size=1000)]
    assert sum(sizes) == ROWS and max(sizes) <= 1000
    assert len(sizes) <= ROWS // 900 + 3, sizes  # not one batch per partition (about 20 entries each)


def test_coalesce_merges_columns_of_every_mergeable_kind():
    import numpy as np

    from ignite_fast.parallel import coalesce

    def batch(keys, names, valid):
        raw = np.zeros((len(names), max(map(len, names))), np.uint8)
        for i, name in enumerate(names):
            raw[i, :len(name)] = list(name.encode())
        val = ("struct", "Thing", {"name": ("str", raw, valid, None),
                                    "vec": ("fixed", np.ones((len(keys), 2), np.float32) * keys[0], None)}, len(keys))
        return len(keys), {"key": ("prim", np.array(keys, np.int64), None, None), "val": val}

    ragged = (1, {"key": ("prim", np.array([9], np.int64), None, None),
                  "val": ("var", np.zeros(3, np.int32), np.array([0, 3], np.int32), None)})
    out = list(coalesce(iter([batch([1, 2], ["a", "bbbb"], None), batch([3], ["cc"], np.array([False])),
                              batch([4], ["d"], None)]), batch_size=10))
    assert len(out) == 1 and out[0][0] == 4
    merged = out[0][1]
    assert merged["key"][1].tolist() == [1, 2, 3, 4]
    name = from_native(merged["val"][2]["name"])
    assert name.tolist() == [b"a", b"bbbb", None, b"d"] and name.mask.tolist() == [False, False, True, False]
    assert from_native(merged["val"])["vec"][:, 0].tolist() == [1, 1, 3, 4]
    # a run with a column that does not merge (ragged here) is passed on as it came, in order
    first = batch([5], ["e"], None)
    assert list(coalesce(iter([first, ragged]), batch_size=10)) == [first, ragged]
    # batch_size bounds a merged batch
    assert [n for n, _ in coalesce(iter([batch([i], ["x"], None) for i in range(5)]), batch_size=2)] == [2, 2, 1]


def test_ordered_parallel_scan_follows_partition_order(trio):
    client = ignite_fast.Client(trio.addresses)
    ordered = _keys(client.scan("spread3", parallel=3, ordered=True, batch_size=512))
    one_by_one = [k for part in range(1024) for k in _keys(client.scan("spread3", part=part))]
    assert ordered == one_by_one


def test_a_node_killed_mid_scan_loses_and_duplicates_nothing(trio):
    """Kills a node. With a backup, the victim's partitions are read again from the
    nodes that take over; without one, their data is gone and the scan says so (it must not
    return the survivors' part as if it were the whole cache)."""
    client = ignite_fast.Client(trio.addresses, read_timeout=20)
    victim = bytes(ignite_fast.Client(trio.addresses[2])._native.node_id())
    owned_by_victim = client.partition_map("spread3").count(victim)
    assert owned_by_victim > 200
    assert client._native.cache_backups("spread3") == 1 and client._native.cache_backups("lone3") == 0
    batches = client.scan("spread3", parallel=2, batch_size=64, page_size=32)
    unprotected = client.scan("lone3", parallel=2, batch_size=64, page_size=32)
    seen = _keys([next(batches) for _ in range(5)])  # a handful of ~1024 partitions read so far
    partial = _keys([next(unprotected) for _ in range(5)])
    trio.kill_node(2)
    with pytest.raises(ignite_fast.DataLostError, match=r"lone3.*0 backup"):
        partial += _keys(unprotected)
    assert len(partial) < ROWS
    seen += _keys(batches)
    # The victim's partitions were read from the backups that took over.
    assert victim not in ignite_fast.Client(trio.addresses[:2]).partition_map("spread3")
    duplicates = [k for k, n in collections.Counter(seen).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} keys read twice"
    assert set(seen) == set(range(ROWS)), f"{ROWS - len(set(seen))} keys missing"


def test_tf_dataset_reads_partitions_in_parallel(trio):
    from ignite_fast import IgniteDataset

    dataset = IgniteDataset("spread3", hosts=trio.addresses, batch_size=1000, parallel=3)
    keys = [k for batch in dataset.as_numpy_iterator() for k in batch["key"].tolist()]
    assert len(keys) == ROWS and set(keys) == set(range(ROWS))


def test_shards_are_disjoint_and_cover_the_cache(trio):
    client = ignite_fast.Client(trio.addresses)
    shards = [_keys(client.scan("spread3", shard=(i, 3), parallel=2)) for i in range(3)]
    assert sum(len(s) for s in shards) == ROWS
    assert set().union(*map(set, shards)) == set(range(ROWS))
    assert all(abs(len(s) - ROWS / 3) < ROWS * 0.1 for s in shards), [len(s) for s in shards]
    with pytest.raises(ignite_fast.InvalidArgumentError, match="shard"):
        next(client.scan("spread3", shard=(3, 3)))


def test_tf_input_pipelines_read_every_key_once(trio):
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    keys = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline)
        dataset = IgniteDataset.for_input_context(context, "spread3", hosts=trio.addresses, batch_size=1000)
        keys.append([k for batch in dataset.as_numpy_iterator() for k in batch["key"].tolist()])
    assert not set(keys[0]) & set(keys[1])
    assert sorted(keys[0] + keys[1]) == list(range(ROWS))
