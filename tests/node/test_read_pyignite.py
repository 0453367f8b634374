"""Objects written by pyignite 0.6.1, an independent implementation of the binary format, read
back field by field: primitives, strings (non-ASCII too), arrays, nested objects, nulls, with
compact and full footers and small, medium and large objects (1-, 2- and 4-byte field offsets)."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
from pyignite import GenericObjectMeta
from pyignite.datatypes import (
    BinaryObject,
    BoolObject,
    ByteArrayObject,
    ByteObject,
    CharObject,
    DoubleArrayObject,
    DoubleObject,
    FloatObject,
    IntArrayObject,
    IntObject,
    LongObject,
    ShortObject,
    String,
)

import ignite_fast

ROWS = 40


def _types(suffix: str):
    class Inner(
        metaclass=GenericObjectMeta,
        type_name=f"Inner{suffix}",
        schema=OrderedDict([("x", IntObject), ("label", String)]),
    ):
        pass

    class Record(
        metaclass=GenericObjectMeta,
        type_name=f"Record{suffix}",
        schema=OrderedDict(
            [
                ("i8", ByteObject),
                ("i16", ShortObject),
                ("i32", IntObject),
                ("i64", LongObject),
                ("f32", FloatObject),
                ("f64", DoubleObject),
                ("ch", CharObject),
                ("flag", BoolObject),
                ("name", String),
                ("blob", ByteArrayObject),
                ("ints", IntArrayObject),
                ("doubles", DoubleArrayObject),
                ("inner", BinaryObject),
                ("maybe", String),
            ]
        ),
    ):
        pass

    return Inner, Record


def _expected(i: int) -> dict:
    # Sizes vary so that objects need 1-, 2- and 4-byte footer offsets.
    blob_len = [3, 300, 70_000][i % 3]
    return {
        "i8": (i * 37) % 256 - 128,
        "i16": -i * 800,
        "i32": i * 100_000 - 7,
        "i64": -(2**40) + i,
        "f32": i / 4.0,
        "f64": i * 1.5e-3,
        "ch": "Жabc"[i % 4],
        "flag": i % 2 == 0,
        "name": f"Kätzchen №{i} 🐈",
        "blob": bytes((i + j) % 256 for j in range(blob_len)),
        "ints": list(range(i % 5)),
        "doubles": [i * 0.5] * 3,
        "inner": (i, f"inner-{i}"),
        "maybe": None if i % 3 == 0 else f"m{i}",
    }


def _put(writer, cache_name: str, suffix: str) -> None:
    Inner, Record = _types(suffix)
    cache = writer.get_or_create_cache(cache_name)
    entries = {}
    for i in range(ROWS):
        e = _expected(i)
        fields = {k: v for k, v in e.items() if k != "inner"}
        entries[i] = Record(inner=Inner(x=e["inner"][0], label=e["inner"][1]), **fields)
    cache.put_all(entries)


def _read_all(cache_name: str, address: str, batch_size: int = 16) -> dict:
    client = ignite_fast.Client(address)
    rows: dict[int, dict] = {}
    for batch in client.scan(cache_name, batch_size=batch_size, page_size=7):
        val = batch["val"]
        for r, key in enumerate(batch["key"].tolist()):
            rows[key] = {
                "i8": int(val["i8"][r]),
                "i16": int(val["i16"][r]),
                "i32": int(val["i32"][r]),
                "i64": int(val["i64"][r]),
                "f32": float(val["f32"][r]),
                "f64": float(val["f64"][r]),
                "ch": chr(val["ch"][r]),
                "flag": bool(val["flag"][r]),
                "name": val["name"][r].decode("utf-8"),
                "blob": bytes(val["blob"][r]),
                "ints": val["ints"][r].tolist(),
                "doubles": val["doubles"][r].tolist(),
                "inner": (int(val["inner"]["x"][r]), val["inner"]["label"][r].decode("utf-8")),
                "maybe": None if np.ma.is_masked(val["maybe"][r]) else val["maybe"][r].decode("utf-8"),
            }
    return rows


@pytest.mark.parametrize("footer", ["compact", "full"])
def test_pyignite_objects_read_back_field_by_field(request, cache_name, address, footer):
    writer = request.getfixturevalue("pyignite_client" if footer == "compact" else "pyignite_full_footer")
    _put(writer, cache_name, suffix=footer.capitalize())
    rows = _read_all(cache_name, address)
    assert sorted(rows) == list(range(ROWS))
    for i in range(ROWS):
        expected = _expected(i)
        expected["i8"] &= 0xFF  # Java bytes are read as uint8, like the original IgniteDataset
        expected["f32"] = float(np.float32(expected["f32"]))
        assert rows[i] == expected, f"row {i}"


def test_dtypes_follow_the_java_types(pyignite_client, cache_name, address):
    _put(pyignite_client, cache_name, suffix="Compact")
    batch = next(ignite_fast.Client(address).scan(cache_name, batch_size=ROWS))
    val = batch["val"]
    dtypes = {k: v.dtype for k, v in val.items() if not isinstance(v, dict)}
    assert batch["key"].dtype == np.int64
    assert dtypes == {
        "i8": np.uint8,
        "i16": np.int16,
        "i32": np.int32,
        "i64": np.int64,
        "f32": np.float32,
        "f64": np.float64,
        "ch": np.uint16,
        "flag": np.bool_,
        "name": dtypes["name"],
        "blob": np.uint8,
        "ints": np.int32,
        "doubles": np.float64,
        "maybe": dtypes["maybe"],
    }
    assert dtypes["name"].kind == "S"
    assert dtypes["maybe"].kind == "S"
    # Fixed-length arrays are 2-D; varying ones are values + offsets.
    assert val["doubles"].shape == (ROWS, 3)
    assert isinstance(val["ints"], ignite_fast.Ragged)
    assert isinstance(val["blob"], ignite_fast.Ragged)
    # Nulls are masked, never made up.
    assert isinstance(val["maybe"], np.ma.MaskedArray)
    assert list(np.ma.getmaskarray(val["maybe"])) == [i % 3 == 0 for i in batch["key"]]


def test_both_footers_and_several_schemas_in_one_cache(pyignite_client, pyignite_full_footer, cache_name, address):
    """Objects of one type written with compact and full footers, and with fields left out,
    decode by footer and schema into one set of columns."""

    class Evolving(
        metaclass=GenericObjectMeta, type_name="Evolving", schema=OrderedDict([("a", IntObject), ("b", String)])
    ):
        pass

    class EvolvingV2(
        metaclass=GenericObjectMeta,
        type_name="Evolving",
        schema=OrderedDict([("b", String), ("c", DoubleObject), ("a", IntObject)]),
    ):
        pass

    pyignite_client.get_or_create_cache(cache_name).put_all({i: Evolving(a=i, b=f"b{i}") for i in range(10)})
    pyignite_full_footer.get_or_create_cache(cache_name).put_all(
        {i: EvolvingV2(a=i, b=f"b{i}", c=i / 2) for i in range(10, 20)}
    )
    batch = next(ignite_fast.Client(address).scan(cache_name, batch_size=100))
    order = np.argsort(batch["key"])
    val = {k: v[order] for k, v in batch["val"].items()}
    assert val["a"].tolist() == list(range(20))
    assert [s.decode() for s in val["b"]] == [f"b{i}" for i in range(20)]
    c = val["c"]
    assert np.ma.getmaskarray(c).tolist() == [True] * 10 + [False] * 10
    assert c.compressed().tolist() == [i / 2 for i in range(10, 20)]


def test_primitive_and_string_keys_and_values(pyignite_client, cache_name, address):
    from pyignite.datatypes import String as PyString

    cache = pyignite_client.get_or_create_cache(cache_name)
    for i in range(5):
        cache.put(f"ключ-{i}", i * 2.5, key_hint=PyString, value_hint=DoubleObject)
    batch = next(ignite_fast.Client(address).scan(cache_name))
    got = dict(zip([k.decode() for k in batch["key"]], batch["val"].tolist()))
    assert got == {f"ключ-{i}": i * 2.5 for i in range(5)}
