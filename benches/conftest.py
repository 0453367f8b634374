"""Benchmark fixtures: one real Ignite node, caches loaded once per session, and a summary table
of MB/s and rows/s with ratios to the peers measured in the same run (pyignite and the raw page
reader). Absolute numbers drift on a shared machine; the ratios are what to compare."""

from __future__ import annotations

import os
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path

import numpy as np
import pytest

# The node fixtures are the tests' own (tests/node_fixtures.py), with the benchmarks' ports and sizes.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from ignite_fast.server import IgniteCluster
from node_fixtures import session_cluster, started  # noqa: F401 - test_memory_bench.py uses started
from report import bound_lines, peer_of, raw_peer

PORT = 10860
ONE_MB_ROWS = int(os.environ.get("BENCH_1MB_ROWS", "1024"))  # 1 GB
MNIST_ROWS = int(os.environ.get("BENCH_MNIST_ROWS", "70000"))
TABULAR_ROWS = int(os.environ.get("BENCH_TABULAR_ROWS", "1000000"))
OBJECT_ROWS = int(os.environ.get("BENCH_OBJECT_ROWS", "20000"))
# Passes over 20,000 string objects took 15-30 ms: too short for a steady ratio on a shared machine.
STRING_ROWS = int(os.environ.get("BENCH_STRING_ROWS", "100000"))

RESULTS: dict[str, dict[str, dict]] = defaultdict(dict)


TRIO_PORT = 10930
# 384 MB over three nodes: with 1 GB in three 1 GB-heap nodes, three worker processes reading at
# once brought a node down with "Java heap space" (the two cores' GC cannot keep up).
TRIO_1MB_ROWS = int(os.environ.get("BENCH_TRIO_1MB_ROWS", "384"))


bench_cluster = session_cluster(
    nodes=1, port=PORT, discovery_port=27560, communication_port=27160, name="bench", region_mb=2048, heap_mb=1536
)

# Three local nodes (no backups: every entry lives once).
bench_trio = session_cluster(
    nodes=3,
    port=TRIO_PORT,
    discovery_port=27630,
    communication_port=27230,
    name="bench-trio",
    region_mb=1024,
    heap_mb=1024,
)


@pytest.fixture(scope="session")
def writer(bench_cluster):
    from pyignite import Client

    c = Client()
    c.connect("127.0.0.1", PORT)
    yield c
    c.close()


class Caches:
    """The scenarios' caches, each loaded once per session on first use, on the one-node
    cluster or the three-node one. A cache is a dict: name, rows, value_bytes, addresses."""

    def __init__(self, request):
        self._request = request
        self._loaded: dict[tuple[str, int], dict] = {}

    def get(self, scenario: str, nodes: int = 1) -> dict:
        if (scenario, nodes) not in self._loaded:
            cluster = self._request.getfixturevalue("bench_cluster" if nodes == 1 else "bench_trio")
            name = f"bench_{scenario}" if nodes == 1 else f"bench{nodes}_{scenario}"
            cache = LOADERS[scenario](cluster.addresses, name, nodes)
            _warm_up(cluster.addresses, name, nodes)
            self._loaded[scenario, nodes] = {**cache, "name": name, "addresses": cluster.addresses, "cluster": cluster}
        return self._loaded[scenario, nodes]


def quiet_before_timing(cluster: IgniteCluster) -> None:
    """Lets the machine go quiet before a benchmark is timed, so that no reader pays for work
    left by the one before it:
    - this process: a full garbage collection, then everything alive is frozen out of later
      collections (with TensorFlow loaded, a full collection walks some 400,000 objects: 150 ms,
      which landed in whichever round triggered it);
    - the nodes: wait until they are idle (their JVM's garbage collection and compilation after
      a load or a heavy reader ran on into the next reader's rounds: one-cursor MNIST rounds of
      285-322 ms against 82 ms in the same test)."""
    import gc

    gc.collect()
    gc.freeze()
    _wait_until_idle([node["pid"] for node in cluster.status() if node["alive"]])


