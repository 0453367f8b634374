"""A resumed Ignite 3 read gives its batches in the form a full read gives them: the rows it
skips and checks (read before the position was taken) and the partitions it checks by their row counts leave no
trace. Columns that allow NULL but hold none stay plain arrays, NOT NULL columns too, and
VARBINARY values of one length stay a ``(rows, length)`` array, in numpy and in Arrow, as a full
read of the same rows in one batch gives them, with the same values."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast
from resuming import assert_each_once

TABLE = "RESUMED_FORMS3"
ROWS = 1000
COLUMNS = (
    "ID INT PRIMARY KEY, N INT NOT NULL, M INT, NEVER_NULL INT, F DOUBLE NOT NULL, "
    "B VARBINARY(8) NOT NULL, BN VARBINARY(8), S VARCHAR, D DECIMAL(10, 2), DT DATE, TS TIMESTAMP, "
    "U UUID, FLAG BOOLEAN"
)
# more than the table's rows: the resumed read and the full read give one batch each
ONE_BATCH = 5000


@pytest.fixture(scope="module")
def table(ignite3) -> str:
    client = ignite_fast.Client(port=ignite3.port, ignite=3)
    client.execute(f"DROP TABLE IF EXISTS {TABLE}")
    client.execute(f"CREATE TABLE {TABLE} ({COLUMNS})")
    ids = np.arange(ROWS, dtype=np.int32)
    pixels = np.repeat(ids.astype(np.uint8)[:, None], 8, axis=1)
    client.put_batches(
        TABLE,
        {
            "ID": ids,
            "N": ids * 2,
            "M": np.ma.MaskedArray(ids, mask=ids % 3 == 0),  # NULL in every batch
            "NEVER_NULL": ids + 1,
            "F": ids * 0.5,
            "B": pixels,
            "BN": pixels,
            "S": np.array([f"s{i}" for i in ids], dtype=object),
            "D": ids / 4,
            "DT": np.datetime64("2020-01-01", "D") + ids.astype("timedelta64[D]"),
            "TS": np.datetime64("2020-01-01T00:00:00", "ms") + ids.astype("timedelta64[ms]"),
            "U": np.repeat(pixels, 2, axis=1),
            "FLAG": ids % 2 == 0,
        },
    )
    return TABLE


def forms(batch) -> dict:
    """Each column's kind of array, dtype and row shape (numpy), or its Arrow type."""
    if isinstance(batch, dict):
        return {name: (type(c), c.dtype, c.shape[1:]) for name, c in batch.items()}
    return {field.name: field.type for field in batch.schema}


@pytest.mark.parametrize("format", ["numpy", "arrow"])
def test_resumed_batches_have_the_forms_of_a_full_read(ignite3, table, format):
    client = ignite_fast.Client(port=ignite3.port, ignite=3)
    scan = client.resumable_scan(table, batch_size=7)
    read = []
    for batch in scan:
        read += batch["ID"].tolist()
        if len(scan.position().open) >= 3:  # two begun partitions checked by their row counts
            break
    position = scan.position()
    scan.close()
    (full,) = list(client.scan(table, batch_size=ONE_BATCH, format=format))
    (resumed,) = list(client.resumable_scan(table, position, batch_size=ONE_BATCH, format=format))
    assert forms(resumed) == forms(full)
    ids = resumed["ID"].to_numpy() if format == "arrow" else resumed["ID"]
    assert_each_once(np.r_[read, ids], range(ROWS))
    if format == "numpy":
        assert isinstance(full["M"], np.ma.MaskedArray)
        assert not isinstance(full["NEVER_NULL"], np.ma.MaskedArray)
        assert full["B"].shape == (ROWS, 8)
        # the values too: the rows resumed are as the full read has them
        where = np.searchsorted(full["ID"], ids, sorter=np.argsort(full["ID"]))
        order = np.argsort(full["ID"])[where]
        for name in full:
            assert np.ma.allequal(resumed[name], full[name][order]), name
