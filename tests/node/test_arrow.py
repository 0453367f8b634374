"""Arrow and pandas output with native Arrow types, checked on the Java-written cache."""

from __future__ import annotations

import collections
import uuid
from decimal import Decimal, localcontext

import pyarrow as pa
import pytest
from pyignite import GenericObjectMeta
from pyignite.datatypes import DecimalObject

import ignite_fast


@pytest.fixture(scope="module")
def written(java_fixture):
    return "java_all_types_arrow", java_fixture("java_all_types_arrow", 9)


def test_record_batches_have_native_types(client, written):
    cache, expected = written
    table = client.to_arrow(cache, batch_size=4, page_size=3)
    assert table.num_rows == 9
    schema = table.schema
    assert schema.field("key").type == pa.int32()
    assert schema.field("b").type == pa.uint8()
    assert schema.field("c").type == pa.uint16()
    assert schema.field("str").type == pa.string()
    assert schema.field("uuid").type == pa.binary(16)
    assert schema.field("date").type == pa.timestamp("ms")
    assert schema.field("ts").type == pa.timestamp("ns")
    assert schema.field("time").type == pa.time32("ms")
    assert pa.types.is_decimal(schema.field("dec").type)
    assert schema.field("doubles").type == pa.list_(pa.float64(), 3)
    assert schema.field("ints").type == pa.large_list(pa.int32())
    assert schema.field("strs").type == pa.large_list(pa.string())
    assert pa.types.is_struct(schema.field("inner").type)
    assert pa.types.is_map(schema.field("map").type)
    rows = {r["key"]: r for r in table.to_pylist()}
    for k, e in expected.items():
        r = rows[k]
        assert r["str"] == e["str"]
        assert uuid.UUID(bytes=r["uuid"]) == uuid.UUID(e["uuid"])
        assert r["dec"] == Decimal(e["dec"])
        assert r["strs"] == e["strs"]
        assert r["list"] == e["list"]
        assert dict(r["map"]) == e["map"]
        assert r["inner"] == e["inner"]
        assert r["maybeInt"] == e["maybeInt"]
        assert r["objs"] == e["objs"]


def test_to_pandas(client, written):
    cache, expected = written
    frame = client.to_pandas(cache, columns=["i", "str", "ts"])
    assert list(frame.columns) == ["key", "i", "str", "ts"]
    assert sorted(frame["i"].tolist()) == sorted(e["i"] for e in expected.values())
    assert str(frame["ts"].dtype) == "datetime64[ns]"


def test_sql_as_arrow(client, pyignite_client):
    pyignite_client.sql("CREATE TABLE IF NOT EXISTS PRICES (ID INT PRIMARY KEY, P DECIMAL(10, 2))")
    pyignite_client.sql("DELETE FROM PRICES")  # then INSERT: MERGE ... VALUES is H2's alone
    pyignite_client.sql("INSERT INTO PRICES (ID, P) VALUES (1, 12.50), (2, NULL)")
    [batch] = list(client.sql("SELECT ID, P FROM PRICES ORDER BY ID", format="arrow"))
    assert batch.to_pylist() == [{"ID": 1, "P": Decimal("12.50")}, {"ID": 2, "P": None}]
    with pytest.raises(ignite_fast.InvalidArgumentError, match="format"):
        next(client.sql("SELECT 1", format="excel"))


class _Amount(
    metaclass=GenericObjectMeta,
    type_name="ArrowAmount",
    schema=collections.OrderedDict([("amount", DecimalObject)]),
):
    pass


def test_decimals_past_decimal128_widen_then_refuse(client, pyignite_client, cache_name):
    """Arrow's decimal128 holds 38 digits: wider exact decimals are decimal256 (76 digits), and past
    that a SchemaError that says what to do, not pyarrow's ArrowInvalid."""
    cache = pyignite_client.get_or_create_cache(cache_name)
    digits = "1234567891" * 5  # no trailing zero: pyignite would strip it
    wide = Decimal(f"{digits[:-2]}.{digits[-2:]}")  # 50 digits, scale 2
    with localcontext() as context:
        context.prec = 100  # pyignite normalizes a decimal in the context's precision
        cache.put_all({1: _Amount(amount=wide), 2: _Amount(amount=Decimal("0.5"))})
    table = client.to_arrow(cache_name)
    assert table.schema.field("amount").type == pa.decimal256(50, 2)
    assert sorted(table["amount"].to_pylist()) == [Decimal("0.50"), wide]

    cache.put(3, _Amount(amount=Decimal(10) ** 80))
    with pytest.raises(ignite_fast.SchemaError, match="decimal_as_string=False"):
        client.to_arrow(cache_name)
    floats = client.to_arrow(cache_name, decimal_as_string=False)
    assert sorted(floats["amount"].to_pylist()) == [0.5, float(wide), 1e80]
