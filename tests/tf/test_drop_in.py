"""IgniteDataset behaves like tensorflow-io's where its own tests and users relied on it: the full
signature with schema_host/schema_port, connection arguments as tensors (inside interleave, flat_map
and tf.function), per-element arrays as plain [None] tensors, TF1 graph mode with a one-shot
iterator, and a TLS error that says what to add."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import ignite_fast
from ignite_fast import IgniteDataset
from node_fixtures import SESSION_PORT as PORT
from tls_fixtures import TLS_PORT


@pytest.fixture(scope="module")
def squares(cluster):
    """40 entries key -> key * key (long), written by our writer."""
    name = "tf_drop_in_squares"
    keys = np.arange(40, dtype=np.int64)
    ignite_fast.Client("127.0.0.1", PORT).put_batches(name, {"key": keys, "val": keys * keys})
    return name


@pytest.fixture(scope="module")
def digits(cluster):
    """30 objects with a 16-byte pixels array and a label."""
    name = "tf_drop_in_digits"
    keys = np.arange(30, dtype=np.int64)
    pixels = (keys[:, None] + np.arange(16)[None, :]).astype(np.uint8)
    ignite_fast.Client("127.0.0.1", PORT).put_batches(
        name, {"key": keys, "val": {"pixels": pixels, "label": (keys % 10).astype(np.int32)}}, type_name="DropInDigit"
    )
    return name


def test_the_original_positional_signature(squares):
    # tensorflow-io: (cache_name, host, port, schema_host, schema_port, local, part, page_size, username, ...)
    dataset = IgniteDataset(squares, "localhost", PORT, None, None, False, -1, 100, None, None, None, None, None)
    assert sorted(int(e["val"]) for e in dataset.as_numpy_iterator()) == [k * k for k in range(40)]


def test_interleave_with_the_host_as_a_tensor(squares):
    """The original's own test: hosts come as a dataset of strings, the schema from schema_host."""
    dataset = tf.data.Dataset.from_tensor_slices(["localhost", "127.0.0.1"]).interleave(
        lambda host: IgniteDataset(cache_name=squares, schema_host="localhost", schema_port=PORT, host=host, port=PORT),
        cycle_length=4,
        block_length=16,
    )
    keys = sorted(int(e["key"]) for e in dataset.as_numpy_iterator())
    assert keys == sorted(list(range(40)) * 2)


def test_port_part_and_page_size_as_tensors_in_flat_map_and_tf_function(squares):
    client = ignite_fast.Client("127.0.0.1", PORT)
    parts = sorted(
        {p for p in range(len(client.partition_map(squares))) if next(client.scan(squares, part=p), None) is not None}
    )[:3]

    def read(part):
        return IgniteDataset(
            squares,
            host="127.0.0.1",
            port=tf.constant(PORT),
            schema_host="127.0.0.1",
            schema_port=PORT,
            part=part,
            page_size=tf.constant(7),
        )

    by_partition = tf.data.Dataset.from_tensor_slices(tf.constant(parts, tf.int32)).flat_map(read)
    expected = sorted(int(k) for p in parts for b in client.scan(squares, part=p) for k in b["key"])
    assert sorted(int(e["key"]) for e in by_partition.as_numpy_iterator()) == expected

    @tf.function
    def total(dataset):
        return dataset.reduce(tf.constant(0, tf.int64), lambda acc, e: acc + e["val"])

    assert int(total(by_partition)) == sum(k * k for k in expected)


def test_arguments_known_only_when_run_need_a_schema_host(squares):
    def build(host):
        return IgniteDataset(squares, host=host, port=PORT)

    # inside interleave, TensorFlow's autograph re-raises it as its own StagingError
    with pytest.raises(Exception, match=r"InvalidArgumentError: host and port are tensors.*pass schema_host="):
        tf.data.Dataset.from_tensor_slices(["localhost"]).interleave(build)


