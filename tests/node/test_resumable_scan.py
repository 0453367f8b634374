"""Resumable scans of Ignite 2 caches on real nodes (``Client.resumable_scan``): stopped after any
number of batches and resumed from the position's bytes in a new client, every key is read
exactly once; positions of another read are refused before anything is read; changed data gives
the documented outcome. The last test kills a node of the three-node cluster: keep it last."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

import ignite_fast
from ignite_fast import PositionError, PositionMismatchError, ScanPosition
from node_fixtures import SESSION_PORT, TRIO_PORT, put_numbers
from resuming import assert_each_once, positions_along, read_with_stops, stops

#: Keys from PARTS on (partition k % PARTS for these small Long keys), 12 to a partition: key p
#: of partition p is free, and would be the partition's first in scan order (by key hash).
PARTS = 1024
ROWS = 12 * PARTS
KEYS = range(PARTS, PARTS + ROWS)


def fill(name: str) -> str:
    keys = np.arange(PARTS, PARTS + ROWS, dtype=np.int64)
    ignite_fast.Client("127.0.0.1", SESSION_PORT).put_batches(name, {"key": keys, "val": {"n": keys * 2}})
    return name


def put(name: str, *keys: int) -> None:
    column = np.array(keys, dtype=np.int64)
    ignite_fast.Client("127.0.0.1", SESSION_PORT).put_batches(name, {"key": column, "val": {"n": column * 2}})


def keys_of(batch) -> np.ndarray:
    assert (batch["val"]["n"] == batch["key"] * 2).all()  # rows whole: the value is the key's
    return batch["key"]


def opener(name: str, **args):
    """Scans of ``name`` with ``args``, each in a new client."""
    return lambda position: ignite_fast.Client("127.0.0.1", SESSION_PORT).resumable_scan(name, position, **args)


@pytest.fixture(scope="module")
def numbers(cluster) -> str:
    return fill("resumable_numbers")


@pytest.fixture
def changing(cluster, pyignite_client, request) -> str:
    """A cache of its own for a test that changes it."""
    name = "resumable_" + request.node.name[:40]
    pyignite_client.get_or_create_cache(name).destroy()
    return fill(name)


@pytest.mark.parametrize("parallel", [1, 3])
def test_every_key_once_whatever_batch_the_read_stops_after(numbers, parallel):
    args = {"batch_size": 5, "parallel": parallel}
    positions = positions_along(opener(numbers, **args)(None))
    chosen = stops(positions, boundary_closed=True)
    assert positions[chosen["last"]].rows == ROWS
    for where, count in chosen.items():
        keys = read_with_stops(opener(numbers, **args), [count], keys_of)
        assert_each_once(keys, KEYS)
        assert where  # every kind of stop read every key once


def test_several_stops_in_a_row(numbers):
    keys = read_with_stops(opener(numbers, batch_size=5, parallel=2), [0, 1, 7, 2, 300, 1, 0, 999], keys_of)
    assert_each_once(keys, KEYS)


def test_batches_are_those_of_scan_and_the_position_counts_them(numbers):
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    plain = np.concatenate([b["key"] for b in client.scan(numbers, batch_size=5)])
    scan = client.resumable_scan(numbers, batch_size=5)
    assert scan.position().describe() == (
        f"cache 'resumable_numbers' (Ignite 2), epoch 0: 0/{PARTS} partitions finished, 0 open, 0 rows read"
    )
    rows = 0
    for batch in scan:
        assert set(batch) == {"key", "val"}
        assert len(batch["key"]) <= 5
        rows += len(batch["key"])
        assert scan.position().rows == rows
    assert rows == len(plain) == ROWS
    assert scan.position().done


def test_columns_shard_and_partitions_selections(numbers):
    keys = read_with_stops(opener(numbers, batch_size=5, columns=["n"]), [40, 100], keys_of)
    assert_each_once(keys, KEYS)
    for i in range(3):
        shard = opener(numbers, batch_size=5, shard=(i, 3), parallel=2)
        keys = read_with_stops(shard, [10, 31], keys_of)
        mine = ignite_fast.Client("127.0.0.1", SESSION_PORT).resumable_scan(numbers, shard=(i, 3)).position()
        assert_each_once(keys, [k for k in KEYS if k % PARTS in mine.partitions])
    chosen = [0, 5, 77, 1000, 1023]
    keys = read_with_stops(opener(numbers, batch_size=5, partitions=chosen), [3, 1], keys_of)
    assert_each_once(keys, [k for k in KEYS if k % PARTS in chosen])


def test_epochs(numbers):
    scan = opener(numbers, batch_size=5, epoch=4)(None)
    assert scan.position().epoch == 4
    for _ in scan:
        pass
    done = scan.position()
    assert done.done
    assert done.epoch == 4
    following = done.next_epoch()
    assert (following.epoch, following.rows, following.done) == (5, 0, False)
    keys = read_with_stops(lambda p: opener(numbers, batch_size=5)(p or following), [30], keys_of)
    assert_each_once(keys, KEYS)
    # a done position reads nothing more
    assert list(opener(numbers, batch_size=5)(done)) == []


def test_positions_of_other_reads_are_refused_before_anything_is_read(numbers, cluster):
    other = fill("resumable_other")
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    scan = client.resumable_scan(numbers, batch_size=5, shard=(0, 4))
    next(scan)
    position = scan.position()
    refused = {
        "of cache 'resumable_numbers', this scan reads 'resumable_other'": dict(cache=other, shard=(0, 4)),
        "columns=": dict(shard=(0, 4), columns=["n"]),
        r"shard=\[0, 4\], this scan has shard=\[1, 4\]": dict(shard=(1, 4)),
        r"shard=\[0, 4\], this scan has shard=\[0, 2\]": dict(shard=(0, 2)),  # another world size
        "shard=": dict(partitions=list(position.partitions)),
        "plan=": dict(shard=(0, 4), plan=client.plan_shards(numbers, 4)),
        "value_type=": dict(shard=(0, 4), value_type="SomeType"),
    }
    for message, args in refused.items():
        cache = args.pop("cache", numbers)
        with pytest.raises(PositionError, match=message):
            client.resumable_scan(cache, position, batch_size=5, **args)
    few = client.resumable_scan(numbers, partitions=[1, 2, 3]).position()
    with pytest.raises(PositionError, match=r"position is of partitions \[1-3\], this scan reads \[1-2, 4\]"):
        client.resumable_scan(numbers, few, partitions=[4, 2, 1])
    third = dataclasses.replace(position, generation=3)
    with pytest.raises(PositionError, match="position is of Ignite 3, this scan reads Ignite 2"):
        client.resumable_scan(numbers, third, shard=(0, 4))
    with pytest.raises(PositionError, match="ScanPosition"):
        client.resumable_scan(numbers, position.to_dict(), shard=(0, 4))  # type: ignore[arg-type]
    corrupted = bytearray(position.to_bytes())
    corrupted[len(corrupted) // 2] ^= 1
    with pytest.raises(PositionError):
        client.resumable_scan(numbers, ScanPosition.from_bytes(bytes(corrupted)), shard=(0, 4))
    # the same position resumes the read it was taken of
    keys = read_with_stops(
        lambda p: client.resumable_scan(numbers, p or position, batch_size=5, shard=(0, 4)), [], keys_of
    )
    assert_each_once(
        np.r_[keys, position_keys(numbers, position)], [k for k in KEYS if k % PARTS in position.partitions]
    )


def position_keys(cache: str, position: ScanPosition) -> np.ndarray:
    """The keys a position says were read: its finished partitions' and the first rows of its
    open ones, in scan order."""
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    got = [in_order(client, cache, p) for p in position.finished]
    got += [in_order(client, cache, p)[:rows] for p, (rows, _) in position.open.items()]
    return np.concatenate(got) if got else np.empty(0, np.int64)


def in_order(client, cache: str, partition: int) -> np.ndarray:
    """A partition's keys in scan order (and a check that they are the partition's)."""
    keys = np.concatenate([b["key"] for b in client.scan(cache, partitions=[partition])])
    assert (keys % PARTS == partition).all()
    return keys


def stopped_mid_partition(cache: str) -> tuple[np.ndarray, ScanPosition, int]:
    """The keys of a read stopped with a partition open, its position, and that partition."""
    scan = opener(cache, batch_size=5)(None)
    got = []
    for batch in scan:
        got.append(batch["key"])
        if scan.position().open and len(scan.position().finished) > 100:
            break
    position = ScanPosition.from_bytes(scan.position().to_bytes())
    scan.close()
    (partition,) = position.open
    return np.concatenate(got), position, partition


def test_a_row_removed_from_what_an_open_partition_read_is_a_mismatch(changing, pyignite_client):
    _, position, partition = stopped_mid_partition(changing)
    first = int(in_order(ignite_fast.Client("127.0.0.1", SESSION_PORT), changing, partition)[0])
    pyignite_client.get_cache(changing).remove_key(first)
    scan = opener(changing, batch_size=5)(position)
    with pytest.raises(PositionMismatchError, match=f"partition {partition} of cache '{changing}'.*keys differ"):
        next(scan)  # the first batch: nothing given before the check


def test_a_row_added_before_what_an_open_partition_read_is_a_mismatch(changing):
    _, position, partition = stopped_mid_partition(changing)
    put(changing, partition)  # key p: partition p's first in scan order
    assert in_order(ignite_fast.Client("127.0.0.1", SESSION_PORT), changing, partition)[0] == partition
    with pytest.raises(PositionMismatchError, match=f"partition {partition} of"):
        next(opener(changing, batch_size=5)(position))


def test_a_partition_that_lost_rows_it_read_is_a_mismatch(changing, pyignite_client):
    _, position, partition = stopped_mid_partition(changing)
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    pyignite_client.get_cache(changing).remove_keys([int(k) for k in in_order(client, changing, partition)])
    with pytest.raises(PositionMismatchError, match="has 0 rows now, fewer than the 5 read before"):
        next(opener(changing, batch_size=5)(position))


def test_rows_changed_past_the_read_rows_or_in_finished_or_unread_partitions(changing, pyignite_client):
    """Rows added after an open partition's read rows, or to unread partitions, are read; rows
    added to finished partitions are not (this epoch read them whole already), and removing
    rows already read there changes nothing."""
    read, position, partition = stopped_mid_partition(changing)
    finished = sorted(position.finished)[:2]
    unread = [p for p in position.partitions if p not in position.finished and p not in position.open][:2]
    late = [partition + PARTS * 1000] + [p + PARTS * 1000 for p in unread]
    put(changing, *late, *(p + PARTS * 1000 for p in finished))
    pyignite_client.get_cache(changing).remove_keys([PARTS + p for p in finished])
    rest = read_with_stops(lambda p: opener(changing, batch_size=5)(p or position), [], keys_of)
    assert_each_once(np.r_[read, rest], [*KEYS, *late])


def test_a_moved_partition_resumes_by_its_key_fingerprint(trio):
    """Kills a node: keep last. Ignite 2 scans a partition in key hash order, on whichever node
    is its primary, so a partition moved to a backup gives the same rows in the same order: the
    position (whose topology version is now another) resumes and every key is read once. (Were
    the order another, the key fingerprint would raise PositionMismatchError.)"""
    put_numbers(TRIO_PORT, "resumable_moving", 20_000, backups=1)
    client = ignite_fast.Client(trio.addresses)
    victim = bytes(ignite_fast.Client(trio.addresses[2])._native.node_id())
    scan = client.resumable_scan("resumable_moving", batch_size=7, parallel=2)
    got = []
    while not any(bytes(client.partition_map("resumable_moving")[p]) == victim for p in scan.position().open):
        got.append(next(scan)["key"])
    position = ScanPosition.from_bytes(scan.position().to_bytes())
    scan.close()
    trio.kill_node(2)
    survivors = ignite_fast.Client(trio.addresses[:2], read_timeout=20)
    for _ in range(600):  # until the survivors see the node gone (a wait, not a measure)
        if victim not in survivors.partition_map("resumable_moving"):
            break
        time.sleep(0.1)
    assert victim not in survivors.partition_map("resumable_moving")
    assert (before := survivors.topology_version()) != position.topology
    resumed = survivors.resumable_scan("resumable_moving", position, batch_size=7, parallel=2)
    got += [b["key"] for b in resumed]
    # The survivors' topology, as the resume began or (a rebalance ending meanwhile moves its
    # minor version, as on Ignite 2.18) as it ended; never the position's.
    assert resumed.position().topology in (before, survivors.topology_version())
    assert_each_once(np.concatenate(got), range(20_000))
