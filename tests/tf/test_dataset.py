"""The drop-in IgniteDataset on today's TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from ignite_fast import IgniteDataset
from node_fixtures import SESSION_PORT as PORT


@pytest.fixture(scope="module")
def kittens(pyignite_client):
    """The seed example, verbatim."""
    pyignite_client.sql("DROP TABLE IF EXISTS KITTEN_CACHE")
    pyignite_client.sql("CREATE TABLE KITTEN_CACHE (ID LONG PRIMARY KEY, NAME VARCHAR)")
    pyignite_client.sql("INSERT INTO KITTEN_CACHE (ID, NAME) VALUES (1, 'WARM KITTY')")
    pyignite_client.sql("INSERT INTO KITTEN_CACHE (ID, NAME) VALUES (2, 'SOFT KITTY')")
    pyignite_client.sql("INSERT INTO KITTEN_CACHE (ID, NAME) VALUES (3, 'LITTLE BALL OF FUR')")
    return "SQL_PUBLIC_KITTEN_CACHE"


EXPECTED = [
    {"key": 1, "val": {"NAME": b"WARM KITTY"}},
    {"key": 2, "val": {"NAME": b"SOFT KITTY"}},
    {"key": 3, "val": {"NAME": b"LITTLE BALL OF FUR"}},
]


def _sorted(elements):
    return sorted(elements, key=lambda e: int(e["key"]))


def test_seed_example(kittens):
    dataset = IgniteDataset(cache_name=kittens, port=PORT)
    assert isinstance(dataset, tf.data.Dataset)
    assert dataset.element_spec == {"key": tf.TensorSpec([], tf.int64), "val": {"NAME": tf.TensorSpec([], tf.string)}}
    assert _sorted(dataset.as_numpy_iterator()) == EXPECTED
    # Eager iteration gives tensors.
    element = next(iter(dataset))
    assert isinstance(element["key"], tf.Tensor)
    assert element["val"]["NAME"].dtype == tf.string


def test_inside_tf_function(kittens):
    dataset = IgniteDataset(kittens, port=PORT)

    @tf.function
    def key_sum(ds):
        total = tf.constant(0, tf.int64)
        for element in ds:
            total += element["key"]
        return total

    assert int(key_sum(dataset)) == 6


def test_map_interleave_prefetch(kittens):
    dataset = (
        tf.data.Dataset.range(3)
        .interleave(
            lambda i: IgniteDataset(kittens, port=PORT).map(lambda e: e["key"] + 10 * i),
            cycle_length=3,
            num_parallel_calls=3,
        )
        .prefetch(2)
    )
    assert sorted(dataset.as_numpy_iterator()) == [1, 2, 3, 11, 12, 13, 21, 22, 23]


def test_batched_fast_path_matches_elements(pyignite_client, cache_name):
    from collections import OrderedDict

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import ByteArrayObject, IntObject

    class Digit(
        metaclass=GenericObjectMeta,
        type_name="TfDigit",
        schema=OrderedDict([("pixels", ByteArrayObject), ("label", IntObject)]),
    ):
        pass

    pyignite_client.get_or_create_cache(cache_name).put_all(
        {i: Digit(pixels=bytes([i % 256]) * 64, label=i % 10) for i in range(300)}
    )
    batched = IgniteDataset(cache_name, port=PORT, batch_size=128)
    assert batched.element_spec["val"]["pixels"] == tf.TensorSpec([None, 64], tf.uint8)
    sizes = [int(tf.shape(b["key"])[0]) for b in batched]
    assert sorted(sizes) == [44, 128, 128]
    elements = IgniteDataset(cache_name, port=PORT, page_size=50)
    assert elements.element_spec["val"]["pixels"].shape.as_list() == [None]
    from_elements = {
        int(e["key"]): (e["val"]["pixels"].tolist(), int(e["val"]["label"])) for e in elements.as_numpy_iterator()
    }
    from_batches = {}
    for b in batched.as_numpy_iterator():
        for k, pixels, label in zip(b["key"], b["val"]["pixels"], b["val"]["label"]):
            from_batches[int(k)] = (pixels.tolist(), int(label))
    assert from_elements == from_batches
    assert from_elements[7] == ([7] * 64, 7)


def test_ragged_arrays(pyignite_client, cache_name):
    from collections import OrderedDict

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import IntArrayObject

    class Seq(metaclass=GenericObjectMeta, type_name="TfSeq", schema=OrderedDict([("arr", IntArrayObject)])):
        pass

    pyignite_client.get_or_create_cache(cache_name).put_all({i: Seq(arr=list(range(i))) for i in range(5)})
    elements = {
        int(e["key"]): e["val"]["arr"].tolist() for e in IgniteDataset(cache_name, port=PORT).as_numpy_iterator()
    }
    assert elements == {i: list(range(i)) for i in range(5)}
    [batch] = list(IgniteDataset(cache_name, port=PORT, batch_size=10, ragged=True))
    assert isinstance(batch["val"]["arr"], tf.RaggedTensor)
    order = np.argsort(batch["key"].numpy())
    assert [batch["val"]["arr"][int(i)].numpy().tolist() for i in order] == [list(range(i)) for i in range(5)]


def test_passes_share_the_dataset_client(pyignite_client, cache_name):
    """Every pass after the first reuses the dataset's client and its open connections (a new
    client per pass paid a handshake and a probe of the cache each time)."""
    pyignite_client.get_or_create_cache(cache_name).put_all({i: i * 3 for i in range(5000)})
    ds = IgniteDataset(cache_name, port=PORT, batch_size=700)
    first_pass = sorted(k for batch in ds for k in batch["key"].numpy().tolist())
    client = ds._client
    idle = client._native.idle_connections
    assert idle >= 1
    for _ in range(3):
        assert sorted(k for batch in ds for k in batch["key"].numpy().tolist()) == first_pass == list(range(5000))
    assert ds._client is client
    assert client._native.idle_connections == idle


def test_empty_cache_yields_nothing(pyignite_client, cache_name):
    pyignite_client.get_or_create_cache(cache_name)
    assert list(IgniteDataset(cache_name, port=PORT)) == []


def test_environment_overrides(kittens, monkeypatch):
    monkeypatch.setenv("IGNITE_DATASET_CACHE_NAME", kittens)
    monkeypatch.setenv("IGNITE_DATASET_HOST", "127.0.0.1")
    monkeypatch.setenv("IGNITE_DATASET_PORT", str(PORT))
    monkeypatch.setenv("IGNITE_DATASET_PAGE_SIZE", "1")
    monkeypatch.setenv("IGNITE_DATASET_LOCAL", "false")
    dataset = IgniteDataset("ignored", host="ignored.invalid", port=1)
    assert _sorted(dataset.as_numpy_iterator()) == EXPECTED


def test_bad_environment_value_is_clear(kittens, monkeypatch):
    import ignite_fast

    monkeypatch.setenv("IGNITE_DATASET_PORT", "ten")
    with pytest.raises(ignite_fast.InvalidArgumentError, match="IGNITE_DATASET_PORT"):
        IgniteDataset(kittens)


def test_tls_arguments_are_used_not_ignored(kittens):
    import ignite_fast

    with pytest.raises(ignite_fast.TlsError, match=r"client\.pem"):
        IgniteDataset(kittens, port=PORT, certfile="client.pem")


def test_missing_cache(cluster):
    import ignite_fast

    with pytest.raises(ignite_fast.CacheNotFoundError):
        IgniteDataset("no_such_cache", port=PORT)
