"""A resumable scan of an Ignite 3 table whose begun partitions' primary replica moves between the
save and the resume (issue 25's moved-partition case): a three-node cluster of its own, whose
three nodes all hold the meta storage (so any one may go), and a zone of three replicas (so no row
goes with it). The position is saved mid-partition, the primary of a begun partition is killed,
and the read resumes from the position's bytes in a new client of the survivors.

What Ignite 3.1 does: a row's id is chosen by the partition's primary and replicated with the row,
and a partition is scanned in row id order on every replica, so the new primary gives the begun
partitions' rows in the order the old one gave them: their key fingerprints match and every key
is read exactly once. A resume begun before the cluster names the new primaries (about 30 s after
the kill on 3.1's defaults) waits for them. A client still given the dead node's address fails
with IgniteConnectionError before giving any row (it connects to every node it is given)."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import pytest

import ignite_fast
from ignite_fast import ScanPosition
from ignite_fast.errors import IgniteConnectionError, IgniteError, PositionMismatchError
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import ignite3_connect, started
from resuming import assert_each_once

ROWS = 600
TABLE = "MOVED3"
# Ports no other fixture takes (client 10974-10976, network 3384-3386, REST 10324-10326).
PORT, NETWORK_PORT, REST_PORT = 10974, 3384, 10324


@pytest.fixture(scope="module")
def trio3():
    cluster = started(
        Ignite3Cluster(
            nodes=3,
            meta_storage_nodes=3,
            port=PORT,
            network_port=NETWORK_PORT,
            rest_port=REST_PORT,
            name="pytest-ignite3-moved",
            heap_mb=640,
            storage_mb=128,
        )
    )
    yield cluster
    cluster.stop()


def read_options() -> dict:
    return {"batch_size": 20, "parallel": 3}


@dataclass
class Moved:
    """The read before the kill: its keys, its position's bytes, the killed node and the begun
    partitions it was primary of."""

    keys: np.ndarray
    saved: bytes
    victim: int
    names: list[str]
    moved: list[int]  # the partitions begun and not read to their end whose primary was killed

    def survivors(self, cluster: Ignite3Cluster) -> list[str]:
        return [address for i, address in enumerate(cluster.addresses) if i != self.victim]


@pytest.fixture(scope="module")
def moved(trio3: Ignite3Cluster) -> Moved:
    """MOVED3 (ROWS rows in 12 partitions of three replicas, written by pyignite_dbapi), read to a
    position with begun partitions; then the primary of one of them is killed."""
    with ignite3_connect(trio3) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE ZONE {TABLE}_ZONE (PARTITIONS 12, REPLICAS 3) STORAGE PROFILES ['default']")
        cur.execute(f"CREATE TABLE {TABLE} (ID INT PRIMARY KEY, V BIGINT) ZONE {TABLE}_ZONE")
        cur.executemany(f"INSERT INTO {TABLE} VALUES (?, ?)", [(i, 7 * i) for i in range(ROWS)])
    client = ignite_fast.Client(trio3.addresses, ignite=3)
    names = [spec.name for spec in trio3.node_specs()]
    primaries = client.primaries(TABLE)
    assert set(primaries) <= set(names), primaries
    counts = next(client.sql(f"SELECT __part AS P, COUNT(*) AS N FROM {TABLE} GROUP BY __part"))
    sizes = dict(zip(counts["P"].tolist(), counts["N"].tolist()))
    scan = client.resumable_scan(TABLE, **read_options())
    got = []
    # Stop inside a partition (some of its rows read, not all: a partition read to its end would
    # match its fingerprint in any order).
    while not (inside := [p for p, (rows, _) in scan.position().open.items() if 0 < rows < sizes[p]]):
        got.append(keys_of(next(scan)))
    position = scan.position()
    scan.close()
    victim = names.index(primaries[inside[0]])
    begun_there = [p for p in inside if primaries[p] == names[victim]]
    trio3.kill_node(victim)
    return Moved(np.concatenate(got), position.to_bytes(), victim, names, begun_there)


def keys_of(batch) -> np.ndarray:
    assert set(batch) == {"ID", "V"}
    assert (batch["V"] == batch["ID"] * 7).all()
    return batch["ID"]


def resume(
    addresses: list[str], position: ScanPosition, got: list[np.ndarray]
) -> tuple[ScanPosition, IgniteError | None]:
    """Reads the rest from ``position`` in a new client of ``addresses``, adding its keys to ``got``:
    the position after the last batch given (the read's end, or where a typed error stopped it),
    and that error."""
    scan = ignite_fast.Client(addresses, ignite=3).resumable_scan(TABLE, position, **read_options())
    try:
        for batch in scan:
            got.append(keys_of(batch))
    except IgniteError as error:
        return scan.position(), error
    finally:
        scan.close()
    return scan.position(), None


def wait_for_new_primaries(trio3: Ignite3Cluster, moved: Moved) -> list[str | None]:
    """The primaries once the cluster names none on the killed node (a wait, bounded, not a measure)."""
    client = ignite_fast.Client(moved.survivors(trio3), ignite=3)
    primaries = client.primaries(TABLE)
    for _ in range(240):
        if moved.names[moved.victim] not in primaries and None not in primaries:
            break
        time.sleep(0.5)
        primaries = client.primaries(TABLE)
    assert moved.names[moved.victim] not in primaries, f"the killed node is still named primary: {primaries}"
    assert None not in primaries, primaries
    return primaries


def test_a_resume_while_the_primary_moves_waits_for_it_and_reads_every_key_once(trio3, moved):
    """Resumed at once after the kill, while the dead node still holds the begun partitions' leases:
    the read waits for the new primaries, then checks the begun partitions' first rows on them and
    reads every key once. Should the wait end in a typed error instead (the client's read timeout),
    the position after the last batch given resumes exactly once too."""
    assert moved.moved, "a begun partition's primary was killed"
    got = [moved.keys]
    position, error = resume(moved.survivors(trio3), ScanPosition.from_bytes(moved.saved), got)
    if error is not None:
        print(f"the resume during the move raised {type(error).__name__}: {error}")
        wait_for_new_primaries(trio3, moved)
        position, error = resume(moved.survivors(trio3), position, got)
    assert error is None, error
    assert position.done
    assert_each_once(np.concatenate(got), range(ROWS))


def test_a_begun_partition_read_again_on_its_new_primary_resumes_exactly_once(trio3, moved):
    """Once the cluster has named new primaries, the saved position resumes on them: the begun
    partitions' rows read before come first again (their count and key fingerprint match), so every
    key is read once and no PositionMismatchError is raised (one is, for a position whose key
    fingerprint of a moved partition is another: the check is live on the new primary)."""
    primaries = wait_for_new_primaries(trio3, moved)
    assert all(primaries[p] != moved.names[moved.victim] for p in moved.moved)
    saved = ScanPosition.from_bytes(moved.saved)
    # The check is made on the new primary's rows: another fingerprint there is refused.
    partition = moved.moved[0]
    rows, fp = saved.open[partition]
    other = dataclasses.replace(saved, open={**saved.open, partition: (rows, fp ^ 1)})
    refused: list[np.ndarray] = []
    _, error = resume(moved.survivors(trio3), other, refused)
    assert isinstance(error, PositionMismatchError), error
    assert f"partition {partition} of table" in str(error)
    assert not refused
    got = [moved.keys]
    position, error = resume(moved.survivors(trio3), saved, got)
    assert error is None, error
    assert position.done
    assert_each_once(np.concatenate(got), range(ROWS))


def test_a_client_given_the_dead_nodes_address_fails_before_any_row(trio3, moved):
    """A partition-parallel read connects to every node its client was given: with the dead node's
    address still in the list, the resume raises IgniteConnectionError and gives nothing; its
    position stays the saved one."""
    wait_for_new_primaries(trio3, moved)
    got: list[np.ndarray] = []
    saved = ScanPosition.from_bytes(moved.saved)
    position, error = resume(trio3.addresses, saved, got)
    assert isinstance(error, IgniteConnectionError), error
    assert "could not connect" in str(error)
    assert not got
    assert position == saved
