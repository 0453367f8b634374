"""Ray Data on both generations, with one local Ray instance for the module: ``read_ignite`` of an
Ignite 3 table (equal to what Ignite 3's own driver, ``pyignite_dbapi``, reads; one read task per
group of partitions of one primary), projection pushdown on both generations (a projected read
never decodes the columns it leaves out: a value no reader can decode sits in one of them), and
``write_ignite`` into an Ignite 2 cache (read back by pyignite) and an Ignite 3 table (read back by
``pyignite_dbapi``), with its refusals (nothing written) and its partial failures (the rows stored
are counted).

Ignite 2 is the session node, Ignite 3 the two-node pair; the Ray instance has two CPUs and one
node, which sits beside every Ignite node (all on loopback).
"""

from __future__ import annotations

import collections
import datetime
import decimal
import re
import sys
import uuid

import numpy as np
import pyarrow as pa
import pytest
import ray
from pyignite import GenericObjectMeta
from pyignite.datatypes import DecimalObject, IntObject

import ignite_fast
from ignite_fast.errors import InvalidArgumentError, SchemaError
from ignite_fast.ray import plan_reads, read_ignite, split_by_primary, write_ignite
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import read3


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One Ray instance on this machine for the module (two CPUs, a small object store)."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=150 << 20)
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


@pytest.fixture
def blocks_in_order():
    """Ray Data runs the blocks in their order (with ``concurrency=1``: one after the other)."""
    options = ray.data.DataContext.get_current().execution_options
    options.preserve_order = True
    yield
    options.preserve_order = False


def _rows_stored(error: pytest.ExceptionInfo) -> int:
    """The rows a failed write says were stored."""
    found = re.search(r"(\d+) rows were stored", str(error.value))
    assert found, str(error.value)
    return int(found.group(1))


def _table(dataset: ray.data.Dataset, key: str) -> pa.Table:
    """The dataset run to one Arrow table, sorted by ``key``."""
    return pa.concat_tables(ray.get(list(dataset.to_arrow_refs())), promote_options="permissive").sort_by(key)


def _fresh3(cluster: Ignite3Cluster, table: str, columns: str):
    client = ignite_fast.Client(cluster.addresses, ignite=3)
    client.execute(f"DROP TABLE IF EXISTS {table}")
    client.execute(f"CREATE TABLE {table} ({columns})")
    return client


# -- Ignite 3 reads ----------------------------------------------------------------------------


def test_read_ignite3_equals_what_pyignite_dbapi_reads_one_task_per_primary(ignite3_pair):
    client = _fresh3(
        ignite3_pair,
        "RAY_READ3",
        "ID INT PRIMARY KEY, NAME VARCHAR, SCORE DOUBLE, FLAG BOOLEAN, BLOB VARBINARY(8), N INT",
    )
    # Written by the server's own SQL, not by our writer.
    client.execute(
        "INSERT INTO RAY_READ3 SELECT x::INT, 'row-' || CAST(x AS VARCHAR), CAST(x AS DOUBLE) / 7, MOD(x, 2) = 0, "
        "X'0102', CASE WHEN MOD(x, 5) = 0 THEN NULL ELSE x * 3 END FROM TABLE(SYSTEM_RANGE(0, 1999))"
    )
    expected = read3(ignite3_pair, "SELECT ID, NAME, SCORE, FLAG, BLOB, N FROM RAY_READ3 ORDER BY ID")
    assert len(expected) == 2000

    dataset = read_ignite("RAY_READ3", hosts=ignite3_pair.addresses, ignite=3)
    blocks = ray.get(list(dataset.to_arrow_refs()))
    table = pa.concat_tables(blocks).sort_by("ID")
    assert table.column_names == ["ID", "NAME", "SCORE", "FLAG", "BLOB", "N"]
    got = [(*row[:4], bytes(row[4]), row[5]) for row in zip(*(table[c].to_pylist() for c in table.column_names))]
    assert got == expected

    # The plan: every partition once, in one read beside this Ray node (both Ignite nodes share
    # its host), its tasks each over partitions of one primary; so is every block.
    groups = plan_reads(client, "RAY_READ3")
    assert [g.ray_node for g in groups] == [ray.get_runtime_context().get_node_id()]
    count = client.partitions("RAY_READ3")
    assert sorted(groups[0].partitions) == list(range(count))
    primaries = client.primaries("RAY_READ3")
    assert len(set(primaries)) == 2  # both nodes are primaries of some partitions
    tasks = split_by_primary(groups[0].partitions, groups[0].primaries, groups[0].tasks)
    assert all(len({primaries[p] for p in task}) == 1 for task in tasks)
    primary_of_id = {i: primaries[p] for i, p in read3(ignite3_pair, "SELECT ID, __part FROM RAY_READ3")}
    assert all(len({primary_of_id[i] for i in block["ID"].to_pylist()}) == 1 for block in blocks)


