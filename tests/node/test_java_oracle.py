"""Every binary type, written by Ignite's own Java marshaller (tests/java/AllTypesFixture.java),
read back by ignite_fast field by field and compared with what the fixture says it wrote."""

from __future__ import annotations

import uuid
from decimal import Decimal

import numpy as np

import ignite_fast
from ignite_fast.columns import to_pylist
from node_fixtures import JAVA_ROWS as ROWS


def _batch(client, cache, **kwargs) -> tuple[list[int], dict]:
    batch = next(client.scan(cache, batch_size=ROWS, page_size=5, **kwargs))
    return batch["key"].tolist(), batch["val"]


def _uuid(row) -> uuid.UUID | None:
    return None if row is None else uuid.UUID(bytes=bytes(row))


def _f32(text: str) -> float:
    return float(np.float32(float(text)))


def test_every_type_reads_back_as_java_wrote_it(client, java_all_types):
    cache, expected = java_all_types
    keys, val = _batch(client, cache)
    assert sorted(keys) == list(range(ROWS))
    cols = {name: to_pylist(col) for name, col in val.items()}
    as_int64 = {name: np.asarray(np.ma.getdata(val[name])).astype(np.int64).tolist() for name in ("date", "ts", "time")}
    for r, k in enumerate(keys):
        e = expected[k]
        got = {name: values[r] for name, values in cols.items()}
        assert got["b"] == e["b"] & 0xFF
        assert (got["s"], got["i"], got["l"], got["c"], got["bool"]) == (e["s"], e["i"], e["l"], e["c"], e["bool"])
        assert got["f"] == _f32(e["f"])
        assert got["d"] == float(e["d"])
        assert got["str"].decode("utf-8") == e["str"]
        assert _uuid(got["uuid"]) == uuid.UUID(e["uuid"])
        assert as_int64["date"][r] == e["date"]
        assert as_int64["ts"][r] == e["ts"][0] * 1_000_000 + e["ts"][1]
        assert as_int64["time"][r] == e["time"]
        assert got["dec"] == float(Decimal(e["dec"]))
        assert got["color"] == e["color"]
        assert got["bytes"] == [v & 0xFF for v in e["bytes"]]
        assert (got["shorts"], got["ints"], got["longs"]) == (e["shorts"], e["ints"], e["longs"])
        assert got["floats"] == [_f32(v) for v in e["floats"]]
        assert (got["doubles"], got["chars"], got["bools"]) == (e["doubles"], e["chars"], e["bools"])
        assert [None if s is None else s.decode() for s in got["strs"]] == e["strs"]
        assert [_uuid(u) for u in got["uuids"]] == [None if u is None else uuid.UUID(u) for u in e["uuids"]]
        assert [int(np.datetime64(d, "ms").astype(np.int64)) for d in got["dates"]] == e["dates"]
        assert got["decs"] == [None if d is None else float(Decimal(d)) for d in e["decs"]]
        assert got["colors"] == e["colors"]
        assert [
            None if o is None else {"x": o["x"], "label": o["label"] and o["label"].decode()} for o in got["objs"]
        ] == e["objs"]
        assert got["list"] == e["list"]
        assert [s.decode() for s in got["set"]] == e["set"]
        assert {k2.decode(): v2 for k2, v2 in got["map"].items()} == e["map"]
        for name in ("inner", "sameInner"):  # sameInner is a handle back to inner
            assert {"x": got[name]["x"], "label": got[name]["label"].decode()} == e[name]
        assert got["nullStr"] is None
        assert got["maybeInt"] == e["maybeInt"]
        # An object with raw data: its named fields decode, the raw part is skipped.
        assert got["raw"] == {"id": e["raw_id"]}
        if e["maybeInner"] is None:
            assert got["maybeInner"] == {"x": None, "label": None}
        else:
            assert {"x": got["maybeInner"]["x"], "label": got["maybeInner"]["label"].decode()} == e["maybeInner"]
    # Lists of temporal values keep their units.
    tss = val["tss"].values.astype(np.int64).tolist()
    assert sorted(tss) == sorted(e["tss"][0][0] * 1_000_000 + e["tss"][0][1] for e in expected.values())


def test_numpy_types_of_the_logical_columns(client, java_all_types):
    cache, _ = java_all_types
    _, val = _batch(client, cache)
    assert val["date"].dtype == np.dtype("datetime64[ms]")
    assert val["ts"].dtype == np.dtype("datetime64[ns]")
    assert val["time"].dtype == np.dtype("timedelta64[ms]")
    assert val["uuid"].shape == (ROWS, 16)
    assert val["uuid"].dtype == np.uint8
    assert val["dec"].dtype == np.float64
    assert val["color"].dtype == np.int32
    assert isinstance(val["map"], ignite_fast.Ragged)
    assert val["map"].kind == "map"
    assert isinstance(val["objs"].values, dict)


def test_decimals_exactly(client, java_all_types):
    cache, expected = java_all_types
    keys, val = _batch(client, cache, decimal_as_string=True)
    for r, k in enumerate(keys):
        assert Decimal(val["dec"][r].decode()) == Decimal(expected[k]["dec"])
        assert [None if d is None else Decimal(d.decode()) for d in to_pylist(val["decs"])[r]] == [
            None if d is None else Decimal(d) for d in expected[k]["decs"]
        ]


def test_enum_names_from_metadata(client, java_all_types):
    cache, expected = java_all_types
    names = client.enum_values("AllTypesFixture$Color")
    assert names == {0: "RED", 1: "GREEN", 2: "BLUE"}
    keys, val = _batch(client, cache)
    assert [names[o] for o in val["color"].tolist()] == [expected[k]["color_name"] for k in keys]
    assert client.schema(cache)["val"]["color"] == "enum<AllTypesFixture$Color>"


def test_uuid_strings_are_canonical(client, java_all_types):
    from ignite_fast.columns import uuid_strings

    cache, expected = java_all_types
    keys, val = _batch(client, cache)
    assert [s.decode() for s in uuid_strings(val["uuid"])] == [expected[k]["uuid"] for k in keys]
