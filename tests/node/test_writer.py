"""The bulk writer: numpy columns in, binary objects out, read back by ignite_fast and by
pyignite (an independent reader of our bytes and of the type we registered)."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast


def test_objects_round_trip_and_pyignite_reads_them(client, pyignite_client, cache_name):
    n = 5000
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    val = {
        "label": (np.arange(n) % 10).astype(np.int32),
        "pixels": pixels,
        "score": rng.random(n),
        "name": np.array([f"Kätzchen-{i}" for i in range(n)]),
        "flag": np.arange(n) % 3 == 0,
        "small": np.arange(n, dtype=np.int16),
    }
    assert (
        client.put_batches(cache_name, {"key": np.arange(n, dtype=np.int64), "val": val}, type_name="WrittenDigit") == n
    )
    batches = list(client.scan(cache_name, batch_size=2048))
    keys = np.concatenate([b["key"] for b in batches])
    order = np.argsort(keys)
    assert keys[order].tolist() == list(range(n))
    got = {name: np.concatenate([b["val"][name] for b in batches])[order] for name in val}
    assert (got["pixels"] == pixels).all()
    assert (got["label"] == val["label"]).all()
    assert (got["score"] == val["score"]).all()
    assert (got["flag"] == val["flag"]).all()
    assert (got["small"] == val["small"]).all()
    assert [s.decode() for s in got["name"][:3]] == ["Kätzchen-0", "Kätzchen-1", "Kätzchen-2"]
    # pyignite decodes our objects through the metadata we registered.
    obj = pyignite_client.get_cache(cache_name).get(7)
    assert type(obj).__name__ == "WrittenDigit"
    assert (obj.label, obj.name, obj.small) == (7, "Kätzchen-7", 7)
    assert bytes(obj.pixels) == pixels[7].tobytes()


def test_plain_values_and_string_keys(client, cache_name):
    blobs = np.stack([np.full(1 << 20, i, np.uint8) for i in range(6)])
    keys = np.array([f"blob-{i}" for i in range(6)])
    assert client.put_batches(cache_name, {"key": keys, "val": blobs}) == 6
    got = {k.decode(): v for b in client.scan(cache_name, batch_size=4) for k, v in zip(b["key"], b["val"])}
    assert sorted(got) == [f"blob-{i}" for i in range(6)]
    assert all((got[f"blob-{i}"] == i).all() for i in range(6))


def test_a_type_keeps_its_field_types(client, cache_name):
    client.put_batches(
        cache_name, {"key": np.arange(2), "val": {"x": np.arange(2, dtype=np.int32)}}, type_name="Stable"
    )
    with pytest.raises(ignite_fast.IgniteError, match=r"(?i)type"):
        client.put_batches(cache_name, {"key": np.arange(2), "val": {"x": np.array(["a", "b"])}}, type_name="Stable")


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"key": np.arange(3), "val": np.arange(2)}, "rows"),
        ({"key": np.arange(2), "val": np.array([1j, 2j])}, "dtype"),
        ({"key": np.arange(2), "val": {}}, "field"),
        ({"key": np.arange(1), "val": np.array([b"\xff\xfe"])}, "UTF-8"),
        ({"keys": np.arange(1)}, "batch"),
    ],
)
def test_bad_batches_are_refused_before_writing(client, cache_name, batch, message):
    with pytest.raises(ignite_fast.InvalidArgumentError, match=message):
        client.put_batches(cache_name, batch)
