"""IGFS throughput: one large file written and read through ``ignite_fast.igfs`` on the benchmark
node, next to the same bytes written to and read from a local file (targets: read at least
500 MB/s, write at least 300 MB/s on one local node); and TensorFlow's TFRecordDataset reading
MNIST-sized records through the ``igfs://`` plugin, next to the same file on local disk (the
ratio is in the igfs result's ``extra_info``)."""

from __future__ import annotations

import os
from functools import partial

import numpy as np
import pytest

from conftest import PORT, RESULTS, quiet_before_timing, record

FILE_MB = int(os.environ.get("BENCH_IGFS_MB", "256"))
TFRECORD_ROWS = int(os.environ.get("BENCH_TFRECORD_ROWS", "20000"))
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
            _write(partial(igfs_fs.open, "/bench.bin", "wb"), payload)
        else:
            _write(partial(open, local, "wb"), payload)
    run = {
        "igfs write": lambda: _write(partial(igfs_fs.open, "/bench.bin", "wb"), payload),
        "igfs read": lambda: _read(partial(igfs_fs.open, "/bench.bin", "rb", buffering=CHUNK), size),
        "local file write": lambda: _write(partial(open, local, "wb"), payload),
        "local file read": lambda: _read(partial(open, local, "rb", buffering=0), size),
    }[reader]
    nbytes = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    record(benchmark, f"igfs {FILE_MB}MB file", reader, 1, nbytes)


@pytest.fixture(scope="module")
def tfrecord_paths(igfs_fs, tmp_path_factory):
    """The same TFRecord file (MNIST-sized tf.train.Examples) on igfs and on local disk, both
    written by TensorFlow."""
    import tensorflow as tf

    import ignite_fast.tf

    saved = os.environ.get("IGFS_FS_NAME")
    os.environ["IGFS_FS_NAME"] = igfs_fs.name  # the plugin finds the benchmark's caches by name
    ignite_fast.tf.register_igfs_filesystem()
    rng = np.random.default_rng(8)
    pixels = rng.integers(0, 256, (TFRECORD_ROWS, 784), dtype=np.uint8)
    paths = {
        "igfs": f"igfs://127.0.0.1:{PORT}/records/digits.tfrecord",
        "local file": str(tmp_path_factory.mktemp("tfrecords") / "digits.tfrecord"),
    }
    writers = [tf.io.TFRecordWriter(p) for p in paths.values()]
    for i in range(TFRECORD_ROWS):
        example = tf.train.Example(
            features=tf.train.Features(
                feature={
                    "pixels": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pixels[i].tobytes()])),
                    "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[i % 10])),
                }
            )
        ).SerializeToString()
        for w in writers:
            w.write(example)
    for w in writers:
        w.close()
    yield paths
    if saved is None:
        os.environ.pop("IGFS_FS_NAME", None)
    else:
        os.environ["IGFS_FS_NAME"] = saved


@pytest.mark.parametrize("where", ["local file", "igfs"])  # local first: igfs reports its ratio to it
def test_tfrecord_dataset(benchmark, bench_cluster, igfs_fs, tfrecord_paths, where):
    import tensorflow as tf

    path = tfrecord_paths[where]
    nbytes = tf.io.gfile.stat(path).length

    def count():
        # Batches keep Python out of the per-record path (Dataset.reduce costs 40 us a record
        # in its loop, 20 times the read).
        return sum(int(batch.shape[0]) for batch in tf.data.TFRecordDataset(path).batch(1024))

    assert count() == TFRECORD_ROWS
    quiet_before_timing(bench_cluster)
    rows = benchmark.pedantic(count, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    scenario = f"TFRecordDataset {TFRECORD_ROWS} MNIST records"
    record(benchmark, scenario, f"TFRecordDataset {where}", rows, nbytes)
    local = RESULTS[scenario].get("TFRecordDataset local file")
    if where == "igfs" and local:
        benchmark.extra_info["vs local file"] = benchmark.extra_info["rows/s"] / local["rows/s"]
