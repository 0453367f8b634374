"""Distributed training on a three-node cluster: shard plans balanced by entry count and local to
each worker's node, the PyTorch adaptor, and two TensorFlow workers with
MultiWorkerMirroredStrategy under torchrun (TF_CONFIG from its rendezvous, an agreed plan),
restarted from their igfs checkpoint when one is killed. PyTorch under torchrun, and a node
leaving mid-epoch: test_torchrun.py."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

import ignite_fast
from ignite_fast.sharding import PLANS_ENV, ShardPlan, plans_to_env
from node_fixtures import TRIO_PORT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "train_digits_multiworker.py"
ROWS = 20_000


@pytest.fixture(scope="module")
def trio(trio):
    """The shared three-node cluster (tests/node_fixtures.py) with this module's caches:
    `lopsided` and `digits`, one backup each, the digits loaded as the example loads them."""
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    for name in ("lopsided", "digits"):
        writer.get_or_create_cache({PROP_NAME: name, PROP_BACKUPS_NUMBER: 1})
    writer.close()
    # The digits, as the example loads them (its own --load).
    loaded = subprocess.run(
        [sys.executable, str(EXAMPLE), "--load", "--hosts", trio.addresses[0]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    return trio


@pytest.fixture(scope="module")
def lopsided(trio) -> set[int]:
    """20,000 keys of which those in partitions 0-511 are then removed: all entries sit in the
    upper half of the partitions, so contiguous partition ranges would give worker 0 nothing."""
    client = ignite_fast.Client(trio.addresses)
    client.put_batches("lopsided", {"key": np.arange(ROWS, dtype=np.int64), "val": np.arange(ROWS, dtype=np.int32)})
    doomed = [k for b in client.scan("lopsided", partitions=range(512)) for k in b["key"].tolist()]
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    writer.get_cache("lopsided").remove_keys(doomed)
    writer.close()
    assert 0 < len(doomed) < ROWS
    return set(range(ROWS)) - set(doomed)


def _keys(batches) -> list[int]:
    return [k for b in batches for k in b["key"].tolist()]


def test_partition_sizes_count_every_entry(trio, lopsided):
    client = ignite_fast.Client(trio.addresses)
    sizes = client.partition_sizes("lopsided")
    assert len(sizes) == 1024
    assert sum(sizes) == len(lopsided)
    assert sum(sizes[:512]) == 0
    for part in (600, 700, 1023):
        assert sizes[part] == len(_keys(client.scan("lopsided", part=part)))


def test_plan_balances_entries_and_prefers_each_workers_node(trio, lopsided):
    client = ignite_fast.Client(trio.addresses)
    naive = [len(_keys(client.scan("lopsided", shard=(i, 2)))) for i in range(2)]
    assert naive == [0, len(lopsided)]  # what partition ranges do with lopsided data

    plan = client.plan_shards("lopsided", 3, homes=trio.addresses)
    read = [_keys(client.scan("lopsided", shard=(i, 3), plan=plan, parallel=2)) for i in range(3)]
    assert [len(keys) for keys in read] == list(plan.entries)
    assert sorted(k for keys in read for k in keys) == sorted(lopsided)  # each key exactly once
    heaviest = max(client.partition_sizes("lopsided"))
    assert all(abs(n - len(lopsided) / 3) <= heaviest for n in plan.entries), plan.entries
    # Partitions whose primary is the worker's own node: nearly all of them (a third by chance).
    primaries = client.partition_map("lopsided")
    own = [bytes(ignite_fast.Client(a)._native.node_id()) for a in trio.addresses]
    for i, shard in enumerate(plan.shards):
        local = sum(primaries[p] == own[i] for p in shard)
        assert local == plan.local_partitions[i]
        assert local >= 0.8 * len(shard), plan.describe()

    by_count = client.plan_shards("lopsided", 4, balance="partitions")
    assert by_count.entries is None
    assert {len(s) for s in by_count.shards} == {256}
    assert ShardPlan.from_dict(json.loads(json.dumps(plan.to_dict()))) == plan


def test_a_plan_in_the_environment_decides_shards(trio, lopsided, monkeypatch):
    client = ignite_fast.Client(trio.addresses)
    plan = client.plan_shards("lopsided", 2, balance="entries")
    monkeypatch.setenv(PLANS_ENV, plans_to_env([plan]))
    assert [len(_keys(client.scan("lopsided", shard=(i, 2)))) for i in range(2)] == list(plan.entries)
    # Three shards do not fit the plan's two: contiguous ranges, still each key once.
    thirds = [_keys(client.scan("lopsided", shard=(i, 3))) for i in range(3)]
    assert sorted(k for keys in thirds for k in keys) == sorted(lopsided)
    with pytest.raises(ignite_fast.InvalidArgumentError, match="does not fit"):
        next(client.scan("lopsided", shard=(0, 3), plan=plan))
    with pytest.raises(ignite_fast.InvalidArgumentError, match="out of range"):
        next(client.scan("lopsided", partitions=[1024]))
    with pytest.raises(ignite_fast.InvalidArgumentError, match="exactly once"):
        ShardPlan(cache="lopsided", partition_count=4, shards=((0, 1), (1, 2, 3)))


def _in_fresh_process(code: str) -> dict:
    """Runs ``code`` in a new interpreter and returns the JSON it prints last. PyTorch runs apart
    from this test process, which has loaded TensorFlow: TensorFlow and triton (which torch.optim
    imports) each bundle LLVM, and LLVM aborts when both are in one process."""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-6000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_torch_dataloader_workers_and_ranks_read_every_key_once(trio, lopsided):
    result = _in_fresh_process(f"""
