"""Partition-aware, parallel reading on a three-node cluster: the partition map, every key read
exactly once, partition order on request, and a node killed mid-scan with backups configured:
the affected partitions are read again from the new primaries, with no duplicates and no gaps.

The last test kills a node: keep it last."""

from __future__ import annotations

import collections

import pytest

import ignite_fast
from ignite_fast.columns import column_from_native, to_numpy
from node_fixtures import TRIO_PORT, put_numbers

ROWS = 20_000


@pytest.fixture(scope="module")
def trio(trio):
    """The shared three-node cluster (tests/node_fixtures.py) with this module's caches:
    `spread3` (one backup) and `lone3` (none), keys 0..ROWS-1."""
    put_numbers(TRIO_PORT, "spread3", ROWS, backups=1, value=lambda i: i * 2)
    put_numbers(TRIO_PORT, "lone3", ROWS, backups=0)
    return trio


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
    from ignite_fast.ignite2.nodes import NodeConnections

    client = ignite_fast.Client(trio.addresses[0])
    endpoints = client._native.node_endpoints()
    assert sorted(port for _, port, _ in endpoints) == [TRIO_PORT, TRIO_PORT + 1, TRIO_PORT + 2]
    assert all("127.0.0.1" in hosts for _, _, hosts in endpoints)
    reached = NodeConnections(
        client.settings, client._native
    ).addresses()  # the other two from the cluster's node endpoints
    assert sorted(reached.values()) == trio.addresses
    assert set(reached) == set(client.partition_map("spread3"))
    keys = _keys(client.scan("spread3", parallel=3, batch_size=1000))
    assert sorted(keys) == list(range(ROWS))


def test_scans_of_one_client_share_their_node_connections(trio):
    client = ignite_fast.Client(trio.addresses[0])
    assert sorted(_keys(client.scan("spread3", parallel=3, batch_size=1000))) == list(range(ROWS))
    nodes = client._reader.nodes()
    per_node = {node: nodes.for_node(node) for node in set(client.partition_map("spread3"))}
    # each node over its own client
    assert len(per_node) == 3
    assert client._native not in per_node.values()
    assert sorted(_keys(client.scan("spread3", parallel=3, batch_size=1000))) == list(range(ROWS))
    assert client._reader.nodes() is nodes
    assert all(nodes.for_node(node) is sibling for node, sibling in per_node.items())


def test_raw_pages_in_parallel_count_every_entry(trio):
    client = ignite_fast.Client(trio.addresses)
    pages = list(client.raw_pages("spread3", parallel=3, page_size=8))  # complete partitions handed over in groups
    assert sum(entries for entries, _ in pages) == ROWS
    assert all(entries <= 8 and size > 0 for entries, size in pages)


def test_parallel_scan_reads_every_key_exactly_once(trio):
    client = ignite_fast.Client(trio.addresses)
    keys = _keys(client.scan("spread3", parallel=4, batch_size=256))
    assert len(keys) == ROWS
    assert set(keys) == set(range(ROWS))


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
        # a batch is one page of one partition
        assert rows <= 7
        assert merged == []
        keys[partition] += to_numpy(column_from_native(columns["key"])).tolist()
        order.append(partition)
        if done:
            finished.append(partition)
    assert sorted(finished) == list(range(0, 1024, 7))  # each partition finished exactly once
    for partition in (0, 7, 511, 1022):
        assert keys[partition] == _keys(client.scan("spread3", part=partition))
    assert sorted(k for ks in keys.values() for k in ks) == sorted(
        k for p in range(0, 1024, 7) for k in _keys(client.scan("spread3", part=p))
    )
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
        assert done
        assert rows <= 200
        # the batch is those partitions' entries, one after the other, each complete
        assert to_numpy(column_from_native(columns["key"])).tolist() == [
            k for p in whole for k in _keys(client.scan("spread3", part=p))
        ]
        read += whole
        sizes.append(rows)
    assert sorted(read) == list(range(0, 1024, 3))  # each exactly once
    # most batches hold several partitions
    assert len(sizes) < 342 / 4
    assert max(sizes) > 150


def test_small_partitions_are_merged_into_full_batches(trio):
    client = ignite_fast.Client(trio.addresses)
    sizes = [len(b["key"]) for b in client.scan("spread3", parallel=3, batch_size=1000)]
    assert sum(sizes) == ROWS
    assert max(sizes) <= 1000
    assert len(sizes) <= ROWS // 900 + 3, sizes  # not one batch per partition (about 20 entries each)


def test_ordered_parallel_scan_follows_partition_order(trio):
    client = ignite_fast.Client(trio.addresses)
    ordered = _keys(client.scan("spread3", parallel=3, ordered=True, batch_size=512))
    one_by_one = [k for part in range(1024) for k in _keys(client.scan("spread3", part=part))]
    assert ordered == one_by_one


def test_shards_are_disjoint_and_cover_the_cache(trio):
    client = ignite_fast.Client(trio.addresses)
    shards = [_keys(client.scan("spread3", shard=(i, 3), parallel=2)) for i in range(3)]
    assert sum(len(s) for s in shards) == ROWS
    assert set().union(*map(set, shards)) == set(range(ROWS))
    assert all(abs(len(s) - ROWS / 3) < ROWS * 0.1 for s in shards), [len(s) for s in shards]
    with pytest.raises(ignite_fast.InvalidArgumentError, match="shard"):
        next(client.scan("spread3", shard=(3, 3)))


def test_a_node_killed_mid_scan_loses_and_duplicates_nothing(trio):
    """Kills a node. With a backup, the victim's partitions are read again from the
    nodes that take over; without one, their data is gone and the scan says so (it must not
    return the survivors' part as if it were the whole cache)."""
    client = ignite_fast.Client(trio.addresses, read_timeout=20)
    victim = bytes(ignite_fast.Client(trio.addresses[2])._native.node_id())
    owned_by_victim = client.partition_map("spread3").count(victim)
    assert owned_by_victim > 200
    assert client._native.cache_backups("spread3") == 1
    assert client._native.cache_backups("lone3") == 0
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
