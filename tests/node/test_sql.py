"""SQL fields queries (op 2004/2005) as a data source: columnar batches (the table READINGS of
tests/node_fixtures.py; as tf.data: tests/tf/test_sql_dataset.py)."""

from __future__ import annotations

import datetime
import decimal
import uuid

import numpy as np
import pytest

import ignite_fast
from ignite_fast.columns import to_pylist


def test_query_rows_come_back_as_columns(client, readings):
    batches = list(
        client.sql("SELECT ID, SENSOR, TEMP, OK, AMOUNT, AT FROM READINGS ORDER BY ID", batch_size=64, page_size=30)
    )
    assert [len(b["ID"]) for b in batches] == [64, 64, 64, 58]
    ids = np.concatenate([b["ID"] for b in batches])
    assert ids.tolist() == list(range(250))
    assert ids.dtype == np.int32
    first = batches[0]
    assert first["SENSOR"][:3].tolist() == [b"s0", b"s1", b"s2"]
    assert first["TEMP"][:3].tolist() == [0.0, 0.25, 0.5]
    assert first["OK"][:4].tolist() == [True, False, False, True]
    amounts = to_pylist(first["AMOUNT"])
    assert amounts[0] is None
    assert amounts[1] == 1.125
    assert first["AT"].dtype == np.dtype("datetime64[ns]")
    assert str(first["AT"][7]) == "2024-01-02T03:04:07.500000000"


def test_arguments_filter_on_the_server(client, readings):
    [batch] = list(
        client.sql("SELECT ID FROM READINGS WHERE ID >= ? AND SENSOR = ? AND TEMP < ? ORDER BY ID", [100, "s3", 40.0])
    )
    assert batch["ID"].tolist() == [i for i in range(100, 160) if i % 7 == 3]


def test_exact_decimals_and_aggregates(client, readings):
    [batch] = list(client.sql("SELECT AMOUNT FROM READINGS WHERE ID = 11", decimal_as_string=True))
    assert batch["AMOUNT"].tolist() == [b"11.125"]
    [agg] = list(client.sql("SELECT COUNT(*) AS N, MAX(TEMP) AS HOT FROM READINGS"))
    assert agg["N"].tolist() == [250]
    assert agg["HOT"].tolist() == [249 / 4]


def test_dates_times_uuids_and_decimals_are_arguments(client, readings):
    """Python's datetime, date, time, UUID and Decimal values go as Ignite 2's own types."""
    at = datetime.datetime(2024, 1, 2, 3, 4, 7, 500000)
    [batch] = list(client.sql("SELECT ID FROM READINGS WHERE AT = ? AND ID < 100 ORDER BY ID", [at]))
    assert batch["ID"].tolist() == [7, 67]
    [batch] = list(client.sql("SELECT ID FROM READINGS WHERE AMOUNT = ?", [decimal.Decimal("11.125")]))
    assert batch["ID"].tolist() == [11]
    [batch] = list(client.sql("SELECT ID FROM READINGS WHERE AMOUNT > ? ORDER BY ID", [decimal.Decimal("2.48E+2")]))
    assert batch["ID"].tolist() == [248, 249]
    day, noon, key = datetime.date(2024, 2, 29), datetime.time(12, 0, 1, 250000), uuid.UUID(int=2**127 + 5)
    [echo] = list(client.sql("SELECT ? AS D, ? AS T, ? AS U", [day, noon, key]))
    assert echo["D"].astype("datetime64[D]")[0] == np.datetime64("2024-02-29")
    assert uuid.UUID(bytes=bytes(echo["U"][0])) == key
    assert echo["T"][0] == np.timedelta64(43_201_250, "ms")  # Ignite 2's TIME keeps milliseconds


def test_empty_result_and_bad_sql(client, readings):
    assert list(client.sql("SELECT ID FROM READINGS WHERE ID < 0")) == []
    with pytest.raises(ignite_fast.ServerError, match="SQL query failed"):
        list(client.sql("SELEKT nonsense"))
    with pytest.raises(ignite_fast.InvalidArgumentError, match="SQL arguments"):
        list(client.sql("SELECT ?", [object()]))


def test_abandoned_queries_close_their_cursors(cluster, readings):
    client = ignite_fast.Client(cluster.addresses[0])
    for _ in range(200):
        it = client.sql("SELECT ID FROM READINGS", batch_size=1, page_size=1)
        next(it)
        it.close()
    assert sum(len(b["ID"]) for b in client.sql("SELECT ID FROM READINGS")) == 250
