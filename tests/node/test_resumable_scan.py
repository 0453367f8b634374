"""Resumable scans of Ignite 2 caches on a real node (``Client.resumable_scan``)."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast
from ignite_fast import ScanPosition
from node_fixtures import SESSION_PORT

ROWS = 3000


def keys_of(batches) -> list[int]:
    return [int(k) for b in batches for k in b["key"].tolist()]


@pytest.fixture(scope="module")
def numbers(cluster) -> str:
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    name = "resumable_numbers"
    client.put_batches(name, {"key": np.arange(ROWS, dtype=np.int64), "val": {"n": np.arange(ROWS) * 2}})
    return name


def test_smoke(numbers):
    client = ignite_fast.Client("127.0.0.1", SESSION_PORT)
    scan = client.resumable_scan(numbers, batch_size=256)
    got = []
    for i, batch in enumerate(scan):
        got += batch["key"].tolist()
        if i == 3:
            break
    pos = scan.position()
    print(pos.describe())
    blob = pos.to_bytes()
    scan.close()
    again = ignite_fast.Client("127.0.0.1", SESSION_PORT).resumable_scan(
        numbers, ScanPosition.from_bytes(blob), batch_size=256
    )
    for batch in again:
        got += batch["key"].tolist()
    print(again.position().describe())
    assert sorted(got) == list(range(ROWS))
