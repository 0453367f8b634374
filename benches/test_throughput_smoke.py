"""Benchmark smoke: ignite_fast next to its peers in the same run.

Scenarios: 1 MB byte-array values (1 GB), MNIST-shaped objects (70,000), tabular objects with ten
numeric fields (1,000,000), string-heavy objects and objects of mixed types (UUID, timestamp,
decimal, arrays). pyignite is timed on at most 100,000 entries of each. Readers: ignite_fast's numpy
iterator, the tf.data adaptor (batched), the raw page reader (pages fetched and thrown away: the
server-and-wire limit) and a pyignite 0.6.1 scan. MB/s counts value payload bytes.
"""

from __future__ import annotations

import pytest

import ignite_fast

from conftest import PORT, record

ROUNDS = 5
# The server's JIT needs a few passes over a cache before its page rate settles.
WARMUP_ROUNDS = 2


def _client():
    return ignite_fast.Client("127.0.0.1", PORT)


def _numpy_reader(cache, batch_size):
    client = _client()

    def run():
        rows = 0
        for batch in client.scan(cache["name"], batch_size=batch_size):
            rows += len(batch["key"])
        assert rows == cache["rows"]
        return rows

    return run


def _raw_reader(cache, page_size):
    client = _client()

    def run():
        rows = sum(entries for entries, _ in client.raw_pages(cache["name"], page_size=page_size))
        assert rows == cache["rows"]
        return rows

    return run


# pyignite is measured on at most this many entries: its rows/s is what the ratios need, and a
# full pyignite scan of the large scenarios would take minutes.
PYIGNITE_MAX_ROWS = 100_000


def _pyignite_reader(writer, cache, page_size):
    limit = min(cache["rows"], PYIGNITE_MAX_ROWS)

    def run():
        rows = 0
        with writer.get_cache(cache["name"]).scan(page_size=page_size) as cursor:
            for _key, _value in cursor:
                rows += 1
                if rows == limit:
                    break
        assert rows == limit
        return rows

    return run


def _tf_reader(cache, batch_size):
    import tensorflow as tf

    dataset = ignite_fast.IgniteDataset(cache["name"], port=PORT, batch_size=batch_size, page_size=batch_size)

    def run():
        rows = 0
        for batch in dataset:
            rows += int(tf.shape(batch["key"])[0])
        assert rows == cache["rows"]
        return rows

    return run


SCENARIOS = {
    # (batch/page size for ignite_fast, page size for pyignite)
    "1mb": ("one_mb_cache", 16, 16),
    "mnist": ("mnist_cache", 4096, 1024),
    "tabular": ("tabular_cache", 65536, 1024),
    "strings": ("strings_cache", 4096, 1024),
    "mixed": ("mixed_cache", 4096, 1024),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize("reader", ["numpy batches", "tf.data batched", "raw pages", "pyignite"])
def test_scan_throughput(benchmark, request, writer, scenario, reader):
    fixture, batch, py_page = SCENARIOS[scenario]
    cache = request.getfixturevalue(fixture)
    run = {
        "numpy batches": lambda: _numpy_reader(cache, batch),
        "tf.data batched": lambda: _tf_reader(cache, batch),
        "raw pages": lambda: _raw_reader(cache, batch),
        "pyignite": lambda: _pyignite_reader(writer, cache, py_page),
    }[reader]()
    # pyignite is slow enough that one warm round says all; the others get the full treatment.
    rounds, warmup = (1, 1) if reader == "pyignite" else (ROUNDS, WARMUP_ROUNDS)
    rows = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=warmup)
    record(benchmark, scenario, reader, rows, rows * cache["value_bytes"])


@pytest.mark.parametrize("scenario", ["1mb", "mnist"])
def test_write_throughput(benchmark, scenario):
    """The bulk writer, next to the scans of the same shapes above (target: at least half as
    fast as scanning)."""
    import numpy as np

    client = _client()
    rng = np.random.default_rng(9)
    if scenario == "1mb":
        rows, value_bytes = 64, 1 << 20
        batch = {"key": np.arange(rows), "val": rng.integers(0, 256, (rows, 1 << 20), dtype=np.uint8)}
    else:
        rows, value_bytes = 20_000, 784 + 4
        batch = {"key": np.arange(rows), "val": {"pixels": rng.integers(0, 256, (rows, 784), dtype=np.uint8),
                                                  "label": np.arange(rows, dtype=np.int32) % 10}}
    cache = f"bench_write_{scenario}"
    written = benchmark.pedantic(lambda: client.put_batches(cache, batch, type_name="MnistDigit"),
                                 rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert written == rows
    record(benchmark, scenario, "writer (put_batches)", rows, rows * value_bytes)
