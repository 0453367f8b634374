"""Numpy batches from a cache the installed package wrote, on one cursor and partition-parallel."""

from __future__ import annotations

import numpy as np
import pytest

import ignite_fast

ROWS = 20_000


@pytest.fixture
def digits(port, cache):
    """MNIST-shaped rows: 784 pixels and a label."""
    rng = np.random.default_rng(7)
    values = {
        "label": rng.integers(0, 10, ROWS).astype(np.int32),
        "pixels": rng.integers(0, 256, (ROWS, 784)).astype(np.uint8),
    }
    client = ignite_fast.Client("127.0.0.1", port)
    assert client.put_batches(cache, {"key": np.arange(ROWS, dtype=np.int64), "val": values}) == ROWS
    return client, cache, values


@pytest.mark.parametrize("parallel", [None, 2])
def test_scan_gives_back_what_was_written(digits, parallel):
    client, cache, values = digits
    keys, labels, pixels = [], [], []
    for batch in client.scan(cache, batch_size=4096, parallel=parallel):
        keys.append(batch["key"])
        labels.append(batch["val"]["label"])
        pixels.append(batch["val"]["pixels"])
    order = np.argsort(np.concatenate(keys))
    assert np.array_equal(np.concatenate(keys)[order], np.arange(ROWS))
    assert np.array_equal(np.concatenate(labels)[order], values["label"])
    assert np.array_equal(np.concatenate(pixels)[order], values["pixels"])
