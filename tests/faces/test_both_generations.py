"""Every face on both generations, the same assertions on each: ``IgniteDataset`` per element,
batched and ``from_sql``, ``IgniteIterableDataset`` with DataLoader workers, and the clients'
``to_arrow``/``to_pandas``, over a table FACES of (ID INT, V BIGINT) written by the generation's
own driver (pyignite's SQL on Ignite 2, pyignite_dbapi on Ignite 3). What differs is only where a
row's ID and V are in an element, which :class:`Source` says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import tensorflow as tf
import torch
from pyignite import Client as PyIgniteClient
from torch.utils.data import DataLoader

import ignite_fast
from ignite_fast import IgniteDataset
from ignite_fast.pytorch import IgniteIterableDataset
from node_fixtures import SESSION_PORT, ignite3_connect

ROWS = 500
EXPECTED = {i: i * 3 - 1 for i in range(ROWS)}


@dataclass(frozen=True)
class Source:
    """One generation's FACES: how to reach it, and where a batch or element keeps ID and V."""

    ignite: int
    port: int
    name: str
    ids: Callable[[Any], Any]
    values: Callable[[Any], Any]
    arrow_id: str  # the ID column in to_arrow's table


def _faces2() -> Source:
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", SESSION_PORT)
    try:
        writer.sql("DROP TABLE IF EXISTS FACES")
        writer.sql('CREATE TABLE FACES (ID INT PRIMARY KEY, V BIGINT) WITH "CACHE_NAME=FACES"')
        for i, v in EXPECTED.items():
            writer.sql("INSERT INTO FACES (ID, V) VALUES (?, ?)", query_args=[i, v])
    finally:
        writer.close()
    return Source(2, SESSION_PORT, "FACES", lambda e: e["key"], lambda e: e["val"]["V"], "key")


def _faces3(cluster) -> Source:
    with ignite3_connect(cluster) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS FACES")
        cur.execute("CREATE TABLE FACES (ID INT PRIMARY KEY, V BIGINT)")
        cur.executemany("INSERT INTO FACES VALUES (?, ?)", list(EXPECTED.items()))
    return Source(3, cluster.port, "FACES", lambda e: e["ID"], lambda e: e["V"], "ID")


@pytest.fixture(scope="module", params=["2", "3"])
def source(request) -> Source:
    if request.param == "2":
        request.getfixturevalue("cluster")
        return _faces2()
    return _faces3(request.getfixturevalue("ignite3"))


def _pairs(ids: Any, values: Any) -> dict[int, int]:
    return dict(zip(np.asarray(ids).reshape(-1).tolist(), np.asarray(values).reshape(-1).tolist()))


def test_ignite_dataset_per_element(source: Source):
    dataset = IgniteDataset(source.name, port=source.port, ignite=source.ignite)
    assert type(dataset) is IgniteDataset
    seen: dict[int, int] = {}
    for element in dataset:
        assert source.ids(element).shape == ()  # one row per element
        seen.update(_pairs(source.ids(element).numpy(), source.values(element).numpy()))
    assert seen == EXPECTED


def test_ignite_dataset_batched(source: Source):
    dataset = IgniteDataset(source.name, port=source.port, ignite=source.ignite, batch_size=64)
    assert type(dataset) is IgniteDataset
    seen: dict[int, int] = {}
    for batch in dataset:
        assert source.ids(batch).shape[0] <= 64
        assert source.values(batch).dtype == tf.int64
        seen.update(_pairs(source.ids(batch).numpy(), source.values(batch).numpy()))
    assert seen == EXPECTED


def test_ignite_dataset_from_sql(source: Source):
    query = IgniteDataset.from_sql(
        "SELECT ID, V FROM FACES WHERE MOD(ID, 7) = ? ORDER BY ID", [3], port=source.port, ignite=source.ignite
    )
    assert [(int(e["ID"]), int(e["V"])) for e in query] == [(i, v) for i, v in EXPECTED.items() if i % 7 == 3]


def test_a_scan_option_the_client_lacks_is_refused_before_reading(ignite3):
    """An Ignite 3 table has one row type, so its client's scan takes no value_type: the faces
    ask the client's scan, and refuse what it does not take."""
    with pytest.raises(ignite_fast.InvalidArgumentError, match="value_type"):
        IgniteDataset("NO_SUCH_TABLE", port=ignite3.port, ignite=3, value_type="Digit")
    with pytest.raises(ignite_fast.InvalidArgumentError, match="value_type"):
        IgniteIterableDataset("NO_SUCH_TABLE", port=ignite3.port, ignite=3, value_type="Digit")
    with pytest.raises(ignite_fast.InvalidArgumentError, match="part"):
        IgniteDataset("NO_SUCH_TABLE", port=ignite3.port, ignite=3, part=3)


def test_iterable_dataset_with_dataloader_workers(source: Source):
    dataset = IgniteIterableDataset(source.name, port=source.port, ignite=source.ignite, batch_size=50)
    seen: dict[int, int] = {}
    rows = 0
    for batch in DataLoader(dataset, batch_size=None, num_workers=2):
        assert isinstance(source.values(batch), torch.Tensor)
        assert source.values(batch).dtype == torch.int64
        rows += len(source.ids(batch))
        seen.update(_pairs(source.ids(batch).numpy(), source.values(batch).numpy()))
    assert rows == ROWS  # every row once, across the workers
    assert seen == EXPECTED


def test_to_arrow_and_to_pandas(source: Source):
    client = ignite_fast.Client("127.0.0.1", source.port, ignite=source.ignite)
    table = client.to_arrow(source.name)
    assert table.num_rows == ROWS
    assert _pairs(table[source.arrow_id].to_numpy(), table["V"].to_numpy()) == EXPECTED
    frame = client.to_pandas(source.name)
    assert _pairs(frame[source.arrow_id].to_numpy(), frame["V"].to_numpy()) == EXPECTED
