"""Benchmark smoke: ignite_fast next to its peers in the same run, on one node and on three.

Scenarios: 1 MB byte-array values (1 GB), MNIST-shaped objects (70,000), tabular objects with ten
numeric fields (1,000,000), string-heavy objects and objects of mixed types (UUID, timestamp,
decimal, arrays); each on one local node and on three.

Readers: ignite_fast's numpy iterator (for the strings also with text as numpy 2 StringDType or
Arrow string arrays, and as Arrow record batches: no padding), the tf.data adaptor (batched, also with TensorFlow's
autotuner off, and element by element as the original was used), the raw page reader (pages
fetched the same way and thrown away: the server-and-wire limit) and a pyignite 0.6.1 scan at the
best of three or four page sizes (probed first).
On one node the numpy iterator and the raw reader also run partition-parallel ("parallel": two
connections, several partition cursors in flight on each); on three nodes every ignite_fast reader
is partition-parallel (one connection per node). pyignite and per-element TF are timed on at most
100,000 entries. MB/s counts value payload bytes.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, suppress

import numpy as np
import pytest

import ignite_fast
from conftest import PORT, interleave, quiet_before_timing, record
from report import SEPARATE_CPUS

ROUNDS = 5
# The server's JIT needs a few passes over a cache before its page rate settles.
WARMUP_ROUNDS = 2


def _numpy_reader(cache, batch_size, parallel):
    client = ignite_fast.Client(cache["addresses"])

    def run():
        rows = 0
        for batch in client.scan(cache["name"], batch_size=batch_size, parallel=parallel):
            rows += len(batch["key"])
        assert rows == cache["rows"]
        return rows

    return run


def _raw_reader(cache, page_size, parallel):
    client = ignite_fast.Client(cache["addresses"])

    def run():
        # the numpy reader's pages: its batch up to the client's page size when one cursor, sized
        # by bytes in flight when parallel
        pages = client.raw_pages(
            cache["name"],
            parallel=parallel,
            page_size=None if parallel else min(page_size, client._reader.sizer.cursor_page_rows(cache["name"])),
        )
        rows = sum(entries for entries, _ in pages)
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


# Element by element (the drop-in's default) pays TensorFlow's fixed cost per element; it is
# timed on at most this many.
TF_ELEMENT_MAX_ROWS = 100_000


def _tf_element_reader(cache, page_size, parallel):
    dataset = ignite_fast.IgniteDataset(cache["name"], hosts=cache["addresses"], page_size=page_size, parallel=parallel)
    limit = min(cache["rows"], TF_ELEMENT_MAX_ROWS)
    if limit < cache["rows"]:
        dataset = dataset.take(limit)

    def run():
        # Counted inside TensorFlow, as an input pipeline consumes elements (a Python loop over
        # eager elements would time TensorFlow's eager iterator instead).
        rows = int(dataset.reduce(np.int64(0), lambda n, _element: n + 1))
        assert rows == limit
        return rows

    return run


def _pyignite_best_page_size(writer, cache, candidates) -> int:
    """The page size at which pyignite scans this cache fastest (a short probe of each)."""
    import time

    probe = {**cache, "rows": min(cache["rows"], 20_000 if cache["value_bytes"] < 4096 else 64)}
    timings = {}
    for page_size in candidates:
        run = _pyignite_reader(writer, probe, page_size)
        started = time.perf_counter()
        run()
        timings[page_size] = time.perf_counter() - started
    return min(timings, key=timings.get)


def _tf_reader(cache, batch_size, parallel, autotune=True):
    import tensorflow as tf

    # pages as the numpy reader's: sized by the client (the batch, up to about 16 MB)
    dataset = ignite_fast.IgniteDataset(
        cache["name"], hosts=cache["addresses"], batch_size=batch_size, parallel=parallel
    )
    if not autotune:
        # TensorFlow's autotuner (on by default) can hold a pass's end until its next tuning
        # tick (at 0.63 s, 1.27 s, 2.55 s, 5.1 s... after the iterator started), whatever the
        # source: both readers show what that costs in this run.
        options = tf.data.Options()
        options.autotune.enabled = False
        dataset = dataset.with_options(options)

    def run():
        rows = 0
        for batch in dataset:
            rows += int(tf.shape(batch["key"])[0])
        assert rows == cache["rows"]
        return rows

    return run


SCENARIOS = {
    # (batch/page size for ignite_fast, page sizes pyignite is probed at: the best one is timed)
    "1mb": (16, (1, 4, 16)),  # larger pages of 1 MB values strain the node's heap for no gain
    "mnist": (4096, (64, 256, 1024, 4096)),
    "tabular": (65536, (64, 256, 1024, 4096)),
    "strings": (4096, (64, 256, 1024, 4096)),
    "mixed": (4096, (64, 256, 1024, 4096)),
}
READERS = [
    "numpy batches",
    "numpy parallel",
    "tf.data batched",
    "tf.data batched, autotune off",
    "tf.data per element",
    "raw pages",
    "raw pages parallel",
    "pyignite",
]
# Partition-parallel readers: worker connections on one node; on three, one per node.
PARALLEL_ON_ONE_NODE = 2
# On three nodes every ignite_fast reader is partition-parallel, so there are no separate
# "parallel" readers.
CASES = [(reader, 1) for reader in READERS] + [(reader, 3) for reader in READERS if "parallel" not in reader]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
@pytest.mark.parametrize(("reader", "nodes"), CASES)
def test_scan_throughput(benchmark, caches, scenario, reader, nodes):
    batch, py_pages = SCENARIOS[scenario]
    cache = caches.get(scenario, nodes)
    parallel = 3 if nodes == 3 else PARALLEL_ON_ONE_NODE if "parallel" in reader else None
    if reader == "pyignite":
        from conftest import _pyignite

        writer = _pyignite(cache["addresses"])
        if nodes == 3 and scenario == "1mb":
            # pyignite's scan gathers pages from every node on the one it talks to: 16 MB pages
            # from each of three nodes exhaust a 1 GB heap
            py_pages = py_pages[:2]
        page_size = _pyignite_best_page_size(writer, cache, py_pages)
        benchmark.extra_info["page_size"] = page_size
    run = {
        "numpy batches": lambda: _numpy_reader(cache, batch, parallel),
        "numpy parallel": lambda: _numpy_reader(cache, batch, parallel),
        "tf.data batched": lambda: _tf_reader(cache, batch, parallel),
        "tf.data batched, autotune off": lambda: _tf_reader(cache, batch, parallel, autotune=False),
        "tf.data per element": lambda: _tf_element_reader(cache, min(batch, 1024), parallel),
        "raw pages": lambda: _raw_reader(cache, batch, parallel),
        "raw pages parallel": lambda: _raw_reader(cache, batch, parallel),
        "pyignite": lambda: _pyignite_reader(writer, cache, page_size),
    }[reader]()
    # pyignite and TF's element-by-element path are slow enough that one warm round says all.
    rounds, warmup = (1, 1) if reader in ("pyignite", "tf.data per element") else (ROUNDS, WARMUP_ROUNDS)
    if rounds > 1:
        # One pass first, then quiet: a node's work set off by a new reader's first passes (its
        # JIT compiling for that page size) ran on into the timed rounds of the first reader
        # after a cache was loaded (one-cursor MNIST: 68 ms, then 201-296 ms for three rounds).
        run()
    quiet_before_timing(cache["cluster"])
    rows = benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=warmup)
    label = scenario if nodes == 1 else f"{scenario} (3 nodes)"
    record(benchmark, label, reader, rows, rows * cache["value_bytes"])


# The strings scenario's text without padding: numpy 2 StringDType, Arrow string arrays over the
# decoded buffers (numpy batches with strings=...), and Arrow record batches.
STRING_FORMS = {
    "numpy batches, strings=str": "str",
    "numpy batches, strings=arrow": "arrow",
    "arrow batches": None,
}


def _string_form_reader(cache, strings):
    """A pass over the strings scenario with text in form ``strings`` (None: Arrow record batches)."""
    batch_size = SCENARIOS["strings"][0]
    client = ignite_fast.Client(cache["addresses"])

    def run():
        rows = 0
        if strings is None:
            for batch in client.scan(cache["name"], batch_size=batch_size, format="arrow"):
                rows += batch.num_rows
        else:
            for batch in client.scan(cache["name"], batch_size=batch_size, strings=strings):
                rows += len(batch["key"])
        assert rows == cache["rows"]
        return rows

    return run


@pytest.mark.parametrize("reader", list(STRING_FORMS))
def test_string_forms(benchmark, caches, reader):
    cache = caches.get("strings", 1)
    run = _string_form_reader(cache, STRING_FORMS[reader])
    run()
    quiet_before_timing(cache["cluster"])
    rows = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    record(benchmark, "strings", reader, rows, rows * cache["value_bytes"])


@pytest.mark.headline
def test_decode_bound_strings(benchmark, caches):
    """Issue 24's bound on text: the raw page reader and every form of the strings scenario's
    text (S, StringDType, Arrow strings, Arrow record batches) in turns within each round, each
    form's ratio to the raw pass of its own round (see conftest.interleave)."""
    cache = caches.get("strings", 1)
    passes = _bound_passes(cache)
    for run in passes.values():
        run()
    quiet_before_timing(cache["cluster"])
    interleave(benchmark, cache["cluster"], "strings", "raw pages", passes, cache["value_bytes"])


