"""IgniteIterableDataset under real torchrun, with no launcher of ours: two agents (two "machines"
on loopback, c10d rendezvous), two ranks each, over the three-node cluster, training the digits
with DDP (examples/torchrun_digits.py).

- One epoch reads every key exactly once, each rank's shard mostly on its home node.
- A worker killed mid-epoch (SIGKILL): torchrun restarts the job, which resumes from its igfs://
  checkpoint (the step carries on) and finishes.
- An Ignite node killed mid-epoch: TopologyChangedError (exit 200), torchrun restarts the job with
  a fresh plan, and the epochs after it again read every key exactly once. Kills a node: last.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

from node_fixtures import TRIO_PORT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "torchrun_digits.py"
TORCHRUN = Path(sys.executable).parent / "torchrun"
CACHE = "torchrun_digits"
DIGITS = 1797


@pytest.fixture(scope="module")
def digits(trio) -> list[str]:
    """The digits in a cache that keeps one backup, loaded as the example loads them."""
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    writer.get_or_create_cache({PROP_NAME: CACHE, PROP_BACKUPS_NUMBER: 1})
    writer.close()
    hosts = ",".join(trio.addresses)
    loaded = subprocess.run(
        [sys.executable, str(EXAMPLE), "--load", "--hosts", hosts, "--cache", CACHE],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    return trio.addresses


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agents:
    """Two torchrun agents of one job on this host, two ranks each; their output line by line."""

    def __init__(self, hosts: list[str], tmp_path: Path, *args: str, max_restarts: int = 0):
        port, job = _free_port(), f"pytest-{uuid.uuid4().hex[:8]}"
        env = dict(
            os.environ,
            TF_CPP_MIN_LOG_LEVEL="2",
            OMP_NUM_THREADS="1",
            PYTHONUNBUFFERED="1",
            IGFS_FS_NAME=job,  # checkpoints in caches of their own, made with a backup by the example
            # torchrun's c10d rendezvous shares its store with the workers by default and keeps it
            # across restarts: restarted ranks then read the previous attempt's addresses and fail
            # to connect (pytorch/pytorch#135712). A store per attempt avoids it.
            TORCH_DISABLE_SHARE_RDZV_TCP_STORE="1",
        )
        command = [
            str(TORCHRUN),
            "--nnodes=2",
            "--nproc-per-node=2",
            f"--max-restarts={max_restarts}",
            "--monitor-interval=0.5",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint=127.0.0.1:{port}",
            f"--rdzv-id={job}",
            str(EXAMPLE),
            "--hosts",
            ",".join(hosts),
            "--cache",
            CACHE,
            "--checkpoint",
            f"igfs://{hosts[0]}/pytest/{job}/checkpoint.pt",
            *args,
        ]
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self.procs = [
            subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(2)
        ]
        self._readers = [threading.Thread(target=self._read, args=(p,), daemon=True) for p in self.procs]
        for reader in self._readers:
            reader.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def grep(self, pattern: str) -> list[re.Match]:
        with self._lock:
            # every match of every line: two ranks' lines may have run together in one
            return [m for line in self.lines for m in re.finditer(pattern, line)]

    def wait_for(self, pattern: str, timeout: float = 300) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := self.grep(pattern):
                return found[0]
            if all(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matches {pattern!r}:\n{self.output()}")

    def finish(self, timeout: float = 300) -> list[int | None]:
        """Each agent's exit status (None: still running after ``timeout`` seconds, then killed)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and any(p.poll() is None for p in self.procs):
            time.sleep(0.2)
        statuses = [p.poll() for p in self.procs]
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)  # a stuck agent, and workers an agent left behind
            p.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        return statuses

    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines[-150:])


def _epoch_keys(keys_dir: Path, epoch: int, topology: str = "*") -> dict[int, list[int]]:
    """The keys each rank read in ``epoch`` (under the plan of topology ``topology``), by rank."""
    return {
        int(path.name.split("-")[1]): json.loads(path.read_text())
        for path in keys_dir.glob(f"rank-*-epoch-{epoch}-topology-{topology}.json")
    }


def _exactly_once(keys: list[int]) -> None:
    duplicates = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} keys read twice"
    assert sorted(keys) == list(range(DIGITS)), f"{DIGITS - len(set(keys))} keys not read"


