"""``ignite-fast train``: runs a distributed training job of N workers on this machine, and
restarts it when a worker dies or the Ignite cluster's topology changes.

Every worker is ``python script.py args...`` with, in its environment:

- ``TF_CONFIG``: the job's workers (``127.0.0.1:<free port>`` each) and this worker's index, as
  ``tf.distribute.MultiWorkerMirroredStrategy`` expects;
- ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT`` for ``torch.distributed``;
- ``IGNITE_FAST_WORKER_INDEX``, ``IGNITE_FAST_NUM_WORKERS``, ``IGNITE_FAST_ATTEMPT`` (0, then 1
  after the first restart, ...), ``IGNITE_FAST_HOSTS`` (the Ignite nodes, comma-separated) and
  ``IGNITE_FAST_HOME`` (the node this worker is placed beside: the nodes are dealt round-robin);
- ``IGNITE_FAST_SHARD_PLANS``: for every ``--cache``, the partitions of each worker, balanced by
  entry count and preferring the worker's home node, computed once per attempt (see
  :mod:`ignite_fast.sharding`); ``IgniteDataset.for_input_context``, ``Client.scan(shard=...)``
  and the PyTorch adaptor pick it up.

Worker output is streamed with a ``[worker i]`` prefix. When a worker exits with an error, or
the cluster's affinity topology changes major version (a server node joined or left), every
worker is stopped (SIGTERM, then SIGKILL after ``--grace`` seconds) and the job starts again, up
to ``--max-restarts`` times; the script is expected to resume from its latest checkpoint (on
``igfs://``, say). The launcher exits 0 when every worker has, else with the failing status.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

from .errors import IgniteError

POLL_SECONDS = 0.1


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@dataclass
class Outcome:
    """How one attempt ended: ``done``, ``failed`` (a worker's exit status), ``topology`` or
    ``interrupted`` (the launcher was told to stop)."""

    kind: str
    status: int = 0
    reason: str = ""


@dataclass
class Job:
    script: str
    args: list[str]
    workers: int
    hosts: list[str]
    caches: list[str] = field(default_factory=list)
    balance: str = "entries"
    max_restarts: int = 3
    topology_poll: float = 2.0
    grace: float = 5.0
    username: str | None = None
    password: str | None = None


class Launcher:
    def __init__(self, job: Job, out: IO[str] | None = None):
        self.job = job
        self.out = out or sys.stdout
        self._print_lock = threading.Lock()
        self._stop_signal: int | None = None
        self._client = None

    # -- output -------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        self._emit(f"[launcher] {message}")

    def _emit(self, line: str) -> None:
        with self._print_lock:
            self.out.write(line + "\n")
            self.out.flush()

    def _stream(self, index: int, pipe: IO[bytes]) -> None:
        for raw in iter(pipe.readline, b""):
            self._emit(f"[worker {index}] {raw.decode('utf-8', 'replace').rstrip()}")
        pipe.close()

    # -- the cluster ----------------------------------------------------------------------------
    def _cluster(self):
        from .client import Client

        if self._client is None:
            self._client = Client(
                self.job.hosts,
                username=self.job.username,
                password=self.job.password,
                connect_timeout=5.0,
                read_timeout=10.0,
            )
        return self._client

    def topology(self) -> tuple[int, int] | None:
        """The cluster's topology version, or None when no node answers (the workers will say)."""
        try:
            return self._cluster().topology_version()
        except IgniteError:
            self._client = None  # its node may be gone: connect afresh to whichever answers next
            try:
                return self._cluster().topology_version()
            except IgniteError:
                self._client = None
                return None

    def homes(self) -> list[str]:
        return [self.job.hosts[i % len(self.job.hosts)] for i in range(self.job.workers)]

    def plans(self) -> list:
        if self.job.balance == "none" or not self.job.caches:
            return []
        client = self._cluster()
        homes = self.homes() if len(self.job.hosts) > 1 else None
        plans = []
        for cache in self.job.caches:
            started = time.monotonic()
            plan = client.plan_shards(cache, self.job.workers, homes=homes, balance=self.job.balance)
            self.log(f"shard plan for {cache!r} ({time.monotonic() - started:.1f} s):")
            for line in plan.describe().splitlines():
                self.log(f"  {line}")
            plans.append(plan)
        return plans

    # -- workers --------------------------------------------------------------------------------
    def worker_env(self, index: int, ports: list[int], attempt: int, plans: list) -> dict[str, str]:
        from .sharding import PLANS_ENV, plans_to_env

        env = dict(os.environ)
        env.update(
            {
                "TF_CONFIG": json.dumps(
                    {
                        "cluster": {"worker": [f"127.0.0.1:{p}" for p in ports[:-1]]},
                        "task": {"type": "worker", "index": index},
                    }
                ),
                "RANK": str(index),
                "WORLD_SIZE": str(self.job.workers),
                "MASTER_ADDR": "127.0.0.1",
                "MASTER_PORT": str(ports[-1]),
                "IGNITE_FAST_WORKER_INDEX": str(index),
                "IGNITE_FAST_NUM_WORKERS": str(self.job.workers),
                "IGNITE_FAST_ATTEMPT": str(attempt),
                "IGNITE_FAST_HOSTS": ",".join(self.job.hosts),
                "IGNITE_FAST_HOME": self.homes()[index],
                "PYTHONUNBUFFERED": "1",
            }
        )
        if plans:
            env[PLANS_ENV] = plans_to_env(plans)
        else:
            env.pop(PLANS_ENV, None)
        return env

    def _start(self, attempt: int, plans: list) -> tuple[list[subprocess.Popen], list[threading.Thread]]:
        ports = free_ports(self.job.workers + 1)  # one TF server port per worker, one for torch
        procs, readers = [], []
        for index in range(self.job.workers):
            proc = subprocess.Popen(
                [sys.executable, "-u", self.job.script, *self.job.args],
                env=self.worker_env(index, ports, attempt, plans),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            self.log(f"worker {index} started, pid {proc.pid}")
            reader = threading.Thread(target=self._stream, args=(index, proc.stdout), daemon=True)
            reader.start()
            procs.append(proc)
            readers.append(reader)
        return procs, readers

    def _stop_all(self, procs: list[subprocess.Popen]) -> None:
        """SIGTERM to every worker's process group, SIGKILL to what is left after the grace."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            alive = [p for p in procs if p.poll() is None]
            for proc in alive:
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + self.job.grace
            while any(p.poll() is None for p in alive) and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
        for proc in procs:
            proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # whatever the worker started and left behind
            except (ProcessLookupError, PermissionError):
                pass

    def _watch(self, procs: list[subprocess.Popen], topology: tuple[int, int] | None) -> Outcome:
        next_check = time.monotonic() + self.job.topology_poll
        while True:
            if self._stop_signal is not None:
                return Outcome("interrupted", 128 + self._stop_signal, f"signal {self._stop_signal}")
            statuses = [p.poll() for p in procs]
            for index, status in enumerate(statuses):
                if status is not None and status != 0:
                    shown = f"signal {-status}" if status < 0 else f"status {status}"
                    return Outcome(
                        "failed",
                        128 - status if status < 0 else status,
                        f"worker {index} (pid {procs[index].pid}) exited with {shown}",
                    )
            if all(s == 0 for s in statuses):
                return Outcome("done")
            if topology is not None and time.monotonic() >= next_check:
                now = self.topology()
                if now is not None and now[0] != topology[0]:
                    return Outcome(
                        "topology",
                        1,
                        f"the cluster's topology changed (version {topology[0]} -> {now[0]}: a node joined or left)",
                    )
                next_check = time.monotonic() + self.job.topology_poll
            time.sleep(POLL_SECONDS)

    def run(self) -> int:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            return self._run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum, _frame) -> None:
        self._stop_signal = signum

    def _run(self) -> int:
        job = self.job
        attempt = 0
        while True:
            topology = self.topology()
            if topology is None:
                self.log(f"no Ignite node answers at {', '.join(job.hosts)}: not watching the topology")
            plans = self.plans() if topology is not None else []
            self.log(f"attempt {attempt + 1} of {job.max_restarts + 1}: {job.workers} workers, topology {topology}")
            procs, readers = self._start(attempt, plans)
            outcome = self._watch(procs, topology)
            if outcome.kind != "done":
                if outcome.reason:
                    self.log(outcome.reason)
                self._stop_all(procs)
            for reader in readers:
                reader.join(timeout=5)
            if outcome.kind == "done":
                self.log("every worker finished")
                return 0
            if outcome.kind == "interrupted":
                self.log("stopped")
                return outcome.status
            if attempt >= job.max_restarts:
                self.log(f"giving up after {job.max_restarts} restarts")
                return outcome.status or 1
            attempt += 1
            self.log(f"restarting every worker (restart {attempt} of {job.max_restarts})")
            time.sleep(1.0)


def parse_args(argv: Sequence[str]) -> Job:
    parser = argparse.ArgumentParser(
        prog="ignite-fast train",
        description="Run N training workers on this machine (TF_CONFIG, shard plans, restarts). "
        "Arguments after the script go to the script.",
    )
    parser.add_argument("--workers", type=int, required=True, help="number of workers to start")
    parser.add_argument(
        "--hosts",
        default=os.environ.get("IGNITE_FAST_HOSTS", "127.0.0.1:10800"),
        help="the Ignite nodes, host:port,... (default 127.0.0.1:10800); worker i is placed beside node i mod N",
    )
    parser.add_argument(
        "--cache", action="append", default=[], help="a cache the workers read: plan its shards (repeatable)"
    )
    parser.add_argument(
        "--balance",
        choices=["entries", "partitions", "none"],
        default="entries",
        help="balance shards by entry count (one counting pass), partition count, or not "
        "plan at all (contiguous ranges)",
    )
    parser.add_argument("--max-restarts", type=int, default=3)
    parser.add_argument("--topology-poll", type=float, default=2.0, help="seconds between topology checks")
    parser.add_argument("--grace", type=float, default=5.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument(
        "--username",
        default=os.environ.get("IGNITE_FAST_USERNAME"),
        help="for clusters with authentication; the password comes from IGNITE_FAST_PASSWORD",
    )
    parser.add_argument("script")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    ns = parser.parse_args(argv)
    if ns.workers < 1:
        parser.error("--workers must be at least 1")
    if ns.max_restarts < 0:
        parser.error("--max-restarts must be >= 0")
    if not os.path.isfile(ns.script):
        parser.error(f"no such script: {ns.script}")
    hosts = [h.strip() for h in ns.hosts.split(",") if h.strip()]
    if not hosts:
        parser.error("--hosts names no node")
    return Job(
        script=ns.script,
        args=ns.args,
        workers=ns.workers,
        hosts=hosts,
        caches=ns.cache,
        balance=ns.balance,
        max_restarts=ns.max_restarts,
        topology_poll=ns.topology_poll,
        grace=ns.grace,
        username=ns.username,
        password=os.environ.get("IGNITE_FAST_PASSWORD"),
    )


def main(argv: Sequence[str] | None = None) -> int:
    job = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return Launcher(job).run()
    except IgniteError as e:
        print(f"ignite-fast train: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
