"""An installed package reads an Ignite 3 table that its own launcher's node holds: numpy batches,
partitions, and the batched IgniteDataset."""

from __future__ import annotations

import numpy as np

import ignite_fast


def test_an_ignite3_table_reads_back(port3):
    client = ignite_fast.Client("127.0.0.1", port3, ignite=3)
    client.execute("DROP TABLE IF EXISTS SMOKE3")
    client.execute("CREATE TABLE SMOKE3 (ID INT PRIMARY KEY, PIXELS VARBINARY(16), LABEL TINYINT)")
    client.execute(
        "INSERT INTO SMOKE3 SELECT x::INT, X'" + "ab" * 16 + "', (x % 10)::TINYINT FROM TABLE(SYSTEM_RANGE(0, 4999))"
    )
    ids = np.concatenate([b["ID"] for b in client.scan("SMOKE3", batch_size=1000)])
    assert sorted(ids.tolist()) == list(range(5000))
    [batch] = list(client.scan("SMOKE3", partitions=[0], columns=["PIXELS", "LABEL"], batch_size=5000))
    assert batch["PIXELS"].shape[1] == 16
    assert batch["LABEL"].dtype == np.int8
    dataset = ignite_fast.IgniteDataset("SMOKE3", port=port3, ignite=3, batch_size=500)
    assert sum(int(b["ID"].shape[0]) for b in dataset) == 5000
