"""Resumable scans of Ignite 3 tables on a real node (``Client(..., ignite=3).resumable_scan``):
stopped after any number of batches and resumed from the position's bytes in a new client, every
row is read exactly once; the primary key is fingerprinted even when ``columns=`` leaves it out;
positions of another read are refused before anything is read; changed data gives the documented
outcome.

Ignite 3 says a partition is read whole when the query reading it ends (one query per node's
share of ``parallel``), so with ``parallel=1`` every partition begun stays open until the end; a
resumed read checks those read to their end by their row counts."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import ignite_fast
from ignite_fast import PositionError, PositionMismatchError, ScanPosition
from resuming import assert_each_once, positions_along, read_with_stops, stops

ROWS = 3000
TABLE = "RESUMABLE3"


@pytest.fixture(scope="module")
def connect(ignite3):
    return lambda: ignite_fast.Client(port=ignite3.port, ignite=3)


def make(client, name: str, rows: int = ROWS) -> str:
    client.execute(f"DROP TABLE IF EXISTS {name}")
    client.execute(f"CREATE TABLE {name} (ID BIGINT PRIMARY KEY, V BIGINT)")
    if rows:
        ids = np.arange(rows, dtype=np.int64)
        client.put_batches(name, {"ID": ids, "V": ids * 2})
    return name


@pytest.fixture(scope="module")
def numbers(connect) -> str:
    return make(connect(), TABLE)


@pytest.fixture
def changing(connect, request) -> str:
    """A table of its own for a test that changes it."""
    return make(connect(), "RESUMABLE3_" + request.node.name[5:30].upper())


def keys_of(batch) -> np.ndarray:
    assert set(batch) == {"ID", "V"}
    assert (batch["V"] == batch["ID"] * 2).all()
    return batch["ID"]


def opener(connect, name: str, **args):
    return lambda position: connect().resumable_scan(name, position, **args)


@pytest.mark.parametrize("parallel", [1, 3])
def test_every_row_once_whatever_batch_the_read_stops_after(connect, numbers, parallel):
    args = {"batch_size": 7, "parallel": parallel}
    positions = positions_along(opener(connect, numbers, **args)(None))
    chosen = stops(positions, boundary_closed=False, boundary=parallel > 1)
    assert positions[-1].rows == ROWS
    for count in chosen.values():
        assert_each_once(read_with_stops(opener(connect, numbers, **args), [count], keys_of), range(ROWS))


def test_several_stops_in_a_row(connect, numbers):
    for parallel in (1, 2):
        keys = read_with_stops(opener(connect, numbers, batch_size=7, parallel=parallel), [0, 3, 50, 1, 99, 0], keys_of)
        assert_each_once(keys, range(ROWS))


def test_batches_and_the_position_counts(connect, numbers):
    scan = connect().resumable_scan(numbers, batch_size=7)
    assert (
        scan.position().describe()
        == "table 'RESUMABLE3' (Ignite 3), epoch 0: 0/25 partitions finished, 0 open, 0 rows read"
    )
    rows = 0
    for batch in scan:
        rows += len(keys_of(batch))
        assert len(batch["ID"]) <= 7
        assert scan.position().rows == rows
    assert rows == ROWS
    assert scan.position().done


def test_key_columns_left_out_of_columns_are_fingerprinted_not_returned(connect):
    client = connect()
    client.execute("DROP TABLE IF EXISTS RESUMABLE3_PAIRS")
    client.execute("CREATE TABLE RESUMABLE3_PAIRS (A INT, B VARCHAR, C BIGINT, PRIMARY KEY (B, A))")
    a = np.arange(2000, dtype=np.int32)
    client.put_batches(
        "RESUMABLE3_PAIRS", {"A": a % 40, "B": (a // 40).astype(str).astype(object), "C": a.astype(np.int64)}
    )
    assert client.key_columns("RESUMABLE3_PAIRS") == ["B", "A"]

    def values(batch):
        assert list(batch) == ["C"]
        return batch["C"]

    for parallel in (1, 2):
        scan = opener(connect, "RESUMABLE3_PAIRS", batch_size=9, columns=["C"], parallel=parallel)
        assert_each_once(read_with_stops(scan, [5, 100, 2], values), range(2000))
    # the key is what is fingerprinted, whichever columns are read
    taken = []
    for columns in (["C"], None, ["A", "C"]):
        scan = connect().resumable_scan("RESUMABLE3_PAIRS", batch_size=9, columns=columns)
        next(scan)
        taken.append(dict(scan.position().open))
        scan.close()
    assert taken[0] == taken[1] == taken[2]
    assert sum(rows for rows, _ in taken[0].values()) == 9


def test_shard_and_partitions_selections(connect, numbers):
    for i in range(3):
        keys = read_with_stops(opener(connect, numbers, batch_size=7, shard=(i, 3), parallel=2), [10, 31], keys_of)
        mine = connect().resumable_scan(numbers, shard=(i, 3)).position().partitions
        assert_each_once(keys, in_partitions(connect(), numbers, mine))
    chosen = [0, 5, 13, 24]
    keys = read_with_stops(opener(connect, numbers, batch_size=7, partitions=chosen), [3, 20], keys_of)
    assert_each_once(keys, in_partitions(connect(), numbers, chosen))


def in_partitions(client, table: str, partitions) -> list[int]:
    """The keys of ``partitions`` of ``table`` (from a plain scan)."""
    return [k for b in client.scan(table, partitions=list(partitions)) for k in b["ID"].tolist()]


def test_epochs(connect, numbers):
    scan = opener(connect, numbers, batch_size=7, epoch=2)(None)
    for _ in scan:
        assert scan.position().epoch == 2
    done = scan.position()
    assert done.done
    following = done.next_epoch()
    assert (following.epoch, following.rows, following.done) == (3, 0, False)
    keys = read_with_stops(lambda p: opener(connect, numbers, batch_size=7)(p or following), [40], keys_of)
    assert_each_once(keys, range(ROWS))
    assert list(opener(connect, numbers, batch_size=7)(done)) == []


def test_positions_of_other_reads_are_refused_before_anything_is_read(connect, numbers):
    client = connect()
    other = make(client, "RESUMABLE3_OTHER", rows=10)
    scan = client.resumable_scan(numbers, batch_size=7, shard=(0, 4))
    next(scan)
    position = scan.position()
    refused = {
        "position is of table 'RESUMABLE3', this scan reads 'RESUMABLE3_OTHER'": dict(table=other, shard=(0, 4)),
        "columns=": dict(shard=(0, 4), columns=["V"]),
        r"shard=\[0, 4\], this scan has shard=\[1, 4\]": dict(shard=(1, 4)),
        r"shard=\[0, 4\], this scan has shard=\[0, 2\]": dict(shard=(0, 2)),
        "shard=": dict(partitions=list(position.partitions)),
        "plan=": dict(shard=(0, 4), plan=client.plan_shards(numbers, 4, balance="partitions")),
    }
    for message, args in refused.items():
        table = args.pop("table", numbers)
        with pytest.raises(PositionError, match=message):
            client.resumable_scan(table, position, batch_size=7, **args)
    few = client.resumable_scan(numbers, partitions=[1, 2, 3]).position()
    with pytest.raises(PositionError, match=r"position is of partitions \[1-3\], this scan reads \[1-2, 4\]"):
        client.resumable_scan(numbers, few, partitions=[4, 2, 1])
    with pytest.raises(PositionError, match="position is of Ignite 2, this scan reads Ignite 3"):
        client.resumable_scan(numbers, dataclasses.replace(position, generation=2), shard=(0, 4))
    corrupted = bytearray(position.to_bytes())
    corrupted[10] ^= 0x40
    with pytest.raises(PositionError):
        client.resumable_scan(numbers, ScanPosition.from_bytes(bytes(corrupted)), shard=(0, 4))


def partition_keys(client, table: str, partition: int) -> np.ndarray:
    """A partition's keys in scan order."""
    return np.concatenate([b["ID"] for b in client.scan(table, partitions=[partition])])


