"""Scans: pages, partitions, cursor hygiene, errors, and the zero-copy hand-over to numpy."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import ignite_fast
from ignite_fast import _native


@pytest.fixture
def filled(pyignite_client, cache_name):
    pyignite_client.get_or_create_cache(cache_name).put_all({i: i * 3 for i in range(1000)})
    return cache_name


def _keys(batches) -> list[int]:
    return sorted(k for b in batches for k in b["key"].tolist())


def test_many_pages_and_batches(client, filled):
    batches = list(client.scan(filled, batch_size=50, page_size=7))
    assert all(len(b["key"]) <= 50 for b in batches)
    assert sum(len(b["key"]) for b in batches) == 1000
    assert _keys(batches) == list(range(1000))
    for b in batches:
        assert (b["val"] == b["key"] * 3).all()


def test_batch_larger_than_page_and_page_larger_than_batch(client, filled):
    assert _keys(client.scan(filled, batch_size=333, page_size=10)) == list(range(1000))
    assert _keys(client.scan(filled, batch_size=10, page_size=333)) == list(range(1000))


def test_one_partition_and_the_union_of_all_partitions(client, filled):
    per_part = {}
    for part in range(1024):  # the default partition count of a cache
        keys = _keys(client.scan(filled, part=part, batch_size=1000))
        if keys:
            per_part[part] = keys
    union = sorted(k for keys in per_part.values() for k in keys)
    assert union == list(range(1000)), "every entry in exactly one partition"
    assert len(per_part) > 100
    some_part, its_keys = next(iter(per_part.items()))
    assert _keys(client.scan(filled, part=some_part)) == its_keys


def test_partition_out_of_range_is_refused_before_the_scan(client, filled):
    with pytest.raises(ignite_fast.InvalidArgumentError, match=r"part=5000 is out of range.*1024 partitions"):
        next(client.scan(filled, part=5000))
    assert len(list(client.scan(filled, part=1023))) <= 1


def test_abandoned_iterators_close_their_cursors(cluster, filled):
    """The server allows 128 open cursors per connection; thousands of abandoned scans in a row
    on one pooled connection only work if each closes its cursor."""
    client = ignite_fast.Client(cluster.addresses[0])
    for _ in range(1500):
        it = client.scan(filled, batch_size=1, page_size=1)
        next(it)
        del it
    # The same at the native level, without the generator's finally.
    for _ in range(1500):
        scan = client._native.scan(filled, page_size=1)
        assert scan.next_batch(1)[0] == 1
        del scan
    gc.collect()
    assert client._native.idle_connections <= 2, "connections are reused, not leaked"
    assert _keys(client.scan(filled)) == list(range(1000))


def test_generator_close_closes_the_cursor(client, filled):
    it = client.scan(filled, batch_size=10, page_size=10)
    next(it)
    it.close()
    assert _keys(client.scan(filled)) == list(range(1000))


def test_missing_cache_raises_cache_not_found(client):
    with pytest.raises(ignite_fast.CacheNotFoundError, match="'no_such_cache' does not exist"):
        next(client.scan("no_such_cache"))
    assert issubclass(ignite_fast.CacheNotFoundError, ignite_fast.IgniteError)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(batch_size=0), "batch_size"),
        (dict(page_size=-1), "page_size"),
        (dict(part=-2), "part"),
        (dict(batch_size=1.5), "batch_size"),
    ],
)
def test_bad_arguments_fail_before_sending(client, filled, kwargs, message):
    with pytest.raises(ignite_fast.InvalidArgumentError, match=message):
        next(client.scan(filled, **kwargs))


def test_empty_cache_yields_nothing(client, pyignite_client, cache_name):
    pyignite_client.get_or_create_cache(cache_name)
    assert list(client.scan(cache_name)) == []
    assert client.schema(cache_name) == {}


def test_cache_names_and_schema(client, filled):
    assert filled in client.cache_names()
    assert client.schema(filled) == {"key": "long", "val": "long"}


def test_two_value_types_in_one_column_is_a_schema_error(pyignite_client, client, cache_name):
    from pyignite.datatypes import String

    cache = pyignite_client.get_or_create_cache(cache_name)
    cache.put(1, 10)
    cache.put(2, "ten", value_hint=String)
    with pytest.raises(ignite_fast.SchemaError, match="both"):
        list(client.scan(cache_name, batch_size=10))


def test_address_list_falls_through_to_a_live_node(cluster):
    client = ignite_fast.Client(["127.0.0.1:1", cluster.addresses[0]])
    assert isinstance(client.cache_names(), list)


def _owner(array: np.ndarray):
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    return base


def test_columns_are_zero_copy_and_64_byte_aligned(pyignite_client, client, cache_name):
    from collections import OrderedDict

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import ByteArrayObject, IntArrayObject, IntObject, String

    class Sample(
        metaclass=GenericObjectMeta,
        type_name="ZeroCopySample",
        schema=OrderedDict(
            [("pixels", ByteArrayObject), ("label", IntObject), ("name", String), ("ragged", IntArrayObject)]
        ),
    ):
        pass

    pyignite_client.get_or_create_cache(cache_name).put_all(
        {i: Sample(pixels=bytes(784), label=i, name="n" * i, ragged=list(range(i))) for i in range(100)}
    )
    batch = next(client.scan(cache_name, batch_size=100))
    val = batch["val"]
    arrays = [batch["key"], val["pixels"], val["label"], val["name"], val["ragged"].values, val["ragged"].offsets]
    for a in arrays:
        assert isinstance(_owner(a), _native.ColumnBuffer), a
        assert a.ctypes.data % 64 == 0, a
    assert val["pixels"].shape == (100, 784)
    assert val["pixels"].flags.c_contiguous


def test_one_megabyte_values(pyignite_client, client, cache_name):
    from pyignite.datatypes import ByteArrayObject

    cache = pyignite_client.get_or_create_cache(cache_name)
    blobs = {i: bytes([i]) * (1 << 20) for i in range(8)}
    for k, v in blobs.items():
        cache.put(k, v, value_hint=ByteArrayObject)
    batches = list(client.scan(cache_name, batch_size=3, page_size=2))
    vals = {int(k): bytes(v) for b in batches for k, v in zip(b["key"], b["val"])}
    assert vals == blobs
    assert batches[0]["val"].shape == (3, 1 << 20)


def test_raw_pages_count_every_entry(client, filled):
    pages = list(client.raw_pages(filled, page_size=64))
    assert sum(entries for entries, _ in pages) == 1000
    assert all(nbytes > 0 for _, nbytes in pages)


@pytest.fixture
def people(pyignite_client, cache_name):
    from collections import OrderedDict

    from pyignite import GenericObjectMeta
    from pyignite.datatypes import IntObject, String
    from pyignite.datatypes.complex import BinaryObject

    class Address(
        metaclass=GenericObjectMeta, type_name="SelAddress", schema=OrderedDict([("city", String), ("zip", IntObject)])
    ):
        pass

    class Person(
        metaclass=GenericObjectMeta,
        type_name="SelPerson",
        schema=OrderedDict([("name", String), ("age", IntObject), ("address", BinaryObject)]),
    ):
        pass

    class Pet(metaclass=GenericObjectMeta, type_name="SelPet", schema=OrderedDict([("species", String)])):
        pass

    cache = pyignite_client.get_or_create_cache(cache_name)
    cache.put_all({i: Person(name=f"p{i}", age=20 + i, address=Address(city=f"c{i}", zip=1000 + i)) for i in range(10)})
    cache.put_all({100 + i: Pet(species="cat") for i in range(3)})
    return cache_name


def test_columns_select_fields_and_nested_fields(client, people):
    batch = next(client.scan(people, value_type="SelPerson", columns=["age", "address.zip"]))
    assert set(batch["val"]) == {"age", "address"}
    assert set(batch["val"]["address"]) == {"zip"}
    order = np.argsort(batch["key"])
    assert batch["val"]["age"][order].tolist() == [20 + i for i in range(10)]
    assert batch["val"]["address"]["zip"][order].tolist() == [1000 + i for i in range(10)]


def test_unknown_column_names_the_fields_that_exist(client, people):
    with pytest.raises(ignite_fast.InvalidArgumentError, match=r"no field 'height'.*address, age, name"):
        next(client.scan(people, value_type="SelPerson", columns=["height"]))


def test_mixed_value_types_need_a_choice(client, people):
    with pytest.raises(ignite_fast.SchemaError, match=r"SelPerson and SelPet|SelPet and SelPerson"):
        list(client.scan(people, batch_size=100))
    pets = next(client.scan(people, value_type="SelPet", batch_size=100))
    assert sorted(pets["key"].tolist()) == [100, 101, 102]
    assert pets["val"]["species"].tolist() == [b"cat"] * 3


def test_schema_of_an_empty_cache_from_metadata(client, people, pyignite_client, cache_name):
    empty = cache_name + "_empty"
    pyignite_client.get_or_create_cache(empty)
    assert client.schema(empty) == {}
    assert client.schema(empty, value_type="SelPerson") == {
        "key": "unknown",
        "val": {"address": "object", "age": "int", "name": "string"},
    }
    assert client.schema(people, value_type="SelPerson")["val"]["address"] == {"city": "string", "zip": "int"}


def test_union_of_value_types(client, people):
    batch = next(client.scan(people, value_type="*", batch_size=100))
    val = batch["val"]
    assert set(val) == {"name", "age", "address", "species", "_type"}
    kinds = dict(zip(batch["key"].tolist(), [t.decode() for t in val["_type"]]))
    assert {kinds[k] for k in range(10)} == {"SelPerson"}
    assert {kinds[k] for k in (100, 101, 102)} == {"SelPet"}
    species = dict(zip(batch["key"].tolist(), np.ma.getmaskarray(val["species"]).tolist()))
    assert all(species[k] for k in range(10))
    assert not any(species[k] for k in (100, 101, 102))


def test_batches_are_sized_in_bytes_by_default(pyignite_client, client, cache_name):
    """Without batch_size, a 1 MB-value cache and a tiny-value cache both get batches of about
    16 MB: few rows of the one, many of the other."""
    from pyignite.datatypes import ByteArrayObject

    big = pyignite_client.get_or_create_cache(cache_name + "_big")
    for i in range(40):
        big.put(i, bytes(1 << 20), value_hint=ByteArrayObject)
    small = pyignite_client.get_or_create_cache(cache_name + "_small")
    small.put_all({i: i for i in range(20_000)})
    big_rows = [len(b["key"]) for b in client.scan(cache_name + "_big")]
    small_rows = [len(b["key"]) for b in client.scan(cache_name + "_small")]
    assert sum(big_rows) == 40
    assert 8 <= max(big_rows) <= 20
    assert sum(small_rows) == 20_000
    assert max(small_rows) == 20_000