SAID = r"\[rank (\d) restart (\d+)\] "


def test_two_agents_read_every_key_once_mostly_from_their_home_nodes(digits, tmp_path):
    started = time.monotonic()
    keys_dir = tmp_path / "keys"
    run = Agents(digits, tmp_path, "--epochs", "2", "--keys-out", str(keys_dir))
    assert run.finish() == [0, 0], run.output()
    for epoch in range(2):
        by_rank = _epoch_keys(keys_dir, epoch)
        assert sorted(by_rank) == [0, 1, 2, 3]
        _exactly_once([k for keys in by_rank.values() for k in keys])
    shares = {}
    for m in run.grep(SAID + r"pid \d+ home (\S+): (\d+) partitions, (\d+) on its home node"):
        shares[int(m.group(1))] = (m.group(3), int(m.group(5)) / int(m.group(4)))
    assert sorted(shares) == [0, 1, 2, 3], run.output()
    assert {home for home, _ in shares.values()} == set(digits)  # four ranks spread over the three nodes
    assert min(share for _, share in shares.values()) >= 0.5, shares
    print(f"\nlocal share by rank: {shares}; two epochs in {time.monotonic() - started:.0f} s")
    assert run.grep(SAID + r"held-out accuracy 0\.[89]")


def test_a_killed_worker_restarts_the_job_from_its_igfs_checkpoint(digits, tmp_path):
    run = Agents(digits, tmp_path, "--epochs", "5", "--step-delay", "0.1", max_restarts=1)
    pid = int(run.wait_for(r"\[rank 1 restart 0\] pid (\d+) ").group(1))
    run.wait_for(r"\[rank 1 restart 0\] epoch 1 done")
    os.kill(pid, 9)
    assert run.finish(timeout=150) == [0, 0], run.output()
    resumed = [
        (int(m.group(3)), int(m.group(4)))
        for m in run.grep(SAID + r"resuming from igfs://\S+ at epoch (\d+) step (\d+)")
    ]
    assert len(resumed) == 4, run.output()
    assert len(set(resumed)) == 1, run.output()
    epoch, step = resumed[0]
    assert epoch >= 2
    assert step > 0
    finished = [int(m.group(3)) for m in run.grep(SAID + r"finished at epoch 5 step (\d+)")]
    assert len(finished) == 4, run.output()  # every rank of the last attempt, once
    assert min(finished) > step  # the step carried on from the checkpoint


def test_a_node_leaving_mid_epoch_restarts_the_job_with_a_fresh_plan(digits, trio, tmp_path):
    """Keep last: kills an Ignite node."""
    keys_dir = tmp_path / "keys"
    run = Agents(digits, tmp_path, "--epochs", "5", "--step-delay", "0.1", "--keys-out", str(keys_dir), max_restarts=1)
    first = run.wait_for(SAID + r"pid \d+ home \S+: .* topology \((\d+), \d+\)")
    run.wait_for(r"\[rank 1 restart 0\] epoch 1 done")
    trio.kill_node(2)
    assert run.finish() == [0, 0], run.output()
    assert run.grep(r"ignite_fast: exit status 200: .*TopologyChangedError"), run.output()
    assert run.grep(r"exitcode\s*: 200"), run.output()  # torchrun saw the status and restarted
    before, after = int(first.group(3)), None
    for m in run.grep(SAID + r"pid \d+ home (\S+): .* topology \((\d+), \d+\)"):
        if int(m.group(4)) != before:
            after = int(m.group(4))
            assert m.group(3) != digits[2]  # no rank makes its home on the node that left
    assert after is not None, run.output()
    assert after > before, run.output()
    resumed = {int(m.group(3)) for m in run.grep(SAID + r"resuming from igfs://\S+ at epoch (\d+) step \d+")}
    assert len(resumed) == 1
    assert resumed.pop() >= 2
    # Every epoch read under the fresh plan reads every key exactly once (one backup: nothing lost).
    fresh = [e for e in range(5) if len(_epoch_keys(keys_dir, e, str(after))) == 4]
    assert fresh, sorted(p.name for p in keys_dir.iterdir())
    assert fresh[-1] == 4, sorted(p.name for p in keys_dir.iterdir())
    for epoch in fresh:
        _exactly_once([k for keys in _epoch_keys(keys_dir, epoch, str(after)).values() for k in keys])
