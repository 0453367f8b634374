"""IgniteDataset on the three-node cluster: partitions read in parallel, and one input pipeline
per tf.distribute worker, each key read once."""

from __future__ import annotations

import pytest

from node_fixtures import TRIO_PORT, put_numbers

ROWS = 20_000


@pytest.fixture(scope="module")
def trio(trio):
    """The shared three-node cluster (tests/node_fixtures.py) with the cache `spread3` (one
    backup), keys 0..ROWS-1."""
    put_numbers(TRIO_PORT, "spread3", ROWS, backups=1, value=lambda i: i * 2)
    return trio


def test_tf_dataset_reads_partitions_in_parallel(trio):
    from ignite_fast import IgniteDataset

    dataset = IgniteDataset("spread3", hosts=trio.addresses, batch_size=1000, parallel=3)
    keys = [k for batch in dataset.as_numpy_iterator() for k in batch["key"].tolist()]
    assert len(keys) == ROWS
    assert set(keys) == set(range(ROWS))


def test_tf_input_pipelines_read_every_key_once(trio):
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    keys = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline)
        dataset = IgniteDataset.for_input_context(context, "spread3", hosts=trio.addresses, batch_size=1000)
        keys.append([k for batch in dataset.as_numpy_iterator() for k in batch["key"].tolist()])
    assert not set(keys[0]) & set(keys[1])
    assert sorted(keys[0] + keys[1]) == list(range(ROWS))
