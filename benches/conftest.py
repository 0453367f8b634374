"""Benchmark fixtures: one real Ignite node, caches loaded once per session, and a summary table
of MB/s and rows/s with ratios to the peers measured in the same run (pyignite and the raw page
reader). Absolute numbers drift on a shared machine; the ratios are what to compare."""

from __future__ import annotations

import os
from collections import OrderedDict, defaultdict

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ignite_fast.server import IgniteCluster  # noqa: E402

PORT = 10860
ONE_MB_ROWS = int(os.environ.get("BENCH_1MB_ROWS", "1024"))          # 1 GB
MNIST_ROWS = int(os.environ.get("BENCH_MNIST_ROWS", "70000"))
TABULAR_ROWS = int(os.environ.get("BENCH_TABULAR_ROWS", "1000000"))
OBJECT_ROWS = int(os.environ.get("BENCH_OBJECT_ROWS", "20000"))

RESULTS: dict[str, dict[str, dict]] = defaultdict(dict)


def started(cluster: IgniteCluster) -> IgniteCluster:
    """Starts benchmark nodes; if they cannot start, the benchmark fails with why (never skips)."""
    try:
        return cluster.start()
    except Exception as e:
        pytest.fail(f"could not start Ignite cluster '{cluster.name}': {e}", pytrace=False)


@pytest.fixture(scope="session")
def bench_cluster():
    node = started(IgniteCluster(nodes=1, port=PORT, discovery_port=27560, communication_port=27160,
                                 name="bench", region_mb=2048, heap_mb=1536))
    yield node
    node.stop()


@pytest.fixture(scope="session")
def writer(bench_cluster):
    from pyignite import Client

    c = Client()
    c.connect("127.0.0.1", PORT)
    yield c
    c.close()


@pytest.fixture(scope="session")
def one_mb_cache(bench_cluster):
    """ONE_MB_ROWS values of 1 MB each (byte[]), the published IgniteDataset scenario."""
    import ignite_fast

    client = ignite_fast.Client("127.0.0.1", PORT)
    rng = np.random.default_rng(1)
    for start in range(0, ONE_MB_ROWS, 32):
        rows = min(32, ONE_MB_ROWS - start)
        client.put_batches("bench_1mb", {"key": np.arange(start, start + rows),
                                         "val": rng.integers(0, 256, (rows, 1 << 20), dtype=np.uint8)})
    return {"name": "bench_1mb", "rows": ONE_MB_ROWS, "value_bytes": 1 << 20}


@pytest.fixture(scope="session")
def mnist_cache(bench_cluster):
    """MNIST-shaped objects: 784 pixel bytes and an int label."""
    import ignite_fast

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (MNIST_ROWS, 784), dtype=np.uint8)
    ignite_fast.Client("127.0.0.1", PORT).put_batches(
        "bench_mnist", {"key": np.arange(MNIST_ROWS), "val": {"pixels": pixels, "label": np.arange(MNIST_ROWS, dtype=np.int32) % 10}},
        type_name="MnistDigit")
    return {"name": "bench_mnist", "rows": MNIST_ROWS, "value_bytes": 784 + 4}


@pytest.fixture(scope="session")
def tabular_cache(bench_cluster):
    """Tabular objects: ten numeric fields (5 double, 3 long, 2 int)."""
    import ignite_fast

    rng = np.random.default_rng(4)
    client = ignite_fast.Client("127.0.0.1", PORT)
    for start in range(0, TABULAR_ROWS, 250_000):
        rows = min(250_000, TABULAR_ROWS - start)
        val = {f"f{i}": rng.random(rows) for i in range(5)}
        val.update({f"l{i}": rng.integers(0, 1 << 40, rows) for i in range(3)})
        val.update({f"i{i}": rng.integers(0, 1 << 20, rows).astype(np.int32) for i in range(2)})
        client.put_batches("bench_tabular", {"key": np.arange(start, start + rows), "val": val}, type_name="BenchRow")
    return {"name": "bench_tabular", "rows": TABULAR_ROWS, "value_bytes": 5 * 9 + 3 * 9 + 2 * 5}


