"""The TensorFlow mapping of every binary type: the Java-written cache of every type
(tests/java/AllTypesFixture.java) through IgniteDataset, null masks, and the seed's structured
IMAGES example (a string key, a nested object and int[] pixels)."""

from __future__ import annotations

from collections import OrderedDict

from pyignite import GenericObjectMeta
from pyignite.datatypes import IntArrayObject, IntObject, String
from pyignite.datatypes.complex import BinaryObject

from node_fixtures import JAVA_ROWS as ROWS
from node_fixtures import SESSION_PORT


def test_every_type_through_the_tf_adaptor(java_all_types):
    """The documented TensorFlow mapping: UUID as canonical text, Date/Time as int64 ms,
    Timestamp as int64 ns (unit in the spec name), Decimal as float64, Enum as int32 ordinal,
    lists and maps as ragged tensors, lists of objects as one ragged tensor per field."""
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    cache, expected = java_all_types
    batched = IgniteDataset(cache, port=SESSION_PORT, batch_size=ROWS)
    spec = batched.element_spec["val"]
    assert spec["uuid"] == tf.TensorSpec([None], tf.string, name="uuid")
    assert spec["ts"] == tf.TensorSpec([None], tf.int64, name="timestamp_ns")
    assert spec["date"].dtype == tf.int64
    assert spec["date"].name == "date_ms"
    assert spec["dec"].dtype == tf.float64
    assert spec["color"].dtype == tf.int32
    assert isinstance(spec["strs"], tf.RaggedTensorSpec)
    assert spec["strs"].dtype == tf.string
    assert set(spec["objs"]) == {"label", "x"}
    assert isinstance(spec["objs"]["x"], tf.RaggedTensorSpec)
    assert set(spec["map"]) == {"key", "value"}
    [batch] = list(batched)
    keys = batch["key"].numpy().tolist()
    val = batch["val"]
    for r, k in enumerate(keys):
        e = expected[k]
        assert val["uuid"][r].numpy().decode() == e["uuid"]
        assert int(val["ts"][r]) == e["ts"][0] * 1_000_000 + e["ts"][1]
        assert int(val["date"][r]) == e["date"]
        assert int(val["time"][r]) == e["time"]
        assert val["ints"][r].numpy().tolist() == e["ints"]
        assert val["objs"]["x"][r].numpy().tolist() == [o["x"] for o in e["objs"]]
        assert [s.decode() for s in val["map"]["key"][r].numpy()] == list(e["map"])
        assert val["map"]["value"][r].numpy().tolist() == list(e["map"].values())
        assert val["inner"]["label"][r].numpy().decode() == e["inner"]["label"]
    # The same, element by element (the drop-in form).
    elements = {int(el["key"]): el for el in IgniteDataset(cache, port=SESSION_PORT).as_numpy_iterator()}
    assert sorted(elements) == list(range(ROWS))
    assert elements[5]["val"]["strs"].tolist() == [b"a5", b"", "ü".encode()]
    assert elements[5]["val"]["uuid"].decode() == expected[5]["uuid"]


def test_tf_null_masks(java_all_types):
    """Nulls become defaults in TensorFlow, with a mask beside them when asked for."""
    from ignite_fast import IgniteDataset

    cache, expected = java_all_types
    [batch] = list(IgniteDataset(cache, port=SESSION_PORT, batch_size=ROWS, with_masks=True))
    keys = batch["key"].numpy().tolist()
    mask = batch["mask"]["val"]
    assert mask["maybeInt"].numpy().tolist() == [expected[k]["maybeInt"] is not None for k in keys]
    assert batch["val"]["maybeInt"].numpy().tolist() == [expected[k]["maybeInt"] or 0 for k in keys]
    assert mask["maybeInner"]["x"].numpy().tolist() == [expected[k]["maybeInner"] is not None for k in keys]
    assert mask["nullStr"].numpy().tolist() == [False] * ROWS
    assert mask["i"].numpy().all()
    assert mask["strs"].numpy().all()
    element = next(iter(IgniteDataset(cache, port=SESSION_PORT, with_masks=True)))
    assert element["mask"]["val"]["i"].dtype.name == "bool"


def test_images_example(pyignite_client):
    """The seed's printed element: a string key, a nested metadata object and int[] pixels."""
    from ignite_fast import IgniteDataset

    class ImageMetadata(
        metaclass=GenericObjectMeta,
        type_name="ImageMetadata",
        schema=OrderedDict([("file_name", String), ("label", String), ("width", IntObject), ("height", IntObject)]),
    ):
        pass

    class Image(
        metaclass=GenericObjectMeta,
        type_name="Image",
        schema=OrderedDict([("metadata", BinaryObject), ("pixels", IntArrayObject)]),
    ):
        pass

    cache = pyignite_client.get_or_create_cache("IMAGES")
    cache.clear()
    cache.put(
        "kitten.png",
        Image(
            metadata=ImageMetadata(file_name="kitten.png", label="little ball of fur", width=800, height=600),
            pixels=[0] * 64,
        ),
        key_hint=String,
    )
    [element] = list(IgniteDataset(cache_name="IMAGES", port=SESSION_PORT).as_numpy_iterator())
    assert element["key"] == b"kitten.png"
    assert element["val"]["metadata"] == {
        "file_name": b"kitten.png",
        "height": 600,
        "label": b"little ball of fur",
        "width": 800,
    }
    assert element["val"]["pixels"].tolist() == [0] * 64
    assert list(element["val"]) == ["metadata", "pixels"]
