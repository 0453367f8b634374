"""Client memory while scanning a cache of several GB: peak RSS, and RSS after each of repeated
scans (it must not grow). The scan runs in a fresh process holding only numpy and ignite_fast,
so the figures are the reader's own; the target is a peak under 300 MB.

The node has a data region large enough for the cache (default 3 GB of 1 MB values,
``BENCH_MEMORY_GB``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import RESULTS, started

PORT = 10940
CACHE_GB = float(os.environ.get("BENCH_MEMORY_GB", "3"))
ROWS = int(CACHE_GB * 1024)
SCANS = 3

SCANNER = r"""
import json, sys, time
import ignite_fast

def rss_mb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024

client = ignite_fast.Client("127.0.0.1", int(sys.argv[1]))
after, seconds = [], []
for _ in range(int(sys.argv[3])):
    started = time.perf_counter()
    parallel = int(sys.argv[4]) or None
    rows = sum(len(batch["key"]) for batch in client.scan(sys.argv[2], parallel=parallel))
    seconds.append(time.perf_counter() - started)
    after.append(rss_mb("VmRSS:"))
print(json.dumps({"rows": rows, "rss_after_each_scan_mb": after, "peak_rss_mb": rss_mb("VmHWM:"),
                  "seconds": seconds}))
"""


@pytest.fixture(scope="module")
def big_cache():
    import ignite_fast
    from ignite_fast.server import IgniteCluster

    node = started(
        IgniteCluster(
            nodes=1,
            port=PORT,
            discovery_port=27640,
            communication_port=27240,
            name="bench-memory",
            region_mb=int(CACHE_GB * 1024) + 768,
            heap_mb=1024,
        )
    )
    client = ignite_fast.Client("127.0.0.1", PORT)
    rng = np.random.default_rng(13)
    block = rng.integers(0, 256, (32, 1 << 20), dtype=np.uint8)
    for start in range(0, ROWS, 32):
        rows = min(32, ROWS - start)
        client.put_batches("bench_memory", {"key": np.arange(start, start + rows), "val": block[:rows]})
    yield "bench_memory"
    node.stop()


@pytest.mark.parametrize("parallel", [0, 2])
def test_scan_memory(benchmark, big_cache, parallel):
    """One cursor, and partition-parallel (``parallel=2``: two connections, each with
    ``DEFAULT_CURSORS`` partitions in flight, every partition held until whole)."""

    def run():
        proc = subprocess.run(
            [sys.executable, "-c", SCANNER, str(PORT), big_cache, str(SCANS), str(parallel)],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-4000:]
        return json.loads(proc.stdout.strip().splitlines()[-1])

    result = benchmark.pedantic(run, rounds=1, iterations=1)
    assert result["rows"] == ROWS
    benchmark.extra_info.update(result)
    print(
        f"\n{CACHE_GB:.0f} GB scanned {SCANS} times (parallel={parallel or None}): "
        f"peak RSS {result['peak_rss_mb']:.0f} MB, RSS after each scan "
        f"{', '.join(f'{v:.0f}' for v in result['rss_after_each_scan_mb'])} MB"
    )
    best = min(result["seconds"])  # the scan alone, not the process start
    info = {
        "rows": ROWS,
        "bytes": ROWS << 20,
        "MB/s": (ROWS << 20) / best / 1e6,
        "rows/s": ROWS / best,
        "scenario": f"{CACHE_GB:.0f}GB 1mb",
        "reader": f"numpy {'parallel' if parallel else 'batches'}, peak RSS {result['peak_rss_mb']:.0f} MB",
    }
    benchmark.extra_info.update(info)
    RESULTS[info["scenario"]][info["reader"]] = info