# A node counts as idle below this share of one core, measured over IDLE_WINDOW seconds.
IDLE_CPU_SHARE = 0.1
IDLE_WINDOW = 0.5
IDLE_WAIT_LIMIT = 30.0


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _wait_until_idle(pids: list[int]) -> None:
    import time

    deadline = time.monotonic() + IDLE_WAIT_LIMIT
    while time.monotonic() < deadline:
        before = [_cpu_seconds(pid) for pid in pids]
        time.sleep(IDLE_WINDOW)
        used = [_cpu_seconds(pid) - b for pid, b in zip(pids, before)]
        if max(used, default=0.0) < IDLE_CPU_SHARE * IDLE_WINDOW:
            return


# Passes of every scan path over a freshly loaded cache before anything is timed. The server's JIT
# keeps speeding up over the first passes, so without this the readers timed later in a scenario
# (the raw page reader comes after the numpy and tf.data ones) met a faster server.
WARM_UP_PASSES = 3


def _warm_up(addresses, name, nodes):
    import ignite_fast

    client = ignite_fast.Client(addresses)
    parallel = 3 if nodes == 3 else 2
    for _ in range(WARM_UP_PASSES):
        for pages in (client.raw_pages(name), client.raw_pages(name, parallel=parallel)):
            sum(entries for entries, _ in pages)
        for batches in (client.scan(name), client.scan(name, parallel=parallel)):
            sum(len(batch["key"]) for batch in batches)


@pytest.fixture(scope="session")
def caches(request) -> Caches:
    return Caches(request)


def _pyignite(addresses):
    from pyignite import Client

    client = Client()
    client.connect([(a.rsplit(":", 1)[0], int(a.rsplit(":", 1)[1])) for a in addresses])
    return client


def load_1mb(addresses, name, nodes):
    """1 MB values (byte[]), the published IgniteDataset scenario: 1 GB."""
    import ignite_fast

    rows = ONE_MB_ROWS if nodes == 1 else TRIO_1MB_ROWS
    client = ignite_fast.Client(addresses)
    rng = np.random.default_rng(1)
    for start in range(0, rows, 32):
        n = min(32, rows - start)
        client.put_batches(
            name, {"key": np.arange(start, start + n), "val": rng.integers(0, 256, (n, 1 << 20), dtype=np.uint8)}
        )
    return {"rows": rows, "value_bytes": 1 << 20}


def load_mnist(addresses, name, nodes):
    """MNIST-shaped objects: 784 pixel bytes and an int label."""
    import ignite_fast

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (MNIST_ROWS, 784), dtype=np.uint8)
    ignite_fast.Client(addresses).put_batches(
        name,
        {"key": np.arange(MNIST_ROWS), "val": {"pixels": pixels, "label": np.arange(MNIST_ROWS, dtype=np.int32) % 10}},
        type_name="MnistDigit",
    )
    return {"rows": MNIST_ROWS, "value_bytes": 784 + 4}


def load_tabular(addresses, name, nodes):
    """Tabular objects: ten numeric fields (5 double, 3 long, 2 int)."""
    import ignite_fast

    rng = np.random.default_rng(4)
    client = ignite_fast.Client(addresses)
    for start in range(0, TABULAR_ROWS, 250_000):
        rows = min(250_000, TABULAR_ROWS - start)
        val = {f"f{i}": rng.random(rows) for i in range(5)}
        val.update({f"l{i}": rng.integers(0, 1 << 40, rows) for i in range(3)})
        val.update({f"i{i}": rng.integers(0, 1 << 20, rows).astype(np.int32) for i in range(2)})
        client.put_batches(name, {"key": np.arange(start, start + rows), "val": val}, type_name="BenchRow")
    return {"rows": TABULAR_ROWS, "value_bytes": 5 * 9 + 3 * 9 + 2 * 5}


