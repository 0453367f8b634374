"""The faces on Ignite 3 tables: ``IgniteDataset(table, ..., ignite=3)`` per element and batched,
``IgniteDataset.from_sql(..., ignite=3)``, and the PyTorch adaptor, against rows written by
Ignite 3's own driver."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
from torch.utils.data import DataLoader

import ignite_fast
from ignite_fast import IgniteDataset
from ignite_fast.pytorch import IgniteIterableDataset
from ignite_fast.server_ignite3 import Ignite3Cluster
from node_fixtures import ignite3_connect

ROWS = 300


@pytest.fixture(scope="module")
def digits3(ignite3: Ignite3Cluster) -> dict[int, tuple[bytes, int, str]]:
    """DIGITS3: (ID INT, PIXELS VARBINARY(64), LABEL TINYINT, NAME VARCHAR), written by pyignite_dbapi."""
    rng = np.random.default_rng(3)
    rows = {i: (rng.integers(0, 256, 64, dtype=np.uint8).tobytes(), i % 10, f"digit-{i}") for i in range(ROWS)}
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS DIGITS3")
        cur.execute("CREATE TABLE DIGITS3 (ID INT PRIMARY KEY, PIXELS VARBINARY(64), LABEL TINYINT, NAME VARCHAR)")
        cur.executemany("INSERT INTO DIGITS3 VALUES (?, ?, ?, ?)", [(i, *row) for i, row in rows.items()])
    return rows


def test_ignite_dataset_gives_one_element_per_row(ignite3: Ignite3Cluster, digits3):
    dataset = IgniteDataset("DIGITS3", port=ignite3.port, ignite=3)
    assert set(dataset.element_spec) == {"ID", "PIXELS", "LABEL", "NAME"}
    assert dataset.element_spec["PIXELS"].shape.as_list() == [None]  # as the original's arrays
    seen = {}
    for element in dataset:
        i = int(element["ID"])
        seen[i] = (element["PIXELS"].numpy().tobytes(), int(element["LABEL"]), element["NAME"].numpy().decode())
    assert seen == digits3
    # .batch() of equal-length arrays is dense, as with the original
    first = next(iter(dataset.batch(32)))
    assert first["PIXELS"].shape == (32, 64)
    assert first["LABEL"].dtype == tf.int8


def test_ignite_dataset_batched_and_from_sql(ignite3: Ignite3Cluster, digits3):
    batched = IgniteDataset("DIGITS3", port=ignite3.port, ignite=3, batch_size=128, columns=["ID", "LABEL"])
    ids = np.concatenate([b["ID"].numpy() for b in batched])
    assert sorted(ids.tolist()) == list(range(ROWS))
    query = IgniteDataset.from_sql(
        "SELECT ID, LABEL FROM DIGITS3 WHERE LABEL = ? ORDER BY ID", [7], port=ignite3.port, ignite=3
    )
    assert [int(e["ID"]) for e in query] == [i for i in range(ROWS) if i % 10 == 7]


def test_the_pytorch_adaptor_reads_every_row_once_across_dataloader_workers(ignite3: Ignite3Cluster, digits3):
    dataset = IgniteIterableDataset("DIGITS3", port=ignite3.port, ignite=3, batch_size=50, columns=["ID", "PIXELS"])
    ids = []
    for batch in DataLoader(dataset, batch_size=None, num_workers=2):
        assert isinstance(batch["PIXELS"], torch.Tensor)
        assert batch["PIXELS"].dtype == torch.uint8
        assert batch["PIXELS"].shape[1] == 64
        ids.extend(batch["ID"].tolist())
    assert sorted(ids) == list(range(ROWS))
    # ranks of a job (shard=(rank, world)) read disjoint parts that cover the table
    parts = [
        [
            i
            for b in IgniteIterableDataset("DIGITS3", port=ignite3.port, ignite=3, shard=(r, 3))
            for i in b["ID"].tolist()
        ]
        for r in range(3)
    ]
    assert sorted(k for part in parts for k in part) == list(range(ROWS))
    assert all(parts)


def test_client_scan_matches_the_driver(ignite3: Ignite3Cluster, digits3):
    client = ignite_fast.Client(f"127.0.0.1:{ignite3.port}", ignite=3)
    rows = {}
    for batch in client.scan("DIGITS3"):
        for i, pixels, label, name in zip(batch["ID"], batch["PIXELS"], batch["LABEL"], batch["NAME"]):
            rows[int(i)] = (pixels.tobytes(), int(label), name.decode())
    assert rows == digits3
