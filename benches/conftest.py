"""Benchmark fixtures: one real Ignite node, caches loaded once per session, and a summary table
of MB/s and rows/s with ratios to the peers measured in the same run (pyignite and the raw page
reader). Absolute numbers drift on a shared machine; the ratios are what to compare."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

# The node fixtures are the tests' own (tests/node_fixtures.py), with the benchmarks' ports and sizes.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import ignite_fast
from ignite_fast.server import IgniteCluster
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import session_cluster, started  # noqa: F401 - test_memory_bench.py uses started
from report import BOUND_TITLE, RESUME_TITLE, bound_lines, peer_of, raw_peer, resume_lines

PORT = 10860
ONE_MB_ROWS = int(os.environ.get("BENCH_1MB_ROWS", "1024"))  # 1 GB
MNIST_ROWS = int(os.environ.get("BENCH_MNIST_ROWS", "70000"))
TABULAR_ROWS = int(os.environ.get("BENCH_TABULAR_ROWS", "1000000"))
OBJECT_ROWS = int(os.environ.get("BENCH_OBJECT_ROWS", "20000"))
# Passes over 20,000 string objects took 15-30 ms: too short for a steady ratio on a shared machine.
STRING_ROWS = int(os.environ.get("BENCH_STRING_ROWS", "100000"))

RESULTS: dict[str, dict[str, dict]] = defaultdict(dict)
# scenario -> reader -> its interleaved measurement against a base reader (see interleave)
INTERLEAVED: dict[str, dict[str, dict]] = defaultdict(dict)


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


# Two Ignite 3 nodes, and their tables (test_ignite3_bench.py, test_resume_bench.py).
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

MNIST3_ROWS = int(os.environ.get("BENCH3_MNIST_ROWS", "60000"))
TABULAR3_ROWS = int(os.environ.get("BENCH3_TABULAR_ROWS", "300000"))
PAGE_ROWS3 = 4096

# name -> (CREATE TABLE columns, INSERT ... SELECT expressions over x, rows, payload bytes per row)
TABLES3 = {
    "mnist": (
        "ID INT PRIMARY KEY, PIXELS VARBINARY(784), LABEL INT",
        # the same 784 bytes in every row (Ignite 3's SQL cannot make bytes from numbers); the
        # wire and the decoder do the same work whatever the bytes
        "x::INT, X'" + bytes(range(256)).hex() * 3 + "00" * 16 + "', (x % 10)::INT",
        MNIST3_ROWS,
        4 + 784 + 4,
    ),
    "tabular": (
        "ID BIGINT PRIMARY KEY, F0 DOUBLE, F1 DOUBLE, F2 DOUBLE, F3 DOUBLE, F4 DOUBLE, "
        "L0 BIGINT, L1 BIGINT, L2 BIGINT, I0 INT, I1 INT",
        "x, x * 0.5, x * 0.25, x / 3.0, x * 1.5, x / 7.0, x * 3, x * 5, x * 7, (x % 1000)::INT, (x % 77)::INT",
        TABULAR3_ROWS,
        8 + 5 * 8 + 3 * 8 + 2 * 4,
    ),
}


class Tables3:
    """The Ignite 3 benchmark tables, each made on first use, in a zone of 16 partitions spread
    over both nodes. ``tables3[scenario]`` is a dict: name, rows, row_bytes, addresses."""

    def __init__(self, cluster: Ignite3Cluster):
        self._cluster = cluster
        self._client = ignite_fast.Client(cluster.addresses, ignite=3)
        self._client.execute(
            "CREATE ZONE IF NOT EXISTS BENCH3 (PARTITIONS 16, REPLICAS 1) STORAGE PROFILES ['default']"
        )
        self._made: dict[str, dict] = {}

    def __getitem__(self, scenario: str) -> dict:
        if scenario not in self._made:
            columns, select, rows, row_bytes = TABLES3[scenario]
            name = f"BENCH3_{scenario.upper()}"
            client = self._client
            client.execute(f"DROP TABLE IF EXISTS {name}")
            client.execute(f"CREATE TABLE {name} ({columns}) ZONE BENCH3")
            for start in range(0, rows, 100_000):  # pieces: one huge INSERT holds the node's heap
                stop = min(start + 100_000, rows) - 1
                client.execute(f"INSERT INTO {name} SELECT {select} FROM TABLE(SYSTEM_RANGE({start}, {stop}))")
            for _ in range(2):  # the server's JIT settles over the first passes
                sum(n for n, _ in client.raw_pages(name, page_size=PAGE_ROWS3))
                sum(len(b["ID"]) for b in client.scan(name, parallel=2))
            self._made[scenario] = {
                "name": name,
                "rows": rows,
                "row_bytes": row_bytes,
                "addresses": self._cluster.addresses,
                "cluster": self._cluster,
            }
        return self._made[scenario]


@pytest.fixture(scope="session")
def tables3(bench3: Ignite3Cluster) -> Tables3:
    return Tables3(bench3)


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


# Rounds of an interleaved measurement (odd: the median is one round's ratio).
INTERLEAVED_ROUNDS = int(os.environ.get("BENCH_INTERLEAVED_ROUNDS", "21"))
# Before each round, wait (up to QUIET_WAIT_LIMIT seconds) until the rest of the machine uses less
# than QUIET_OTHERS of a core; a round whose passes met more is reported as busy.
QUIET_OTHERS = 0.25
QUIET_WAIT_LIMIT = 10.0


class _OthersCpu:
    """CPU used on this machine by everything but this process and the given nodes (other
    helpers' builds and tests, the hypervisor's steal), in cores, over a stretch of time."""

    def __init__(self, pids: list[int]):
        self._pids = [os.getpid(), *pids]

    def _now(self) -> tuple[float, float, float]:
        with open("/proc/stat") as f:
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
        busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
        return time.monotonic(), busy, sum(_cpu_seconds(pid) for pid in self._pids)

    def start(self) -> None:
        self._begun = self._now()

    def cores(self) -> float:
        """Cores used by others since start()."""
        (t0, busy0, ours0), (t1, busy1, ours1) = self._begun, self._now()
        return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / max(t1 - t0, 1e-9)

    def wait_until_quiet(self) -> None:
        deadline = time.monotonic() + QUIET_WAIT_LIMIT
        while time.monotonic() < deadline:
            self.start()
            time.sleep(IDLE_WINDOW)
            if self.cores() < QUIET_OTHERS:
                return


def interleave(
    benchmark,
    cluster,
    scenario: str,
    base: str,
    passes: dict[str, Callable[[], int]],
    row_bytes: float,
    rounds: int = INTERLEAVED_ROUNDS,
) -> None:
    """Times the readers of ``passes`` (``base`` among them) in turns: every round runs each
    reader once, and each reader's ratio to ``base`` is taken within its round, then the median
    over rounds. Readers timed in separate tests minutes apart met different shares of this
    machine's stolen CPU: the ratio of two such medians moved by 0.1 and more between runs, while
    per-round ratios of passes a fraction of a second apart hold stiller. The order reverses every
    round, so no reader always runs first (or right after the same one).

    Each round waits for the rest of the machine to go quiet (other helpers' builds took a core
    from the decoding reader, which needs more CPU than the raw one: ratios of 0.2-0.6 in such
    rounds). Rounds during which others still used QUIET_OTHERS of a core or more are counted as
    busy, and the ratio is also given over the quiet rounds only.

    pytest-benchmark times the whole round (every reader once), which keeps the test in the
    regression comparison; the readers' own figures go into extra_info["interleaved"] and the
    summaries. Every pass returns the rows it read."""
    assert base in passes
    others = _OthersCpu([node["pid"] for node in cluster.status() if node["alive"]])
    seconds: dict[str, list[float]] = {reader: [] for reader in passes}
    rows: dict[str, int] = {}
    busy: list[float] = []  # others' cores during each round's passes
    order = list(passes)

    def before_round() -> None:
        others.wait_until_quiet()
        # An untimed pass first: a reader starting right after the quiet wait's sleep was slower
        # (raw pages over the strings: 72-89 ms when first in its round, 61-64 ms when last).
        passes[order[0]]()

    def one_round() -> None:
        others.start()
        for reader in order:
            begun = time.perf_counter()
            rows[reader] = passes[reader]()
            seconds[reader].append(time.perf_counter() - begun)
        busy.append(others.cores())
        order.reverse()

    benchmark.pedantic(one_round, setup=before_round, rounds=rounds, iterations=1)
    quiet = [i for i, cores in enumerate(busy) if cores < QUIET_OTHERS]
    measured = {}
    for reader, times in seconds.items():
        median = statistics.median(times)
        ratios = [b / t for b, t in zip(seconds[base], times)]
        measured[reader] = {
            "base": base,
            "rounds": rounds,
            "rows": rows[reader],
            "MB/s": rows[reader] * row_bytes / median / 1e6,
            "rows/s": rows[reader] / median,
            "seconds": times,
            "others' cores": busy,
            # reader's rows/s over base's rows/s, round by round
            "ratio": statistics.median(ratios),
            "ratio range": (min(ratios), max(ratios)),
            "quiet rounds": len(quiet),
            "quiet ratio": statistics.median(ratios[i] for i in quiet) if quiet else None,
        }
    for reader, info in measured.items():
        if reader != base:
            info["base MB/s"] = measured[base]["MB/s"]
            info["base rows/s"] = measured[base]["rows/s"]
        INTERLEAVED[scenario][reader] = info
    benchmark.extra_info["interleaved"] = {"scenario": scenario, "readers": measured}


# make bench runs the headline measurements only (-m headline, about ten minutes): decoding at the
# bound (issue 24), resuming an epoch (issue 25), and the peer clients they are compared with,
# which are timed in their own tests (a pyignite pass over the strings takes seconds: too slow to
# alternate with). make bench-all runs everything.
HEADLINE_PEERS = {
    "test_scan_throughput": {"scenario": "strings", "reader": "pyignite", "nodes": 1},
    "test_ignite3_scan_throughput": {"reader": "pyignite_dbapi fetchall"},
}


def pytest_configure(config):
    config.addinivalue_line("markers", "headline: the measurements make bench runs (see HEADLINE_PEERS)")


def pytest_collection_modifyitems(items):
    for item in items:
        wanted = HEADLINE_PEERS.get(getattr(item, "originalname", ""))
        callspec = getattr(item, "callspec", None)
        if wanted and callspec and all(callspec.params.get(k) == v for k, v in wanted.items()):
            item.add_marker(pytest.mark.headline)


def pytest_terminal_summary(terminalreporter):
    tr = terminalreporter
    if RESULTS:
        tr.section("throughput (median round; ratios within this run)")
        tr.write_line(
            f"{'scenario':<14} {'reader':<28} {'MB/s':>10} {'rows/s':>14} {'vs peer':>12} {'vs raw pages':>13}"
        )
    for scenario, readers in RESULTS.items():
        base = readers.get(peer_of(readers), {}).get("rows/s")
        for reader, info in readers.items():
            raw = readers.get(raw_peer(reader), {}).get("rows/s")
            vs_py = f"{info['rows/s'] / base:.1f}x" if base else "-"
            vs_raw = f"{info['rows/s'] / raw:.2f}" if raw else "-"
            tr.write_line(
                f"{scenario:<14} {reader:<28} {info['MB/s']:>10.1f} {info['rows/s']:>14,.0f} {vs_py:>12} {vs_raw:>13}"
            )
    if bound := bound_lines(RESULTS, INTERLEAVED):
        tr.section("decode at the bound")
        tr.write_line(BOUND_TITLE)
        for line in bound:
            tr.write_line(f"  {line}")
    if resume := resume_lines(INTERLEAVED):
        tr.section("resume at 90% of an epoch")
        tr.write_line(RESUME_TITLE)
        for line in resume:
            tr.write_line(f"  {line}")
