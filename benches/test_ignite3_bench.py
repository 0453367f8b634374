"""Ignite 3 throughput next to its peers in the same run, on a two-node Ignite 3.1 cluster.

Tables (made by SQL on the server: ``INSERT ... SELECT FROM SYSTEM_RANGE``): MNIST-shaped rows (an
INT key, a VARBINARY(784) and an INT label) and tabular rows (a BIGINT key and ten numeric columns:
five DOUBLE, three BIGINT, two INT).

Readers: ignite_fast's numpy iterator (one cursor, through the first node), the same with
``parallel=2`` (each partition from its primary), the batched ``IgniteDataset(..., ignite=3)``,
Ignite 3's own Python driver ``pyignite_dbapi`` (``fetchall`` and ``fetchmany``: the peer), and the
raw page readers (the same pages fetched and thrown away, one cursor or partition-parallel: the
bound). MB/s counts the columns' payload bytes.

Writers: ``put_batches`` (the data streamer, visibility included) and the peer, ``pyignite_dbapi``
``executemany`` of an ``INSERT``, each filling an emptied MNIST-shaped table.
"""

from __future__ import annotations

import os

import pytest

import ignite_fast
from conftest import quiet_before_timing, record
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import session_cluster

MNIST_ROWS = int(os.environ.get("BENCH3_MNIST_ROWS", "60000"))
WRITE_ROWS = int(os.environ.get("BENCH3_WRITE_ROWS", "20000"))
TABULAR_ROWS = int(os.environ.get("BENCH3_TABULAR_ROWS", "300000"))
PAGE_ROWS = 4096
ROUNDS = 5

bench3 = session_cluster(
    Ignite3Cluster,
    nodes=2,
    port=10962,
    network_port=3370,
    rest_port=10310,
    name="bench-ignite3",
    heap_mb=1024,
    storage_mb=1024,
)

# name -> (CREATE TABLE columns, INSERT ... SELECT expressions over x, rows, payload bytes per row)
TABLES = {
    "mnist": (
        "ID INT PRIMARY KEY, PIXELS VARBINARY(784), LABEL INT",
        # the same 784 bytes in every row (Ignite 3's SQL cannot make bytes from numbers); the
        # wire and the decoder do the same work whatever the bytes
        "x::INT, X'" + bytes(range(256)).hex() * 3 + "00" * 16 + "', (x % 10)::INT",
        MNIST_ROWS,
        4 + 784 + 4,
    ),
    "tabular": (
        "ID BIGINT PRIMARY KEY, F0 DOUBLE, F1 DOUBLE, F2 DOUBLE, F3 DOUBLE, F4 DOUBLE, "
        "L0 BIGINT, L1 BIGINT, L2 BIGINT, I0 INT, I1 INT",
        "x, x * 0.5, x * 0.25, x / 3.0, x * 1.5, x / 7.0, x * 3, x * 5, x * 7, (x % 1000)::INT, (x % 77)::INT",
        TABULAR_ROWS,
        8 + 5 * 8 + 3 * 8 + 2 * 4,
    ),
}


@pytest.fixture(scope="session")
def tables3(bench3: Ignite3Cluster) -> dict[str, dict]:
    """The benchmark tables, each made once, in a zone of 16 partitions spread over both nodes."""
    client = ignite_fast.Client(bench3.addresses, ignite=3)
    client.execute("CREATE ZONE IF NOT EXISTS BENCH3 (PARTITIONS 16, REPLICAS 1) STORAGE PROFILES ['default']")
    out = {}
    for scenario, (columns, select, rows, row_bytes) in TABLES.items():
        name = f"BENCH3_{scenario.upper()}"
        client.execute(f"DROP TABLE IF EXISTS {name}")
        client.execute(f"CREATE TABLE {name} ({columns}) ZONE BENCH3")
        for start in range(0, rows, 100_000):  # pieces: one huge INSERT holds the node's heap
            stop = min(start + 100_000, rows) - 1
            client.execute(f"INSERT INTO {name} SELECT {select} FROM TABLE(SYSTEM_RANGE({start}, {stop}))")
        out[scenario] = {"name": name, "rows": rows, "row_bytes": row_bytes, "addresses": bench3.addresses}
        for _ in range(2):  # the server's JIT settles over the first passes
            sum(n for n, _ in client.raw_pages(name, page_size=PAGE_ROWS))
            sum(len(b["ID"]) for b in client.scan(name, parallel=2))
    return out