def test_a_scan_option_the_client_lacks_is_refused_before_reading(ignite3_pair):
    with pytest.raises(InvalidArgumentError, match="value_type"):
        read_ignite("RAY_READ3", hosts=ignite3_pair.addresses, ignite=3, value_type="Digit")


# -- projection pushdown ---------------------------------------------------------------------------


def test_ignite3_projection_decodes_only_the_columns_selected(ignite3_pair):
    client = _fresh3(ignite3_pair, "RAY_PROJ3", "ID INT PRIMARY KEY, L INT, T TIMESTAMP, NAME VARCHAR")
    client.execute(
        "INSERT INTO RAY_PROJ3 SELECT x::INT, x::INT * 2, TIMESTAMP '2020-01-01 00:00:00', 'n' || CAST(x AS VARCHAR) "
        "FROM TABLE(SYSTEM_RANGE(0, 499))"
    )
    full = _table(read_ignite("RAY_PROJ3", hosts=ignite3_pair.addresses, ignite=3), "ID")
    projected = _table(
        read_ignite("RAY_PROJ3", hosts=ignite3_pair.addresses, ignite=3).select_columns(["L", "ID"]), "ID"
    )
    assert projected.column_names == ["L", "ID"]
    assert projected.equals(full.select(["L", "ID"]))

    # A timestamp past 2261 does not fit datetime64[ns]: decoding it is a SchemaError. A read
    # that leaves its column out never meets it.
    client.execute("INSERT INTO RAY_PROJ3 VALUES (1000, 7, TIMESTAMP '3000-01-01 00:00:00', 'far')")
    with pytest.raises(SchemaError, match="timestamp"):
        read_ignite("RAY_PROJ3", hosts=ignite3_pair.addresses, ignite=3).materialize()
    for dataset in (
        read_ignite("RAY_PROJ3", hosts=ignite3_pair.addresses, ignite=3).select_columns(["ID", "L"]),
        read_ignite("RAY_PROJ3", hosts=ignite3_pair.addresses, ignite=3, columns=["ID", "L"]),
    ):
        table = _table(dataset, "ID")
        assert table.column_names == ["ID", "L"]
        assert table["L"].to_pylist() == [2 * i for i in range(500)] + [7]


class _Priced(
    metaclass=GenericObjectMeta,
    type_name="RayPriced",
    schema=collections.OrderedDict([("label", IntObject), ("amount", DecimalObject)]),
):
    pass


def test_ignite2_projection_decodes_only_the_fields_selected(cluster, pyignite_client):
    name = f"ray_proj_{uuid.uuid4().hex[:8]}"
    cache = pyignite_client.get_or_create_cache(name)
    cache.put_all({i: _Priced(label=i % 10, amount=decimal.Decimal(i) / 4) for i in range(300)})
    full = _table(read_ignite(name, hosts=cluster.addresses), "key")
    projected = _table(read_ignite(name, hosts=cluster.addresses).select_columns(["key", "label"]), "key")
    assert projected.column_names == ["key", "label"]
    assert projected.equals(full.select(["key", "label"]))

    # A decimal of 40,000 digits is past what the reader decodes (32,767 digits): a SchemaError
    # where it is decoded. A read that leaves the field out skips it undecoded.
    digits = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)  # pyignite turns the digits into an int through text...
    try:
        with decimal.localcontext() as context:
            context.prec = 50_000  # ...after normalize(), which rounds to the context's precision
            cache.put(300, _Priced(label=3, amount=decimal.Decimal("9" * 40_000)))
    finally:
        sys.set_int_max_str_digits(digits)
    with pytest.raises(SchemaError):
        read_ignite(name, hosts=cluster.addresses).materialize()
    for dataset in (
        read_ignite(name, hosts=cluster.addresses).select_columns(["key", "label"]),
        read_ignite(name, hosts=cluster.addresses, columns=["label"]),
    ):
        table = _table(dataset, "key")
        assert table.column_names == ["key", "label"]
        assert table["label"].to_pylist() == [i % 10 for i in range(300)] + [3]


