"""IGFS through its other faces: fsspec (and pandas / pyarrow on top of it) and TensorFlow's
``tf.io.gfile`` via the Rust plugin: checkpoints restored in a new process, Keras models, SavedModels
and TensorBoard event files."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ignite_fast import igfs
from ignite_fast.igfs_fsspec import IgfsFileSystem
from node_fixtures import SESSION_PORT

URL = f"igfs://127.0.0.1:{SESSION_PORT}"


@pytest.fixture
def fs_name(monkeypatch, igfs_name) -> str:
    """A fresh file system; the TF plugin and fsspec find it through IGFS_FS_NAME. fsspec keeps one
    instance per set of arguments, whatever the environment says later: its instances go, or a
    URL would reach the file system of an earlier test (whose caches are gone)."""
    monkeypatch.setenv("IGFS_FS_NAME", igfs_name)
    IgfsFileSystem.clear_instance_cache()
    return igfs_name


@pytest.fixture
def fs(cluster, fs_name):
    return igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)


def test_fsspec_entry_point_and_files(fs):
    import fsspec

    from ignite_fast.igfs_fsspec import IgfsFileSystem

    assert fsspec.get_filesystem_class("igfs") is IgfsFileSystem
    with fsspec.open(f"{URL}/data/x.bin", "wb") as f:  # parents are created, as on object stores
        f.write(b"\x00\x01" * 1000)
    with fsspec.open(f"{URL}/data/x.bin", "rb") as f:
        f.seek(1)
        assert f.read(3) == b"\x01\x00\x01"
    ffs = fsspec.filesystem("igfs", host="127.0.0.1", port=SESSION_PORT)
    assert ffs.ls("/data", detail=False) == ["/data/x.bin"]
    assert ffs.info(f"{URL}/data/x.bin")["size"] == 2000
    assert ffs.isdir("/data")
    ffs.cp_file("/data/x.bin", "/data/y.bin")
    ffs.mv("/data/y.bin", "/data/z.bin")
    assert ffs.cat_file("/data/z.bin") == b"\x00\x01" * 1000
    assert sorted(ffs.glob("/data/*.bin")) == ["/data/x.bin", "/data/z.bin"]
    ffs.rm("/data", recursive=True)
    assert not ffs.exists("/data")
    assert fs.ls("/") == []


def test_pandas_and_pyarrow_read_and_write_igfs_paths(fs):
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from ignite_fast.igfs_fsspec import IgfsFileSystem

    df = pd.DataFrame({"a": np.arange(1000), "b": np.linspace(0, 1, 1000), "c": ["x", "y"] * 500})
    df.to_csv(f"{URL}/tables/df.csv", index=False)
    pd.testing.assert_frame_equal(pd.read_csv(f"{URL}/tables/df.csv"), df)
    df.to_parquet(f"{URL}/tables/df.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(f"{URL}/tables/df.parquet"), df)
    arrow_fs = PyFileSystem(FSSpecHandler(IgfsFileSystem("127.0.0.1", SESSION_PORT)))
    table = pa.table({"x": pa.array(np.arange(10_000, dtype=np.int64))})
    pq.write_table(table, "/tables/t.parquet", filesystem=arrow_fs)
    assert pq.read_table("/tables/t.parquet", filesystem=arrow_fs).equals(table)
    assert fs.stat("/tables/t.parquet").size > 0


def _quiet_env(fs_name: str) -> dict:
    return dict(os.environ, IGFS_PORT=str(SESSION_PORT), IGFS_FS_NAME=fs_name, TF_CPP_MIN_LOG_LEVEL="2")


def test_gfile_operations(fs, monkeypatch):
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()

    monkeypatch.setenv("IGFS_PORT", str(SESSION_PORT))
    g = tf.io.gfile
    assert "igfs" in g.get_registered_schemes()
    g.makedirs("igfs:///a/b")
    with g.GFile("igfs:///a/b/x.txt", "w") as f:
        f.write("hello")
    assert g.exists(f"{URL}/a/b/x.txt")
    assert g.isdir("igfs:///a/b")
    assert not g.isdir("igfs:///a/b/x.txt")
    assert g.listdir("igfs:///a") == ["b"]
    assert g.stat("igfs:///a/b/x.txt").length == 5
    assert g.glob("igfs:///a/b/*.txt") == ["igfs:///a/b/x.txt"]
    with g.GFile("igfs:///a/b/x.txt", "a") as f:
        f.write(" world")
    assert g.GFile("igfs:///a/b/x.txt").read() == "hello world"
    g.copy("igfs:///a/b/x.txt", "igfs:///a/copy.txt")
    g.rename("igfs:///a/copy.txt", "igfs:///a/b/x.txt", overwrite=True)
    with pytest.raises(tf.errors.NotFoundError):
        g.GFile("igfs:///nothing").read()
    with pytest.raises(tf.errors.FailedPreconditionError):
        g.remove("igfs:///a")
    # Python and TensorFlow see one file system.
    assert fs.read_bytes("/a/b/x.txt") == b"hello world"
    g.rmtree("igfs:///a")
    assert fs.ls("/") == []


def test_keras_checkpoint_restored_in_a_new_process(fs, fs_name, monkeypatch):
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()

    monkeypatch.setenv("IGFS_PORT", str(SESSION_PORT))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int32")
    model = tf.keras.Sequential(
        [tf.keras.Input((8,)), tf.keras.layers.Dense(16, activation="relu"), tf.keras.layers.Dense(2)]
    )
    model.compile("adam", tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=2, verbose=0)
    step = tf.Variable(42, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model, step=step), "igfs:///ckpt", max_to_keep=2)
    for _ in range(3):
        manager.save()
    assert len(manager.checkpoints) == 2
    model.save("igfs:///models/digits.keras")
    expected = model(x[:5]).numpy()
    script = textwrap.dedent("""
        import sys, numpy as np
        import tensorflow as tf
        from ignite_fast.tf import register_igfs_filesystem
        register_igfs_filesystem()
        x = np.load(sys.argv[1])
        model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(16, activation="relu"),
                                     tf.keras.layers.Dense(2)])
        step = tf.Variable(0, dtype=tf.int64)
        ckpt = tf.train.Checkpoint(model=model, step=step)
        ckpt.restore(tf.train.latest_checkpoint("igfs:///ckpt")).expect_partial()
        loaded = tf.keras.models.load_model("igfs:///models/digits.keras")
        np.save(sys.argv[2], np.stack([model(x).numpy(), loaded(x).numpy()]))
        print(int(step.numpy()))
    """)
    inputs, outputs = f"/tmp/igfs_x_{fs_name}.npy", f"/tmp/igfs_y_{fs_name}.npy"
    np.save(inputs, x[:5])
    done = subprocess.run(
        [sys.executable, "-c", script, inputs, outputs],
        env=_quiet_env(fs_name),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "42"
    restored = np.load(outputs)
    np.testing.assert_allclose(restored[0], expected, rtol=1e-6)
    np.testing.assert_allclose(restored[1], expected, rtol=1e-6)
    os.remove(inputs)
    os.remove(outputs)


def test_saved_model_and_tensorboard_events(fs, monkeypatch):
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()

    monkeypatch.setenv("IGFS_PORT", str(SESSION_PORT))

    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(3.0)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def __call__(self, x):
            return x * self.w

    tf.saved_model.save(Scale(), "igfs:///exported/scale")
    loaded = tf.saved_model.load("igfs:///exported/scale")
    assert loaded(tf.constant([1.0, 2.0])).numpy().tolist() == [3.0, 6.0]

    writer = tf.summary.create_file_writer("igfs:///logs/run1")
    with writer.as_default():
        for step in range(5):
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    writer.flush()
    events = tf.io.gfile.glob("igfs:///logs/run1/events.out.tfevents.*")
    assert len(events) == 1
    # Published at flush: readable while the writer is still open.
    scalars = {}
    for event in tf.compat.v1.train.summary_iterator(events[0]):
        for value in event.summary.value:
            scalars[event.step] = float(tf.make_ndarray(value.tensor))
    assert scalars == {s: pytest.approx(1.0 / (s + 1)) for s in range(5)}
    writer.close()