def _numpy(table, parallel):
    client = ignite_fast.Client(table["addresses"] if parallel else table["addresses"][0], ignite=3)

    def run():
        rows = sum(len(b["ID"]) for b in client.scan(table["name"], page_size=PAGE_ROWS, parallel=parallel))
        assert rows == table["rows"]
        return rows

    return run


def _raw(table, parallel):
    client = ignite_fast.Client(table["addresses"] if parallel else table["addresses"][0], ignite=3)

    def run():
        rows = sum(n for n, _ in client.raw_pages(table["name"], page_size=PAGE_ROWS, parallel=parallel))
        assert rows == table["rows"]
        return rows

    return run


def _tf_batched(table):
    import tensorflow as tf

    host, port = table["addresses"][0].split(":")
    dataset = ignite_fast.IgniteDataset(table["name"], host, int(port), ignite=3, batch_size=PAGE_ROWS)
    options = tf.data.Options()
    options.autotune.enabled = False
    dataset = dataset.with_options(options)

    def run():
        rows = sum(int(tf.shape(b["ID"])[0]) for b in dataset)
        assert rows == table["rows"]
        return rows

    return run


def _dbapi(table, fetch):
    import pyignite_dbapi

    connection = pyignite_dbapi.connect(address=[table["addresses"][0]], timeout=120, page_size=PAGE_ROWS)

    def run():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {table['name']}")
            if fetch == "fetchall":
                rows = len(cursor.fetchall())
            else:
                rows = 0
                while chunk := cursor.fetchmany(PAGE_ROWS):
                    rows += len(chunk)
        assert rows == table["rows"]
        return rows

    return run


READERS = {
    "numpy batches": lambda t: _numpy(t, None),
    "numpy parallel": lambda t: _numpy(t, 2),
    "tf.data batched": _tf_batched,
    "pyignite_dbapi fetchall": lambda t: _dbapi(t, "fetchall"),
    "pyignite_dbapi fetchmany": lambda t: _dbapi(t, "fetchmany"),
    "raw pages": lambda t: _raw(t, None),
    "raw pages parallel": lambda t: _raw(t, 2),
}


@pytest.mark.parametrize("scenario", list(TABLES))
@pytest.mark.parametrize("reader", list(READERS))
def test_ignite3_scan_throughput(benchmark, bench3, tables3, scenario, reader):
    table = tables3[scenario]
    run = READERS[reader](table)
    run()  # a first pass of this reader before the machine goes quiet
    quiet_before_timing(bench3)
    rows = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    record(benchmark, f"ignite3 {scenario}", reader, rows, rows * table["row_bytes"])


@pytest.mark.parametrize("writer", ["put_batches", "pyignite_dbapi executemany"])
def test_ignite3_write_throughput(benchmark, bench3, tables3, writer):
    import numpy as np
    import pyignite_dbapi

    client = ignite_fast.Client(bench3.addresses, ignite=3)
    name = "BENCH3_WRITE"
    client.execute(f"DROP TABLE IF EXISTS {name}")
    client.execute(f"CREATE TABLE {name} ({TABLES['mnist'][0]}) ZONE BENCH3")
    rng = np.random.default_rng(3)
    ids = np.arange(WRITE_ROWS, dtype=np.int32)
    pixels = rng.integers(0, 256, (WRITE_ROWS, 784), dtype=np.uint8)
    labels = (ids % 10).astype(np.int32)
    if writer == "put_batches":

        def run():
            return client.put_batches(name, {"ID": ids, "PIXELS": pixels, "LABEL": labels})

    else:
        rows = [(int(i), pixels[i].tobytes(), int(labels[i])) for i in ids]
        connection = pyignite_dbapi.connect(address=bench3.addresses, timeout=300)

        def run():
            with connection.cursor() as cursor:
                cursor.executemany(f"INSERT INTO {name} (ID, PIXELS, LABEL) VALUES (?, ?, ?)", rows)
            return len(rows)

    def empty():
        client.execute(f"DELETE FROM {name}")

    quiet_before_timing(bench3)
    written = benchmark.pedantic(run, setup=empty, rounds=3, iterations=1)
    assert written == WRITE_ROWS
    assert next(iter(client.sql(f"SELECT COUNT(*) AS N FROM {name}")))["N"][0] == WRITE_ROWS
    record(benchmark, "ignite3 mnist write", writer, WRITE_ROWS, WRITE_ROWS * TABLES["mnist"][3])