@pytest.fixture(scope="session")
def strings_cache(writer):
    """String-heavy objects: five text fields of 10-80 characters, some of them non-ASCII."""
    from pyignite import GenericObjectMeta
    from pyignite.datatypes import String

    names = ["title", "author", "body", "tag", "lang"]

    class Doc(metaclass=GenericObjectMeta, type_name="BenchDoc", schema=OrderedDict((n, String) for n in names)):
        pass

    cache = writer.get_or_create_cache("bench_strings")
    rng = np.random.default_rng(3)
    lengths = rng.integers(10, 80, (OBJECT_ROWS, len(names)))
    nbytes = 0
    for start in range(0, OBJECT_ROWS, 2000):
        batch = {}
        for i in range(start, min(start + 2000, OBJECT_ROWS)):
            texts = [("ü" if j == 4 else "x") * int(lengths[i, j]) for j in range(len(names))]
            nbytes += sum(len(t.encode()) for t in texts)
            batch[i] = Doc(**dict(zip(names, texts)))
        cache.put_all(batch)
    return {"name": "bench_strings", "rows": OBJECT_ROWS, "value_bytes": nbytes / OBJECT_ROWS}


@pytest.fixture(scope="session")
def mixed_cache(writer):
    """Objects mixing types: int, long, double, string, UUID, timestamp, decimal, int[]."""
    import datetime
    import uuid
    from decimal import Decimal

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import (
        DecimalObject, DoubleObject, IntArrayObject, IntObject, LongObject, String, TimestampObject,
        UUIDObject,
    )

    class Mixed(metaclass=GenericObjectMeta, type_name="BenchMixed", schema=OrderedDict([
            ("id", IntObject), ("count", LongObject), ("score", DoubleObject), ("name", String),
            ("uid", UUIDObject), ("at", TimestampObject), ("price", DecimalObject), ("tags", IntArrayObject)])):
        pass

    cache = writer.get_or_create_cache("bench_mixed")
    base = datetime.datetime(2024, 1, 1)
    for start in range(0, OBJECT_ROWS, 2000):
        cache.put_all({i: Mixed(id=i, count=i * 7, score=i / 3, name=f"item-{i}", uid=uuid.UUID(int=i),
                                at=(base + datetime.timedelta(seconds=i), 0), price=Decimal(i) / 100,
                                tags=[i, i + 1, i + 2])
                       for i in range(start, min(start + 2000, OBJECT_ROWS))})
    # int, long, double, ~9-char string, uuid, timestamp, decimal (~8), 3 ints: about 90 bytes
    return {"name": "bench_mixed", "rows": OBJECT_ROWS, "value_bytes": 4 + 8 + 8 + 9 + 16 + 12 + 8 + 12}


def record(benchmark, scenario: str, reader: str, rows: int, nbytes: int) -> None:
    """Puts MB/s and rows/s (from the median round) into extra_info and the summary table."""
    median = benchmark.stats.stats.median
    info = {"rows": rows, "bytes": nbytes, "MB/s": nbytes / median / 1e6, "rows/s": rows / median,
            "scenario": scenario, "reader": reader}
    benchmark.extra_info.update(info)
    RESULTS[scenario][reader] = info


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("throughput (median round; ratios within this run)")
    tr.write_line(f"{'scenario':<14} {'reader':<28} {'MB/s':>10} {'rows/s':>14} {'vs pyignite':>12} {'vs raw pages':>13}")
    for scenario, readers in RESULTS.items():
        base = readers.get("pyignite", {}).get("rows/s")
        raw = readers.get("raw pages", {}).get("rows/s")
        for reader, info in readers.items():
            vs_py = f"{info['rows/s'] / base:.1f}x" if base else "-"
            vs_raw = f"{info['rows/s'] / raw:.2f}" if raw else "-"
            tr.write_line(f"{scenario:<14} {reader:<28} {info['MB/s']:>10.1f} {info['rows/s']:>14,.0f} {vs_py:>12} {vs_raw:>13}")