def stopped_mid_partition(connect, table: str) -> tuple[np.ndarray, ScanPosition, int]:
    """The keys of a one-query read stopped inside a partition, its position, and that partition
    (the other open ones were read to their last row, but their query has not ended)."""
    client = connect()
    sizes = {p: len(partition_keys(client, table, p)) for p in range(client.partitions(table))}
    scan = opener(connect, table, batch_size=7)(None)
    got = []
    for batch in scan:
        got.append(batch["ID"])
        position = scan.position()
        partial = [p for p, (rows, _) in position.open.items() if rows < sizes[p]]
        if len(position.open) >= 3 and partial:
            break
    scan.close()
    return np.concatenate(got), ScanPosition.from_bytes(position.to_bytes()), partial[0]


def keys_in(connect, partition: int, start: int) -> list[int]:
    """Keys from ``start`` on that fall in ``partition`` (of a table of this module's schema in the
    default zone), found through a table of their own."""
    client = connect()
    make(client, "RESUMABLE3_FINDER", rows=0)
    ids = np.arange(start, start + 400, dtype=np.int64)
    client.put_batches("RESUMABLE3_FINDER", {"ID": ids, "V": ids * 2})
    return [k for b in client.scan("RESUMABLE3_FINDER", partitions=[partition]) for k in b["ID"].tolist()]