import json, torch
from torch.utils.data import DataLoader
from ignite_fast.pytorch import IgniteIterableDataset
keys = []
for rank in range(2):  # two processes' worth of ranks, two DataLoader workers each
    dataset = IgniteIterableDataset("lopsided", hosts={trio.addresses!r}, batch_size=500, shard=(rank, 2))
    for batch in DataLoader(dataset, batch_size=None, num_workers=2):
        assert isinstance(batch["key"], torch.Tensor) and batch["key"].dtype == torch.int64
        assert batch["val"].dtype == torch.int32
        assert torch.equal(batch["val"], batch["key"].to(torch.int32))
        keys += batch["key"].tolist()
print(json.dumps({{"keys": keys}}))
""")
    keys = result["keys"]
    duplicates = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert not duplicates
    assert set(keys) == lopsided


def test_torch_trains_a_small_model_on_the_digits(trio):
    result = _in_fresh_process(f"""
import json, torch
from torch.utils.data import DataLoader
from ignite_fast.pytorch import IgniteIterableDataset
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
dataset = IgniteIterableDataset("digits", hosts={trio.addresses!r}, batch_size=64, columns=["pixels", "label"])
loader = DataLoader(dataset, batch_size=None, num_workers=2)
for _epoch in range(15):
    for batch in loader:
        train = batch["key"] % 5 != 0
        x = batch["val"]["pixels"][train].float() / 255
        loss = torch.nn.functional.cross_entropy(model(x), batch["val"]["label"][train].long())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
correct = total = 0
with torch.no_grad():
    for batch in loader:
        held_out = batch["key"] % 5 == 0
        predicted = model(batch["val"]["pixels"][held_out].float() / 255).argmax(dim=1)
        correct += int((predicted == batch["val"]["label"][held_out]).sum())
        total += int(held_out.sum())
print(json.dumps({{"correct": correct, "total": total}}))
""")
    assert result["total"] == 360, result
    assert result["correct"] / result["total"] > 0.9, result


class Torchrun:
    """``torchrun --standalone --nproc-per-node=N`` of the TensorFlow example, its output line by line."""

    def __init__(self, workers: int, args: list[str], max_restarts: int = 0):
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="2",
            PYTHONUNBUFFERED="1",
            TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1",  # a store per attempt (see README)
        )
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "torchrun"),
                "--standalone",
                f"--nproc-per-node={workers}",
                f"--max-restarts={max_restarts}",
                "--monitor-interval=0.5",
                str(EXAMPLE),
                *args,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # torchrun and its workers: one group to stop
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 240) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.grep(pattern):
                return found[0]
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                if found := self.grep(pattern):
                    return found[0]
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matches {pattern!r}:\n{self.output()[-6000:]}")

    def finish(self, timeout: float = 400) -> int | None:
        try:
            status = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            status = None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the job
        self.proc.wait()
        self._reader.join(timeout=10)
        return status

    def output(self) -> str:
        return "\n".join(self.lines)

    def grep(self, pattern: str) -> list[re.Match]:
        # every match of every line: two workers' lines may have run together in one
        return [m for line in list(self.lines) for m in re.finditer(pattern, line)]


def _train(trio, tmp_path, workers: int, *extra: str, max_restarts: int = 0) -> Torchrun:
    run_dir = f"igfs://{trio.addresses[0]}/pytest/{tmp_path.name}"
    args = ["--hosts", ",".join(trio.addresses), "--checkpoint-dir", f"{run_dir}/checkpoints", *extra]
    return Torchrun(workers, args, max_restarts=max_restarts)


def test_two_tensorflow_workers_under_torchrun_read_disjoint_shards_and_train_like_one(trio, tmp_path):
    keys_dir = tmp_path / "keys"
    two = _train(trio, tmp_path / "two", 2, "--steps", "300", "--keys-out", str(keys_dir))
    assert two.finish() == 0, two.output()[-6000:]
    shards = [set(np.load(keys_dir / f"worker-{i}-attempt-0.npy").tolist()) for i in range(2)]
    assert not shards[0] & shards[1]
    assert shards[0] | shards[1] == set(range(1797))
    assert abs(len(shards[0]) - len(shards[1])) < 100
    assert len(two.grep(r"\[worker 1\] step 300 ")) == 1  # the second worker trained along
    two_accuracy = float(two.wait_for(r"\[worker 0\] held-out accuracy ([0-9.]+)").group(1))

    one = _train(trio, tmp_path / "one", 1, "--steps", "300")
    assert one.finish() == 0, one.output()[-6000:]
    one_accuracy = float(one.wait_for(r"\[worker 0\] held-out accuracy ([0-9.]+)").group(1))
    assert one_accuracy > 0.9
    assert two_accuracy > 0.9
    assert abs(two_accuracy - one_accuracy) < 0.04, (one_accuracy, two_accuracy)


def test_a_killed_tensorflow_worker_restarts_the_job_from_its_igfs_checkpoint(trio, tmp_path):
    run = _train(trio, tmp_path, 2, "--steps", "500", "--checkpoint-every", "50", max_restarts=1)
    pid = int(run.wait_for(r"\[worker 1\] pid (\d+)").group(1))
    run.wait_for(r"\[worker 1\] step 150 ")
    os.kill(pid, 9)
    assert run.finish() == 0, run.output()[-6000:]
    assert run.grep(rf"\(exitcode: -9\) local_rank: 1 \(pid: {pid}\)"), run.output()[-6000:]
    resumed = [int(m.group(2)) for m in run.grep(r"\[worker (\d)\] resuming from igfs://.* at step (\d+)")]
    assert len(resumed) == 2, run.output()[-6000:]
    assert resumed[0] == resumed[1] >= 150, run.output()[-6000:]
    assert len(run.grep(r"\[worker \d\] finished at step 500 ")) == 2
    assert run.grep(r"\[worker 0\] held-out accuracy 0\.9")