def test_array_fields_are_plain_tensors_per_element_and_batch_dense(digits):
    dataset = IgniteDataset(digits, port=PORT)
    assert dataset.element_spec["val"]["pixels"] == tf.TensorSpec([None], tf.uint8)
    assert dataset.element_spec["val"]["label"] == tf.TensorSpec([], tf.int32)
    batch = next(iter(dataset.batch(8)))
    assert isinstance(batch["val"]["pixels"], tf.Tensor)
    assert batch["val"]["pixels"].shape == (8, 16)
    keys = batch["key"].numpy()
    assert (batch["val"]["pixels"].numpy() == (keys[:, None] + np.arange(16)).astype(np.uint8)).all()
    # The batched fast path is dense with the width known; ragged=True keeps RaggedTensor for who wants it.
    assert IgniteDataset(digits, port=PORT, batch_size=8).element_spec["val"]["pixels"] == tf.TensorSpec(
        [None, 16], tf.uint8
    )
    ragged = IgniteDataset(digits, port=PORT, ragged=True).element_spec["val"]["pixels"]
    assert isinstance(ragged, tf.RaggedTensorSpec)


def test_arrays_of_varying_length_per_element_and_batched_in_runs(pyignite_client, cache_name):
    from collections import OrderedDict

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import IntArrayObject

    class Varying(
        metaclass=GenericObjectMeta, type_name="DropInVarying", schema=OrderedDict([("arr", IntArrayObject)])
    ):
        pass

    # lengths 0,0,1,1,2,2,3,3: runs of two rows of one length, empty arrays among them
    pyignite_client.get_or_create_cache(cache_name).put_all({i: Varying(arr=list(range(i // 2))) for i in range(8)})
    dataset = IgniteDataset(cache_name, port=PORT)
    assert dataset.element_spec["val"]["arr"] == tf.TensorSpec([None], tf.int32)
    elements = {int(e["key"]): e["val"]["arr"].tolist() for e in dataset.as_numpy_iterator()}
    assert elements == {i: list(range(i // 2)) for i in range(8)}
    # Batching equal lengths gives dense tensors (what the original gave for arrays that agree).
    same_length = dataset.filter(lambda e: tf.size(e["val"]["arr"]) == 3).batch(2)
    [batch] = list(same_length)
    assert batch["val"]["arr"].shape == (2, 3)


def test_tf1_graph_mode_with_a_one_shot_iterator(squares):
    script = textwrap.dedent(f"""
        import tensorflow as tf
        tf.compat.v1.disable_eager_execution()
        from ignite_fast import IgniteDataset
        dataset = IgniteDataset(cache_name={squares!r}, port={PORT})
        element = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
        seen = []
        with tf.compat.v1.Session() as session:
            try:
                while True:
                    seen.append(int(session.run(element)["key"]))
            except tf.errors.OutOfRangeError:
                pass
        assert sorted(seen) == list(range(40)), seen
        print("graph mode ok")
    """)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "graph mode ok" in done.stdout, done.stderr[-3000:]


def test_tls_without_ca_file_says_what_to_add(pki, tls_node):
    """The original never verified the server; its users' TLS arguments (certfile, cert_password)
    against a cluster whose certificate no system root signed get an error naming the fix."""
    with pytest.raises(ignite_fast.TlsError) as caught:
        IgniteDataset(
            "anything",
            host="localhost",
            port=TLS_PORT,
            certfile=str(pki["client_cert"]),
            keyfile=str(pki["client_key"]),
        )
    message = str(caught.value)
    assert "ca_file=" in message
    assert "IGNITE_DATASET_CA_FILE" in message
    # ...and with it, the same arguments read.
    list(
        ignite_fast.Client("localhost", TLS_PORT, tls=ignite_fast.TlsOptions(ca_file=pki["ca"])).sql(
            "CREATE TABLE IF NOT EXISTS DROPINTLS (ID INT PRIMARY KEY, V INT)"
        )
    )
    dataset = IgniteDataset(
        "SQL_PUBLIC_DROPINTLS",
        host="localhost",
        port=TLS_PORT,
        ca_file=str(pki["ca"]),
        certfile=str(pki["client_cert"]),
        keyfile=str(pki["client_key"]),
    )
    assert list(dataset) == []
