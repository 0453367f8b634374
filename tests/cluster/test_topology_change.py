"""A shard plan holds only for the topology it was made for: both adaptors raise
TopologyChangedError when reading a plan whose topology's major version is not the cluster's
(a node joined or left since), so that the engine restarts the job with a fresh plan. The same
with a node killed mid-epoch under torchrun: tests/cluster/test_torchrun.py."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

import ignite_fast
from ignite_fast.errors import TopologyChangedError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def numbers(trio) -> str:
    cache = f"topology_{uuid.uuid4().hex[:8]}"
    keys = np.arange(3000, dtype=np.int64)
    ignite_fast.Client(trio.addresses).put_batches(cache, {"key": keys, "val": keys}, progress=False)
    return cache


def test_the_plan_of_the_current_topology_reads_and_an_older_one_raises(trio, numbers):
    import tensorflow as tf  # noqa: F401 - the adaptor needs it

    client = ignite_fast.Client(trio.addresses)
    plan = client.plan_shards(numbers, 2, balance="partitions")
    major, minor = client.topology_version()
    assert plan.topology == (major, minor)
    read = [
        k
        for i in range(2)
        for b in ignite_fast.IgniteDataset(numbers, hosts=trio.addresses, batch_size=500, shard=(i, 2), plan=plan)
        for k in b["key"].numpy().tolist()
    ]
    assert sorted(read) == list(range(3000))

    stale = dataclasses.replace(plan, topology=(major - 1, 0))
    with pytest.raises(TopologyChangedError, match=f"version {major - 1} -> {major}") as raised:
        list(ignite_fast.IgniteDataset(numbers, hosts=trio.addresses, batch_size=500, shard=(0, 2), plan=stale))
    assert raised.value.planned == (major - 1, 0)
    assert raised.value.current[0] == major


def test_the_pytorch_adaptor_raises_in_its_dataloader_workers(trio, numbers):
    """In a fresh interpreter: this one has loaded TensorFlow (see test_distributed.py)."""
    code = f"""
import dataclasses, json
from torch.utils.data import DataLoader
import ignite_fast
from ignite_fast.errors import TopologyChangedError
from ignite_fast.pytorch import IgniteIterableDataset
client = ignite_fast.Client({trio.addresses!r})
plan = client.plan_shards({numbers!r}, 1, balance="partitions")
stale = dataclasses.replace(plan, topology=(plan.topology[0] - 1, 0))
fresh = IgniteIterableDataset({numbers!r}, hosts={trio.addresses!r}, batch_size=500, plan=plan)
keys = sorted(k for b in DataLoader(fresh, batch_size=None, num_workers=2) for k in b["key"].tolist())
try:
    for _ in DataLoader(IgniteIterableDataset({numbers!r}, hosts={trio.addresses!r}, plan=stale), batch_size=None,
                        num_workers=2):
        pass
    raised = None
except TopologyChangedError as e:
    raised = str(e)
print(json.dumps({{"keys": keys == list(range(3000)), "raised": raised}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["keys"], "the plan of the current topology did not read every key once"
    assert result["raised"], result
    assert "topology changed" in result["raised"], result
