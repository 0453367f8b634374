"""TensorFlow from the installed package: IgniteDataset (element by element and whole batches) and
igfs:// in tf.io.gfile through the extension's own shared object."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import tensorflow as tf

import ignite_fast
from ignite_fast import IgniteDataset, _native
from ignite_fast.tf import igfs_plugin_path, register_igfs_filesystem

ROWS = 3000


@pytest.fixture
def table(port, cache):
    rng = np.random.default_rng(11)
    values = {"x": rng.random(ROWS), "label": rng.integers(0, 10, ROWS).astype(np.int64)}
    ignite_fast.Client("127.0.0.1", port).put_batches(cache, {"key": np.arange(ROWS, dtype=np.int64), "val": values})
    return cache, values


def test_ignite_dataset_elements(port, table):
    cache, values = table
    dataset = IgniteDataset(cache_name=cache, port=port)
    assert dataset.element_spec["val"]["x"] == tf.TensorSpec([], tf.float64)
    elements = sorted(dataset.as_numpy_iterator(), key=lambda e: int(e["key"]))
    assert [int(e["key"]) for e in elements] == list(range(ROWS))
    assert np.array_equal([e["val"]["label"] for e in elements], values["label"])


def test_ignite_dataset_batches_feed_a_model(port, table):
    cache, _values = table
    dataset = IgniteDataset(cache, port=port, batch_size=1024)
    keys = np.concatenate([b["key"] for b in dataset.as_numpy_iterator()])
    assert sorted(keys) == list(range(ROWS))
    features = dataset.map(lambda b: (tf.reshape(b["val"]["x"], [-1, 1]), b["val"]["label"]))
    # A known length (3 batches) and no shuffle asked: Keras has nothing to warn about.
    features = features.apply(tf.data.experimental.assert_cardinality(-(-ROWS // 1024)))
    model = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(10)])
    model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(features, epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][0])


def test_igfs_round_trip_through_tf_io_gfile(port):
    register_igfs_filesystem()
    assert igfs_plugin_path() == _native.__file__  # the extension is the plugin
    root = f"igfs://127.0.0.1:{port}/smoke-{uuid.uuid4().hex[:8]}"
    payload = bytes(range(256)) * 5000  # 1.28 MB: more than one 1 MiB block
    tf.io.gfile.makedirs(f"{root}/run")
    with tf.io.gfile.GFile(f"{root}/run/weights.bin", "wb") as f:
        f.write(payload)
    assert tf.io.gfile.exists(f"{root}/run/weights.bin")
    assert tf.io.gfile.stat(f"{root}/run/weights.bin").length == len(payload)
    assert tf.io.gfile.listdir(f"{root}/run") == ["weights.bin"]
    with tf.io.gfile.GFile(f"{root}/run/weights.bin", "rb") as f:
        assert f.read() == payload
    tf.io.gfile.rename(f"{root}/run/weights.bin", f"{root}/run/final.bin")
    assert tf.io.gfile.glob(f"{root}/run/*.bin") == [f"{root}/run/final.bin"]

    # TFRecords written and read back by TensorFlow's own ops.
    records = [f"record {i}".encode() for i in range(100)]
    with tf.io.TFRecordWriter(f"{root}/run/data.tfrecord") as writer:
        for record in records:
            writer.write(record)
    assert [r.numpy() for r in tf.data.TFRecordDataset(f"{root}/run/data.tfrecord")] == records

    tf.io.gfile.rmtree(root)
    assert not tf.io.gfile.exists(root)
