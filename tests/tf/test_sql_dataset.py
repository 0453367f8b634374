"""SQL fields queries as a tf.data source: IgniteDataset.from_sql on the table READINGS of
tests/node_fixtures.py."""

from __future__ import annotations

from node_fixtures import SESSION_PORT


def test_from_sql_as_a_tf_dataset(readings):
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    ds = IgniteDataset.from_sql(
        "SELECT ID, SENSOR, TEMP FROM READINGS WHERE ID < ? ORDER BY ID", [5], port=SESSION_PORT
    )
    assert ds.element_spec == {
        "ID": tf.TensorSpec([], tf.int32),
        "SENSOR": tf.TensorSpec([], tf.string),
        "TEMP": tf.TensorSpec([], tf.float64),
    }
    assert [(int(e["ID"]), e["SENSOR"], float(e["TEMP"])) for e in ds.as_numpy_iterator()] == [
        (i, f"s{i % 7}".encode(), i / 4) for i in range(5)
    ]
    batched = IgniteDataset.from_sql("SELECT TEMP FROM READINGS", port=SESSION_PORT, batch_size=100)
    assert sorted(int(tf.shape(b["TEMP"])[0]) for b in batched) == [50, 100, 100]
