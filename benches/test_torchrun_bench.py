"""Aggregate read throughput of 1 to 4 torchrun ranks against three local nodes.

``torchrun --standalone --nproc-per-node N`` starts the ranks; each makes an
``IgniteIterableDataset`` after ``init_process_group("gloo")``, so the ranks agree on one shard
plan through the process group (homes gathered, rank 0 plans, the plan broadcast) and rank r
reads shard r through a DataLoader (``DATALOADER_WORKERS`` workers). The ranks stay alive across
rounds: rank 0 waits for "go" on its stdin (torchrun's workers inherit the agent's), broadcasts
it, and a round is one epoch by every rank, timed by the ranks themselves from a barrier to the
last rank's end (each rank gathers its rows and its start and end times to rank 0, which prints
one JSON line). The benchmark's own clock times the whole round trip (go to the JSON line, a few
milliseconds more); the ranks' median is kept in ``extra_info["in-rank seconds"]``. Every round
must read every key exactly once in all: the ranks' rows, and the sums of their keys and of
their squares, add up to the cache's (keys 0..rows-1).

On this 2-core machine the three JVMs and up to four ranks share two cores, so this shows the
cost of coordination (the plan, gloo, one process per rank), not scaling; on real hardware each
rank and node has its own cores.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import quiet_before_timing, record

ROUNDS, WARMUP_ROUNDS = 3, 1
TORCHRUN = Path(sys.executable).parent / "torchrun"
# 0: each rank reads in its own process (a DataLoader worker per rank only adds a process on two cores).
DATALOADER_WORKERS = 0

RANK_SCRIPT = r"""
import json, sys, time
import torch.distributed as dist
from torch.utils.data import DataLoader
from ignite_fast.pytorch import IgniteIterableDataset

cache, hosts, loader_workers = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
dist.init_process_group("gloo")
rank, world = dist.get_rank(), dist.get_world_size()
dataset = IgniteIterableDataset(cache, hosts=hosts, parallel=2)  # the ranks agree on one plan here
loader = DataLoader(dataset, batch_size=None, num_workers=loader_workers)
if rank == 0:
    plan = dataset.plan.describe() if dataset.plan is not None else "none: one rank reads the whole cache"
    print(json.dumps({"ready": world, "plan": plan}), flush=True)
while True:
    box = [sys.stdin.readline().strip() if rank == 0 else None]
    dist.broadcast_object_list(box, src=0)
    if box[0] != "go":
        break
    dist.barrier()
    start = time.time()  # one machine, one clock: the ranks' times compare
    rows = key_sum = key_squares = 0
    for batch in loader:
        keys = batch["key"]
        rows += len(keys)
        key_sum += int(keys.sum())
        key_squares += int((keys * keys).sum())
    end = time.time()
    reports = [None] * world
    dist.all_gather_object(reports, (rows, key_sum, key_squares, start, end))
    if rank == 0:
        rows, key_sum, key_squares, starts, ends = zip(*reports)
        report = {"rows": sum(rows), "key_sum": sum(key_sum), "key_squares": sum(key_squares)}
        print(json.dumps({**report, "seconds": max(ends) - min(starts)}), flush=True)
dist.destroy_process_group()
"""


class Ranks:
    """``count`` torchrun ranks reading ``cache``, kept alive across rounds."""

    def __init__(self, cache: dict, count: int, script: Path):
        env = dict(
            os.environ,
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
            TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1",  # as tests/cluster/test_torchrun.py starts torchrun
        )
        command = [str(TORCHRUN), "--standalone", f"--nproc-per-node={count}", str(script)]
        command += [cache["name"], ",".join(cache["addresses"]), str(DATALOADER_WORKERS)]
        self.proc = subprocess.Popen(
            command,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # the ranks and the agent end together (see close)
        )
        ready = self._report("ready")
        assert ready["ready"] == count
        self.plan: str = ready["plan"]
        self.seconds: list[float] = []

    def _report(self, key: str) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                report = json.loads(line)
                if key in report:
                    return report
        raise AssertionError(f"torchrun ended (status {self.proc.wait()}) before rank 0 reported {key!r}")

    def one_epoch(self) -> dict:
        """One epoch by every rank: the rows they read in all, and the sums of their keys and squares."""
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        report = self._report("seconds")
        self.seconds.append(report.pop("seconds"))
        return report

    def close(self) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write("stop\n")
            self.proc.stdin.close()
            status = self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            status = None
        if status is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        assert status == 0, f"torchrun ended with status {status}"


@pytest.fixture(scope="module")
def rank_script(tmp_path_factory) -> Path:
    script = tmp_path_factory.mktemp("torchrun") / "read_epochs.py"
    script.write_text(RANK_SCRIPT)
    return script


@pytest.mark.parametrize("scenario", ["mnist", "1mb"])
@pytest.mark.parametrize("ranks", [1, 2, 3, 4])
def test_torchrun_aggregate_read_throughput(benchmark, caches, bench_trio, rank_script, scenario, ranks):
    cache = caches.get(scenario, nodes=3)
    readers = Ranks(cache, ranks, rank_script)
    epochs: list[dict] = []
    try:
        quiet_before_timing(bench_trio)

        def epoch() -> int:
            epochs.append(readers.one_epoch())
            return epochs[-1]["rows"]

        read = benchmark.pedantic(epoch, rounds=ROUNDS, iterations=1, warmup_rounds=WARMUP_ROUNDS)
    finally:
        readers.close()
    # Every epoch (the warm-up's too) read every key exactly once across the ranks. The keys are
    # 0..rows-1: the count, sum and sum of squares of the keys read all match only then (a key
    # read twice and another missed would have to leave both sums unchanged).
    n = cache["rows"]
    once = {"rows": n, "key_sum": n * (n - 1) // 2, "key_squares": (n - 1) * n * (2 * n - 1) // 6}
    assert epochs == [once] * (ROUNDS + WARMUP_ROUNDS)
    benchmark.extra_info["plan"] = readers.plan
    benchmark.extra_info["in-rank seconds"] = statistics.median(readers.seconds[WARMUP_ROUNDS:])
    record(
        benchmark,
        f"{scenario} (3 nodes, torchrun)",
        f"torchrun {ranks} rank{'s' if ranks > 1 else ''}",
        read,
        read * cache["value_bytes"],
    )
