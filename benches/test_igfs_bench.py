"""IGFS throughput: one large file written and read through ``ignite_fast.igfs`` on the benchmark
node, next to the same bytes written to and read from a local file (targets: read at least
500 MB/s, write at least 300 MB/s on one local node)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import PORT, record

FILE_MB = int(os.environ.get("BENCH_IGFS_MB", "256"))
CHUNK = 8 << 20  # what a checkpoint writer or a reader loop hands over per call
ROUNDS, WARMUP_ROUNDS = 5, 1


@pytest.fixture(scope="module")
def payload() -> memoryview:
    return memoryview(np.random.default_rng(5).integers(0, 256, FILE_MB << 20, dtype=np.uint8).tobytes())


@pytest.fixture(scope="module")
def igfs_fs(bench_cluster):
    from ignite_fast import igfs

    fs = igfs.IgniteFileSystem("127.0.0.1", PORT, name="bench")
    yield fs
    fs.rm("/", recursive=True)


def _write(open_file, payload):
    with open_file() as f:
        for start in range(0, len(payload), CHUNK):
            f.write(payload[start : start + CHUNK])
    return len(payload)


def _read(open_file, size):
    buf = bytearray(CHUNK)
    total = 0
    with open_file() as f:
        while n := f.readinto(buf):
            total += n
    assert total == size
    return total


@pytest.mark.parametrize("reader", ["igfs write", "igfs read", "local file write", "local file read"])
def test_igfs_throughput(benchmark, igfs_fs, payload, tmp_path_factory, reader):
    local = tmp_path_factory.getbasetemp() / "igfs_bench_local.bin"
    size = len(payload)
    if reader.endswith("read"):  # the file to read, written once
        if reader.startswith("igfs"):
            _write(lambda: igfs_fs.open("/bench.bin", "wb"), payload)
        else:
            _write(lambda: open(local, "wb"), payload)
    run = {
        "igfs write": lambda: _write(lambda: igfs_fs.open("/bench.bin", "wb"), payload),
        "igfs read": lambda: _read(lambda: igfs_fs.open("/bench.bin", "rb", buffering=CHUNK), size),
        "local file write": lambda: _write(lambda: open(local, "wb"), payload),
        "local file read": lambda: _read(lambda: open(local, "rb", buffering=0), size),
    }[reader]
    nbytes = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    record(benchmark, f"igfs {FILE_MB}MB file", reader, 1, nbytes)
