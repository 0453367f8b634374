"""The formats ML data lives in, kept on igfs: TFRecord files written and read by TensorFlow
through ``igfs://`` paths, a partitioned Parquet dataset through pyarrow, and pandas'
``to_parquet`` / ``read_parquet`` with an ``igfs://`` URL. Each is checked against the same data
written to local disk."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from ignite_fast import igfs


@pytest.fixture
def where(cluster, monkeypatch):
    """A fresh file system: its host, port and name, which the TensorFlow plugin reads from
    the environment."""
    host, port = cluster.addresses[0].rsplit(":", 1)
    name = f"f{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("IGFS_HOST", host)
    monkeypatch.setenv("IGFS_PORT", port)
    monkeypatch.setenv("IGFS_FS_NAME", name)
    fs = igfs.IgniteFileSystem(host, int(port), name=name)
    yield {"host": host, "port": int(port), "name": name, "fs": fs}
    fs.rm("/", recursive=True)


def _digits(n: int):
    """MNIST-shaped records: 784 pixel bytes and a label."""
    rng = np.random.default_rng(7)
    return rng.integers(0, 256, (n, 784), dtype=np.uint8), (np.arange(n) % 10).astype(np.int64)


def _examples(pixels, labels) -> list[bytes]:
    import tensorflow as tf

    def feature(**kw):
        return tf.train.Feature(**kw)

    return [
        tf.train.Example(
            features=tf.train.Features(
                feature={
                    "pixels": feature(bytes_list=tf.train.BytesList(value=[p.tobytes()])),
                    "label": feature(int64_list=tf.train.Int64List(value=[int(y)])),
                }
            )
        ).SerializeToString()
        for p, y in zip(pixels, labels)
    ]


@pytest.mark.parametrize("compression", ["", "GZIP"])
def test_tfrecords_written_and_read_through_igfs(where, tmp_path, compression):
    import tensorflow as tf

    import ignite_fast.tf

    ignite_fast.tf.register_igfs_filesystem()
    pixels, labels = _digits(3000)
    records = _examples(pixels, labels)
    options = tf.io.TFRecordOptions(compression_type=compression)
    for path in ("igfs:///records/digits.tfrecord", str(tmp_path / "digits.tfrecord")):
        with tf.io.TFRecordWriter(path, options) as writer:
            for record in records:
                writer.write(record)
    # TensorFlow wrote the same bytes to igfs as to local disk.
    assert where["fs"].read_bytes("/records/digits.tfrecord") == (tmp_path / "digits.tfrecord").read_bytes()

    spec = {"pixels": tf.io.FixedLenFeature([], tf.string), "label": tf.io.FixedLenFeature([], tf.int64)}
    dataset = (
        tf.data.TFRecordDataset("igfs:///records/digits.tfrecord", compression_type=compression)
        .map(lambda r: tf.io.parse_single_example(r, spec))
        .batch(512)
    )
    got_pixels, got_labels = [], []
    for batch in dataset:
        got_pixels.extend(np.frombuffer(p, np.uint8) for p in batch["pixels"].numpy())
        got_labels.append(batch["label"].numpy())
    np.testing.assert_array_equal(np.stack(got_pixels), pixels)
    np.testing.assert_array_equal(np.concatenate(got_labels), labels)
    # Several files read in parallel, as input pipelines do.
    tf.io.gfile.copy("igfs:///records/digits.tfrecord", "igfs:///records/copy.tfrecord")
    files = tf.data.Dataset.list_files("igfs:///records/*.tfrecord", shuffle=False)
    both = files.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=compression), cycle_length=2, num_parallel_calls=2
    )
    assert int(both.reduce(np.int64(0), lambda n, _: n + 1)) == 2 * len(records)


def test_partitioned_parquet_dataset_through_pyarrow(where):
    import pyarrow as pa
    import pyarrow.dataset as ds
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from ignite_fast.igfs_fsspec import IgfsFileSystem

    arrow_fs = PyFileSystem(FSSpecHandler(IgfsFileSystem(where["host"], where["port"], name=where["name"])))
    n = 30_000
    table = pa.table(
        {
            "id": pa.array(np.arange(n, dtype=np.int64)),
            "score": pa.array(np.linspace(0, 1, n)),
            "split": pa.array(np.array(["train", "test", "valid"])[np.arange(n) % 3]),
            "text": pa.array([f"row {i}" for i in range(n)]),
        }
    )
    ds.write_dataset(
        table,
        "/warehouse/scores",
        format="parquet",
        filesystem=arrow_fs,
        partitioning=ds.partitioning(pa.schema([("split", pa.string())]), flavor="hive"),
        max_rows_per_file=4000,
        max_rows_per_group=1000,
    )
    fs = where["fs"]
    assert sorted(fs.ls("/warehouse/scores")) == [f"/warehouse/scores/split={s}" for s in ("test", "train", "valid")]
    assert all(len(fs.ls(f"/warehouse/scores/split={s}")) == 3 for s in ("test", "train", "valid"))

    dataset = ds.dataset("/warehouse/scores", format="parquet", filesystem=arrow_fs, partitioning="hive")
    assert len(dataset.files) == 9
    back = dataset.to_table().sort_by("id")
    assert back.select(["id", "score", "text"]).equals(table.select(["id", "score", "text"]))
    assert back.column("split").to_pylist() == table.column("split").to_pylist()
    # Partition pruning and column selection read only what they need, and still agree.
    valid = dataset.to_table(filter=ds.field("split") == "valid", columns=["id"]).column("id").to_numpy()
    np.testing.assert_array_equal(np.sort(valid), np.arange(2, n, 3))


def test_pandas_parquet_with_an_igfs_url(where, tmp_path):
    import pandas as pd

    url = f"igfs://{where['host']}:{where['port']}"
    options = {"name": where["name"]}
    df = pd.DataFrame(
        {
            "a": np.arange(5000),
            "b": np.linspace(-1, 1, 5000),
            "c": ["x", "y", "z", "w", "v"] * 1000,
            "when": pd.date_range("2024-01-01", periods=5000, freq="min"),
        }
    )
    df.to_parquet(f"{url}/frames/df.parquet", storage_options=options)
    pd.testing.assert_frame_equal(pd.read_parquet(f"{url}/frames/df.parquet", storage_options=options), df)
    # The same file as pandas writes it to local disk.
    df.to_parquet(tmp_path / "df.parquet")
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "df.parquet"), pd.read_parquet(f"{url}/frames/df.parquet", storage_options=options)
    )
    # Partitioned: one directory per value of c.
    df.to_parquet(f"{url}/frames/by_c", partition_cols=["c"], storage_options=options)
    assert sorted(where["fs"].ls("/frames/by_c")) == [f"/frames/by_c/c={v}" for v in "vwxyz"]
    back = pd.read_parquet(f"{url}/frames/by_c", storage_options=options).sort_values("a").reset_index(drop=True)
    pd.testing.assert_frame_equal(back[["a", "b", "when"]], df[["a", "b", "when"]])
    assert back["c"].astype(str).tolist() == df["c"].tolist()
