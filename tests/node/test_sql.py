"""SQL fields queries (op 2004/2005) as a data source: columnar batches and tf.data."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast
from ignite_fast.columns import to_pylist

PORT = 10850


@pytest.fixture(scope="module")
def readings(pyignite_client):
    pyignite_client.sql("DROP TABLE IF EXISTS READINGS")
    pyignite_client.sql("CREATE TABLE READINGS (ID INT PRIMARY KEY, SENSOR VARCHAR, TEMP DOUBLE, OK BOOLEAN, "
                        "AMOUNT DECIMAL(12, 3), AT TIMESTAMP)")
    for i in range(250):
        amount = "NULL" if i % 10 == 0 else f"{i}.125"
        pyignite_client.sql(f"INSERT INTO READINGS (ID, SENSOR, TEMP, OK, AMOUNT, AT) VALUES ({i}, 's{i % 7}', "
                            f"{i / 4}, {str(i % 3 == 0).upper()}, {amount}, "
                            f"TIMESTAMP '2024-01-02 03:04:{i % 60:02d}.5')")
    return "READINGS"


def test_query_rows_come_back_as_columns(client, readings):
    batches = list(client.sql("SELECT ID, SENSOR, TEMP, OK, AMOUNT, AT FROM READINGS ORDER BY ID",
                              batch_size=64, page_size=30))
    assert [len(b["ID"]) for b in batches] == [64, 64, 64, 58]
    ids = np.concatenate([b["ID"] for b in batches])
    assert ids.tolist() == list(range(250)) and ids.dtype == np.int32
    first = batches[0]
    assert first["SENSOR"][:3].tolist() == [b"s0", b"s1", b"s2"]
    assert first["TEMP"][:3].tolist() == [0.0, 0.25, 0.5]
    assert first["OK"][:4].tolist() == [True, False, False, True]
    amounts = to_pylist(first["AMOUNT"])
    assert amounts[0] is None and amounts[1] == 1.125
    assert first["AT"].dtype == np.dtype("datetime64[ns]")
    assert str(first["AT"][7]) == "2024-01-02T03:04:07.500000000"


def test_arguments_filter_on_the_server(client, readings):
    [batch] = list(client.sql("SELECT ID FROM READINGS WHERE ID >= ? AND SENSOR = ? AND TEMP < ? ORDER BY ID",
                              [100, "s3", 40.0]))
    assert batch["ID"].tolist() == [i for i in range(100, 160) if i % 7 == 3]


def test_exact_decimals_and_aggregates(client, readings):
    [batch] = list(client.sql("SELECT AMOUNT FROM READINGS WHERE ID = 11", decimal_as_string=True))
    assert batch["AMOUNT"].tolist() == [b"11.125"]
    [agg] = list(client.sql("SELECT COUNT(*) AS N, MAX(TEMP) AS HOT FROM READINGS"))
    assert agg["N"].tolist() == [250] and agg["HOT"].tolist() == [249 / 4]


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


def test_from_sql_as_a_tf_dataset(readings):
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    ds = IgniteDataset.from_sql("SELECT ID, SENSOR, TEMP FROM READINGS WHERE ID < ? ORDER BY ID", [5], port=PORT)
    assert ds.element_spec == {"ID": tf.TensorSpec([], tf.int32), "SENSOR": tf.TensorSpec([], tf.string),
                               "TEMP": tf.TensorSpec([], tf.float64)}
    assert [(int(e["ID"]), e["SENSOR"], float(e["TEMP"])) for e in ds.as_numpy_iterator()] == \
        [(i, f"s{i % 7}".encode(), i / 4) for i in range(5)]
    batched = IgniteDataset.from_sql("SELECT TEMP FROM READINGS", port=PORT, batch_size=100)
    assert sorted(int(tf.shape(b["TEMP"])[0]) for b in batched) == [50, 100, 100]