# -- Ignite 2 writes ---------------------------------------------------------------------------


def _digits(start: int, rows: int) -> pa.Table:
    keys = np.arange(start, start + rows, dtype=np.int64)
    rng = np.random.default_rng(start)
    return pa.table(
        {
            "key": keys,
            "label": (keys % 10).astype(np.int32),
            "score": rng.random(rows),
            "flag": keys % 3 == 0,
            "name": [f"zahl-{k}-{'ä' * (k % 3)}" for k in keys],
            "pixels": pa.FixedSizeListArray.from_arrays(rng.integers(0, 256, rows * 16, dtype=np.uint8), 16),
        }
    )


def test_write_ignite2_objects_read_back_by_pyignite(cluster, pyignite_client):
    name = f"ray_w2_{uuid.uuid4().hex[:8]}"
    blocks = [_digits(0, 400), _digits(400, 400), _digits(800, 200)]
    assert write_ignite(ray.data.from_arrow(blocks), name, hosts=cluster.addresses, type_name="RayDigit") == 1000
    expected = {row["key"]: row for block in blocks for row in block.to_pylist()}
    got = dict(pyignite_client.get_cache(name).scan())
    assert sorted(got) == sorted(expected)
    for key, obj in got.items():
        row = expected[key]
        assert type(obj).__name__ == "RayDigit"
        assert (obj.label, obj.score, obj.flag, obj.name) == (row["label"], row["score"], row["flag"], row["name"])
        assert bytes(obj.pixels) == bytes(row["pixels"])
    # ... and read_ignite reads them back as they were (fields in the type's own order).
    back = _table(read_ignite(name, hosts=cluster.addresses), "key").select(blocks[0].column_names)
    assert back.to_pylist() == pa.concat_tables(blocks).sort_by("key").to_pylist()


def test_write_ignite2_plain_values_with_another_key_column(cluster, pyignite_client):
    name = f"ray_w2p_{uuid.uuid4().hex[:8]}"
    dataset = ray.data.from_items([{"id": f"k{i}", "val": i * 3} for i in range(50)])
    assert write_ignite(dataset, name, hosts=cluster.addresses, key="id") == 50
    assert dict(pyignite_client.get_cache(name).scan()) == {f"k{i}": i * 3 for i in range(50)}


def test_write_ignite2_refuses_a_dataset_without_its_key_column(cluster):
    name = f"ray_w2k_{uuid.uuid4().hex[:8]}"
    dataset = ray.data.from_arrow(_digits(0, 10).drop_columns(["key"]))
    with pytest.raises(InvalidArgumentError, match="no key column 'key'"):
        write_ignite(dataset, name, hosts=cluster.addresses)
    assert name not in ignite_fast.Client(cluster.addresses).cache_names()  # not even created


def test_write_ignite2_refuses_a_field_type_the_value_type_does_not_have(cluster, pyignite_client):
    name = f"ray_w2t_{uuid.uuid4().hex[:8]}"
    assert write_ignite(ray.data.from_arrow(_digits(0, 10)), name, hosts=cluster.addresses, type_name="RayTyped") == 10
    relabelled = _digits(10, 10).set_column(1, "label", pa.array(np.arange(10, dtype=np.float64)))
    with pytest.raises(SchemaError, match="label"):
        write_ignite(ray.data.from_arrow(relabelled), name, hosts=cluster.addresses, type_name="RayTyped")
    assert pyignite_client.get_cache(name).get_size() == 10


def test_write_ignite2_partial_failure_says_how_many_rows_were_stored(cluster, pyignite_client, blocks_in_order):
    name = f"ray_w2f_{uuid.uuid4().hex[:8]}"
    holed = _digits(200, 100).set_column(2, "score", pa.array([None] + [0.5] * 99, pa.float64()))
    dataset = ray.data.from_arrow([_digits(0, 100), _digits(100, 100), holed])
    with pytest.raises(InvalidArgumentError, match=r"rows were stored .*; then: column 'score' has nulls") as error:
        write_ignite(dataset, name, hosts=cluster.addresses, concurrency=1)
    assert _rows_stored(error) == pyignite_client.get_cache(name).get_size() == 200