def load_strings(addresses, name, nodes):
    """String-heavy objects (written by pyignite): five text fields of 10-80 characters, some of
    them non-ASCII."""
    from pyignite import GenericObjectMeta
    from pyignite.datatypes import String

    names = ["title", "author", "body", "tag", "lang"]

    class Doc(metaclass=GenericObjectMeta, type_name="BenchDoc", schema=OrderedDict((n, String) for n in names)):
        pass

    writer = _pyignite(addresses)
    cache = writer.get_or_create_cache(name)
    rng = np.random.default_rng(3)
    lengths = rng.integers(10, 80, (STRING_ROWS, len(names)))
    nbytes = 0
    for start in range(0, STRING_ROWS, 2000):
        batch = {}
        for i in range(start, min(start + 2000, STRING_ROWS)):
            texts = [("ü" if j == 4 else "x") * int(lengths[i, j]) for j in range(len(names))]
            nbytes += sum(len(t.encode()) for t in texts)
            batch[i] = Doc(**dict(zip(names, texts)))
        cache.put_all(batch)
    writer.close()
    return {"rows": STRING_ROWS, "value_bytes": nbytes / STRING_ROWS}


def load_mixed(addresses, name, nodes):
    """Objects mixing types (written by pyignite): int, long, double, string, UUID, timestamp,
    decimal, int[]."""
    import datetime
    import uuid
    from decimal import Decimal

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import (
        DecimalObject,
        DoubleObject,
        IntArrayObject,
        IntObject,
        LongObject,
        String,
        TimestampObject,
        UUIDObject,
    )

    class Mixed(
        metaclass=GenericObjectMeta,
        type_name="BenchMixed",
        schema=OrderedDict(
            [
                ("id", IntObject),
                ("count", LongObject),
                ("score", DoubleObject),
                ("name", String),
                ("uid", UUIDObject),
                ("at", TimestampObject),
                ("price", DecimalObject),
                ("tags", IntArrayObject),
            ]
        ),
    ):
        pass

    writer = _pyignite(addresses)
    cache = writer.get_or_create_cache(name)
    base = datetime.datetime(2024, 1, 1)
    for start in range(0, OBJECT_ROWS, 2000):
        cache.put_all(
            {
                i: Mixed(
                    id=i,
                    count=i * 7,
                    score=i / 3,
                    name=f"item-{i}",
                    uid=uuid.UUID(int=i),
                    at=(base + datetime.timedelta(seconds=i), 0),
                    price=Decimal(i) / 100,
                    tags=[i, i + 1, i + 2],
                )
                for i in range(start, min(start + 2000, OBJECT_ROWS))
            }
        )
    writer.close()
    # int, long, double, ~9-char string, uuid, timestamp, decimal (~8), 3 ints: about 90 bytes
    return {"rows": OBJECT_ROWS, "value_bytes": 4 + 8 + 8 + 9 + 16 + 12 + 8 + 12}


LOADERS = {"1mb": load_1mb, "mnist": load_mnist, "tabular": load_tabular, "strings": load_strings, "mixed": load_mixed}


def record(benchmark, scenario: str, reader: str, rows: int, nbytes: int) -> None:
    """Puts MB/s and rows/s (from the median round) into extra_info and the summary table."""
    median = benchmark.stats.stats.median
    info = {
        "rows": rows,
        "bytes": nbytes,
        "MB/s": nbytes / median / 1e6,
        "rows/s": rows / median,
        "scenario": scenario,
        "reader": reader,
    }
    benchmark.extra_info.update(info)
    RESULTS[scenario][reader] = info


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("throughput (median round; ratios within this run)")
    tr.write_line(f"{'scenario':<14} {'reader':<28} {'MB/s':>10} {'rows/s':>14} {'vs peer':>12} {'vs raw pages':>13}")
    for scenario, readers in RESULTS.items():
        base = readers.get(peer_of(readers), {}).get("rows/s")
        for reader, info in readers.items():
            raw = readers.get(raw_peer(reader), {}).get("rows/s")
            vs_py = f"{info['rows/s'] / base:.1f}x" if base else "-"
            vs_raw = f"{info['rows/s'] / raw:.2f}" if raw else "-"
            tr.write_line(
                f"{scenario:<14} {reader:<28} {info['MB/s']:>10.1f} {info['rows/s']:>14,.0f} {vs_py:>12} {vs_raw:>13}"
            )
    if bound := bound_lines(RESULTS):
        tr.write_line("decode at the bound (numpy reader / raw page reader, target >= 0.90):")
        for line in bound:
            tr.write_line(f"  {line}")