def test_a_row_removed_from_what_an_open_partition_read_is_a_mismatch(connect, changing):
    _, position, partition = stopped_mid_partition(connect, changing)
    first = int(partition_keys(connect(), changing, partition)[0])
    connect().execute(f"DELETE FROM {changing} WHERE ID = ?", [first])
    with pytest.raises(PositionMismatchError, match=f"partition {partition} of table '{changing}'.*keys differ"):
        next(opener(connect, changing, batch_size=7)(position))


def test_a_row_removed_from_an_open_partition_read_to_its_end_is_a_mismatch(connect, changing):
    _, position, partition = stopped_mid_partition(connect, changing)
    whole = next(p for p in position.open if p != partition)
    connect().execute(f"DELETE FROM {changing} WHERE ID = ?", [int(partition_keys(connect(), changing, whole)[-1])])
    rows = position.open[whole][0]
    with pytest.raises(PositionMismatchError, match=f"has {rows - 1} rows now, fewer than the {rows} read before"):
        next(opener(connect, changing, batch_size=7)(position))


def test_a_row_read_replaced_by_another_is_a_mismatch(connect, changing):
    _, position, partition = stopped_mid_partition(connect, changing)
    order = partition_keys(connect(), changing, partition)
    connect().execute(f"DELETE FROM {changing} WHERE ID = ?", [int(order[0])])
    (newcomer, *_) = keys_in(connect, partition, 10**6)
    connect().execute(f"INSERT INTO {changing} VALUES (?, ?)", [newcomer, 2 * newcomer])
    # the newcomer is the partition's last in scan order: the rows read are one fewer now
    assert partition_keys(connect(), changing, partition)[-1] == newcomer
    with pytest.raises(PositionMismatchError, match=f"partition {partition} of"):
        next(opener(connect, changing, batch_size=7)(position))


def test_rows_added_to_open_or_unread_partitions_are_read(connect, changing):
    """A partition's new rows come last in its scan order (row ids grow), past the rows read."""
    read, position, partition = stopped_mid_partition(connect, changing)
    unread = next(p for p in position.partitions if p not in position.open)
    late = keys_in(connect, partition, 10**6)[:2] + keys_in(connect, unread, 2 * 10**6)[:2]
    for key in late:
        connect().execute(f"INSERT INTO {changing} VALUES (?, ?)", [key, 2 * key])
    rest = read_with_stops(lambda p: opener(connect, changing, batch_size=7)(p or position), [], keys_of)
    assert_each_once(np.r_[read, rest], [*range(ROWS), *late])