def _bound_passes(cache):
    """The raw page reader and a pass over the strings in each form, by reader name."""
    return {
        "raw pages": _raw_reader(cache, SCENARIOS["strings"][0], None),
        "numpy batches": _string_form_reader(cache, "bytes"),
        **{reader: _string_form_reader(cache, strings) for reader, strings in STRING_FORMS.items()},
    }


@contextmanager
def _separate_cpus(cluster):
    """The node's threads on the first half of this process's CPUs and this process's threads on
    the other half, as a client and a remote node would be; set back after. Threads started
    meanwhile inherit their starter's CPUs, so every thread of both is set back."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.fail(f"separate CPUs for the node and the client need two CPUs, this process has {cpus}")
    node_cpus, client_cpus = set(cpus[: len(cpus) // 2]), set(cpus[len(cpus) // 2 :])
    pids = [node["pid"] for node in cluster.status() if node["alive"]]

    def pin(pid: int, cpus: set[int]) -> None:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with suppress(ProcessLookupError):  # a thread that ended meanwhile
                os.sched_setaffinity(int(tid), cpus)

    for pid in pids:
        pin(pid, node_cpus)
    pin(os.getpid(), client_cpus)
    try:
        yield
    finally:
        for pid in [*pids, os.getpid()]:
            pin(pid, set(cpus))


@pytest.mark.headline
def test_decode_bound_strings_separate_cpus(benchmark, caches):
    """test_decode_bound_strings with the node and the client on CPUs of their own. On one
    machine of two cores the node and the client otherwise share them, and a decoding client's
    CPU time lands where the node's threads would run (in one probe on separate CPUs, the raw reader
    was as fast as when sharing, 66 against 70 ms a pass, and every form reached 0.94-1.01 of it
    where sharing gave 0.72-0.85): this measures the decoder against the raw reader as a client of
    a remote node would meet them."""
    cache = caches.get("strings", 1)
    passes = _bound_passes(cache)
    with _separate_cpus(cache["cluster"]):
        for run in passes.values():
            run()
        quiet_before_timing(cache["cluster"])
        interleave(benchmark, cache["cluster"], SEPARATE_CPUS, "raw pages", passes, cache["value_bytes"])


@pytest.mark.parametrize("scenario", ["1mb", "mnist"])
def test_write_throughput(benchmark, bench_cluster, scenario):
    """The bulk writer, next to the scans of the same shapes above (target: at least half as
    fast as scanning)."""
    import numpy as np

    client = ignite_fast.Client("127.0.0.1", PORT)
    rng = np.random.default_rng(9)
    if scenario == "1mb":
        rows, value_bytes = 64, 1 << 20
        batch = {"key": np.arange(rows), "val": rng.integers(0, 256, (rows, 1 << 20), dtype=np.uint8)}
    else:
        rows, value_bytes = 20_000, 784 + 4
        batch = {
            "key": np.arange(rows),
            "val": {
                "pixels": rng.integers(0, 256, (rows, 784), dtype=np.uint8),
                "label": np.arange(rows, dtype=np.int32) % 10,
            },
        }
    cache = f"bench_write_{scenario}"
    quiet_before_timing(bench_cluster)
    written = benchmark.pedantic(
        lambda: client.put_batches(cache, batch, type_name="MnistDigit"), rounds=ROUNDS, iterations=1, warmup_rounds=1
    )
    assert written == rows
    record(benchmark, scenario, "writer (put_batches)", rows, rows * value_bytes)
