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
from conftest import PAGE_ROWS3, TABLES3, interleave, quiet_before_timing, record

WRITE_ROWS = int(os.environ.get("BENCH3_WRITE_ROWS", "20000"))
PAGE_ROWS = PAGE_ROWS3
ROUNDS = 5


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


@pytest.mark.parametrize("scenario", list(TABLES3))
@pytest.mark.parametrize("reader", list(READERS))
def test_ignite3_scan_throughput(benchmark, bench3, tables3, scenario, reader):
    table = tables3[scenario]
    run = READERS[reader](table)
    run()  # a first pass of this reader before the machine goes quiet
    quiet_before_timing(bench3)
    rows = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    record(benchmark, f"ignite3 {scenario}", reader, rows, rows * table["row_bytes"])


@pytest.mark.headline
@pytest.mark.parametrize("scenario", list(TABLES3))
@pytest.mark.parametrize("parallel", [None, 2], ids=["one cursor", "two nodes"])
def test_ignite3_decode_bound(benchmark, bench3, tables3, scenario, parallel):
    """Issue 24's bound on Ignite 3: the numpy reader and the raw page reader fetching the same
    pages, in turns within each round, the ratio taken round by round (see conftest.interleave)."""
    table = tables3[scenario]
    numpy, raw = ("numpy parallel", "raw pages parallel") if parallel else ("numpy batches", "raw pages")
    passes = {raw: _raw(table, parallel), numpy: _numpy(table, parallel)}
    for run in passes.values():
        run()
    quiet_before_timing(bench3)
    interleave(benchmark, bench3, f"ignite3 {scenario}", raw, passes, table["row_bytes"])


@pytest.mark.parametrize("writer", ["put_batches", "pyignite_dbapi executemany"])
def test_ignite3_write_throughput(benchmark, bench3, tables3, writer):
    import numpy as np
    import pyignite_dbapi

    client = ignite_fast.Client(bench3.addresses, ignite=3)
    name = "BENCH3_WRITE"
    client.execute(f"DROP TABLE IF EXISTS {name}")
    client.execute(f"CREATE TABLE {name} ({TABLES3['mnist'][0]}) ZONE BENCH3")
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
    record(benchmark, "ignite3 mnist write", writer, WRITE_ROWS, WRITE_ROWS * TABLES3["mnist"][3])