def test_finished_partitions_are_not_read_again(connect, changing):
    """Rows added to a finished partition are not read this epoch (it was read whole), and
    removing rows read there changes nothing."""
    client = connect()
    two = [3, 17]
    args = {"batch_size": 7, "parallel": 2, "partitions": two}
    before = in_partitions(client, changing, two)
    scan = opener(connect, changing, **args)(None)
    read = []
    for batch in scan:
        read.append(batch["ID"])
        if scan.position().finished:
            break
    position = ScanPosition.from_bytes(scan.position().to_bytes())
    scan.close()
    (finished,) = position.finished
    added = keys_in(connect, finished, 10**6)[:3]
    for key in added:
        client.execute(f"INSERT INTO {changing} VALUES (?, ?)", [key, 2 * key])
    client.execute(f"DELETE FROM {changing} WHERE ID = ?", [int(partition_keys(client, changing, finished)[0])])
    rest = read_with_stops(lambda p: opener(connect, changing, **args)(p or position), [], keys_of)
    assert_each_once(np.r_[np.concatenate(read), rest], before)


class RecordingQueries:
    """A client's native connection that records the text and arguments of its queries (the
    server is real; this only watches what is asked of it)."""

    def __init__(self, native):
        self._native = native
        self.queries: list[tuple[str, list]] = []

    def sql(self, query, args, *rest):
        self.queries.append((query, list(args)))
        return self._native.sql(query, args, *rest)

    def __getattr__(self, name):
        return getattr(self._native, name)


def test_begun_partitions_read_to_their_end_are_checked_by_their_row_counts(connect, changing):
    """On one node a query reads its partitions one after another: the begun partitions before
    the one the read stopped in were read to their end, and a resumed read checks them by their
    row counts at the server, beside the rows query of the rest."""
    read, position, partition = stopped_mid_partition(connect, changing)
    whole = sorted(p for p in position.open if p != partition)
    client = connect()
    client._native = RecordingQueries(client._native)
    rest = np.concatenate([keys_of(batch) for batch in client.resumable_scan(changing, position, batch_size=7)])
    assert_each_once(np.r_[read, rest], range(ROWS))
    reads = [(query, args) for query, args in client._native.queries if "__part IN" in query]
    counts = [args for query, args in reads if "COUNT(*)" in query]
    assert counts == [whole]
    (rows,) = [args for query, args in reads if query.startswith("SELECT *")]
    assert partition in rows
    assert not set(whole) & set(rows)


def test_rows_added_to_a_begun_partition_read_to_its_end_are_read(connect, changing):
    """A begun partition read to its end whose row count shows rows past those read before (added
    since) is read again for them: each row once, across more stops."""
    read, position, partition = stopped_mid_partition(connect, changing)
    whole = next(p for p in position.open if p != partition)
    late = keys_in(connect, whole, 10**6)[:3]
    for key in late:
        connect().execute(f"INSERT INTO {changing} VALUES (?, ?)", [key, 2 * key])

    def some_keys(batch) -> np.ndarray:
        assert len(batch["ID"]), "an empty batch"
        return keys_of(batch)

    for more in ([], [1], [2, 1]):
        rest = read_with_stops(lambda p: opener(connect, changing, batch_size=7)(p or position), more, some_keys)
        assert_each_once(np.r_[read, rest], [*range(ROWS), *late])


def test_a_change_keeping_the_count_of_a_begun_partition_read_to_its_end_is_not_seen(connect, changing):
    """A begun partition read to its end is checked by its row count alone: a row read there
    replaced by another leaves the count, so the partition counts as finished, as a finished
    one does (its changes are not seen this epoch): the newcomer is not read, nothing is read
    twice, and every other row is read once."""
    read, position, partition = stopped_mid_partition(connect, changing)
    whole = next(p for p in position.open if p != partition)
    gone = int(partition_keys(connect(), changing, whole)[0])
    connect().execute(f"DELETE FROM {changing} WHERE ID = ?", [gone])
    (newcomer, *_) = keys_in(connect, whole, 10**6)
    connect().execute(f"INSERT INTO {changing} VALUES (?, ?)", [newcomer, 2 * newcomer])
    rest = read_with_stops(lambda p: opener(connect, changing, batch_size=7)(p or position), [], keys_of)
    assert gone in read.tolist()
    assert_each_once(np.r_[read, rest], range(ROWS))