# -- Ignite 3 writes ---------------------------------------------------------------------------

_WRITE3 = (
    "ID BIGINT PRIMARY KEY, NAME VARCHAR, SCORE DOUBLE, FLAG BOOLEAN, BLOB VARBINARY(4), "
    "AT TIMESTAMP(3), PRICE DECIMAL(10, 2), N INT"
)


def _rows_for3(start: int, rows: int) -> pa.Table:
    ids = np.arange(start, start + rows, dtype=np.int64)
    return pa.table(
        {
            "ID": ids,
            "NAME": [None if i % 7 == 0 else f"name-{i}-ü" for i in ids],
            "SCORE": ids / 8,
            "FLAG": ids % 2 == 0,
            "BLOB": [bytes([i % 256, 1, 2, 3]) for i in ids],
            "AT": pa.array(ids * 86_400_000 + 123, pa.timestamp("ms")),
            "PRICE": pa.array([decimal.Decimal(int(i)) / 4 for i in ids], pa.decimal128(10, 2)),
            "N": pa.array([None if i % 5 == 0 else int(i) * 3 for i in ids], pa.int32()),
        }
    )


def test_write_ignite3_rows_read_back_by_pyignite_dbapi(ignite3_pair):
    _fresh3(ignite3_pair, "RAY_WRITE3", _WRITE3)
    blocks = [_rows_for3(0, 300), _rows_for3(300, 300), _rows_for3(600, 100)]
    assert write_ignite(ray.data.from_arrow(blocks), "RAY_WRITE3", hosts=ignite3_pair.addresses, ignite=3) == 700
    back = read3(ignite3_pair, "SELECT ID, NAME, SCORE, FLAG, BLOB, AT, PRICE, N FROM RAY_WRITE3 ORDER BY ID")
    epoch = datetime.datetime(1970, 1, 1)
    expected = [
        (
            row["ID"],
            row["NAME"],
            row["SCORE"],
            row["FLAG"],
            row["BLOB"],
            epoch + datetime.timedelta(days=row["ID"], milliseconds=123),
            row["PRICE"],
            row["N"],
        )
        for block in blocks
        for row in block.to_pylist()
    ]
    assert back == expected


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_columns(["ID"]), "key column 'ID' is not given"),
        (lambda t: t.append_column("COLOR", pa.array(["red"] * len(t))), "no column 'COLOR'"),
        (lambda t: t.set_column(2, "SCORE", pa.array([str(i) for i in range(len(t))])), "'SCORE' is DOUBLE"),
    ],
    ids=["missing key", "column the table lacks", "type the column does not take"],
)
def test_write_ignite3_refuses_columns_that_do_not_match_the_table(ignite3_pair, change, message):
    _fresh3(ignite3_pair, "RAY_REFUSED3", _WRITE3)
    dataset = ray.data.from_arrow([change(_rows_for3(0, 50)), change(_rows_for3(50, 50))])
    with pytest.raises(InvalidArgumentError, match=message):
        write_ignite(dataset, "RAY_REFUSED3", hosts=ignite3_pair.addresses, ignite=3)
    assert read3(ignite3_pair, "SELECT COUNT(*) FROM RAY_REFUSED3") == [(0,)]


def test_write_ignite3_partial_failure_says_how_many_rows_were_stored(ignite3_pair, blocks_in_order):
    _fresh3(ignite3_pair, "RAY_PARTIAL3", _WRITE3)
    keyless = _rows_for3(200, 50).set_column(0, "ID", pa.array([None, *range(201, 250)], pa.int64()))
    dataset = ray.data.from_arrow([_rows_for3(0, 100), _rows_for3(100, 100), keyless])
    with pytest.raises(
        InvalidArgumentError, match=r"rows were stored .*; then: column 'ID', row 0: a key column"
    ) as error:
        write_ignite(dataset, "RAY_PARTIAL3", hosts=ignite3_pair.addresses, ignite=3, concurrency=1)
    assert [(_rows_stored(error),)] == read3(ignite3_pair, "SELECT COUNT(*) FROM RAY_PARTIAL3") == [(200,)]
