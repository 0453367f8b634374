"""One shard plan per attempt, the same on every worker (ignite_fast.distributed.agreed_plan), on
the three-node cluster: through a plan record in Ignite for workers started seconds apart while
the cache grows, and through a collective (threads standing in for ranks; the real
torch.distributed one is in test_torchrun.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid

import numpy as np
import pytest
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.cache_config import CacheAtomicityMode, WriteSynchronizationMode
from pyignite.datatypes.prop_codes import (
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_NAME,
    PROP_READ_FROM_BACKUP,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)

import ignite_fast
import ignite_fast.distributed.records
from ignite_fast.distributed import PLAN_RECORDS, WorkerContext, agreed_plan, plan_record_dir
from ignite_fast.igfs import IgniteFileSystem
from ignite_fast.sharding import ShardPlan
from node_fixtures import TRIO_PORT

WORKERS = 3
FIRST_ROWS = 6_000


def _create(cache: str, backups: int = 1) -> None:
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    writer.get_or_create_cache({PROP_NAME: cache, PROP_BACKUPS_NUMBER: backups})
    writer.close()


def _put(client: ignite_fast.Client, cache: str, start: int, stop: int) -> None:
    keys = np.arange(start, stop, dtype=np.int64)
    client.put_batches(cache, {"key": keys, "val": keys.astype(np.int32)}, create=False, progress=False)


WORKER = """
import json, sys
import ignite_fast
from ignite_fast.distributed import agreed_plan, worker_context
client = ignite_fast.Client({hosts!r})
context = worker_context()
plan = agreed_plan(client, {cache!r}, context, progress=False)
keys = [k for batch in client.scan({cache!r}, partitions=plan[context.rank]) for k in batch["key"].tolist()]
print(json.dumps({{"plan": plan.to_dict(), "keys": keys}}))
"""


def test_workers_started_apart_agree_on_one_plan_while_the_cache_grows(trio):
    cache, job = f"agree_{uuid.uuid4().hex[:8]}", f"pytest-{uuid.uuid4().hex[:8]}"
    _create(cache)
    client = ignite_fast.Client(trio.addresses)
    _put(client, cache, 0, FIRST_ROWS)
    written = [FIRST_ROWS]
    stop = threading.Event()

    def grow() -> None:  # a few hundred rows every tenth of a second, all along
        while not stop.is_set():
            _put(client, cache, written[0], written[0] + 300)
            written[0] += 300
            time.sleep(0.1)

    grower = threading.Thread(target=grow, daemon=True)
    grower.start()
    procs = []
    try:
        for rank in (2, 0, 1):  # rank 0 neither first nor last
            env = {
                "PATH": "/usr/bin:/bin",
                "RANK": str(rank),
                "WORLD_SIZE": str(WORKERS),
                "LOCAL_RANK": str(rank),
                "LOCAL_WORLD_SIZE": str(WORKERS),
                "IGNITE_FAST_JOB_ID": job,
            }
            code = WORKER.format(hosts=trio.addresses, cache=cache)
            procs.append(
                (rank, subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True))
            )
            time.sleep(1.5)
        results = {}
        for rank, proc in procs:
            out, _ = proc.communicate(timeout=120)
            assert proc.returncode == 0, f"rank {rank} failed"
            results[rank] = json.loads(out.strip().splitlines()[-1])
    finally:
        stop.set()
        grower.join()
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
    plans = {rank: ShardPlan.from_dict(r["plan"]) for rank, r in results.items()}
    assert plans[0] == plans[1] == plans[2]
    assert len(plans[0]) == WORKERS
    plan = plans[0]
    assert sum(plan.entries) >= FIRST_ROWS  # counted once, by rank 0, as the cache grew
    read = [k for r in results.values() for k in r["keys"]]
    assert len(read) == len(set(read)), "a key was read by two workers"
    assert set(range(FIRST_ROWS)) <= set(read) <= set(range(written[0]))
    # Homes were spread over the three nodes (one per local rank): most partitions are local.
    assert plan.local_partitions is not None
    shares = [local / len(shard) for local, shard in zip(plan.local_partitions, plan.shards, strict=True)]
    assert min(shares) > 0.8, plan.describe()
    # The record is on the cluster's IGFS, where a restarted worker finds it.
    major = client.topology_version()[0]
    record = f"{plan_record_dir(WorkerContext(0, WORKERS, job_id=job), major)}/{cache}.json"
    assert ShardPlan.from_dict(json.loads(IgniteFileSystem("127.0.0.1", TRIO_PORT).read_bytes(record))) == plan
    again = agreed_plan(client, cache, WorkerContext(1, WORKERS, job_id=job), home="", progress=False)
    assert again == plan  # the same topology, the same plan: nothing is counted again


def test_a_worker_whose_rank_0_never_comes_gives_up(trio):
    cache = f"agree_{uuid.uuid4().hex[:8]}"
    _create(cache)
    client = ignite_fast.Client(trio.addresses)
    lonely = WorkerContext(1, 2, job_id=f"pytest-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    with pytest.raises(ignite_fast.IgniteTimeoutError, match="shard plan"):
        agreed_plan(client, cache, lonely, home="", timeout=2.0)
    assert time.monotonic() - started < 10
    with pytest.raises(ignite_fast.InvalidArgumentError, match="IGNITE_FAST_JOB_ID"):
        agreed_plan(client, cache, WorkerContext(1, 2), home="")


class ThreadCollective:
    """Ranks as threads of one process: what torch.distributed's object collectives do."""

    def __init__(self, world: int):
        self.barrier = threading.Barrier(world, timeout=60)
        self.slots: list = [None] * world
        self.root = None

    def for_rank(self, rank: int):
        collective = self

        class Rank:
            def all_gather(self, value):
                collective.slots[rank] = value
                collective.barrier.wait()
                gathered = list(collective.slots)
                collective.barrier.wait()
                return gathered

            def broadcast(self, value):
                if rank == 0:
                    collective.root = value
                collective.barrier.wait()
                value = collective.root
                collective.barrier.wait()
                return value

        return Rank()


def _agree_in_threads(trio, cache: str, world: int) -> dict:
    collective = ThreadCollective(world)
    client = ignite_fast.Client(trio.addresses)
    out: dict = {}

    def rank(r: int) -> None:
        context = WorkerContext(r, world, local_rank=r, local_world_size=world)
        try:
            out[r] = agreed_plan(client, cache, context, collective=collective.for_rank(r), progress=False)
        except ignite_fast.IgniteError as e:
            out[r] = e

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_ranks_agree_through_the_engines_collective(trio):
    cache = f"agree_{uuid.uuid4().hex[:8]}"
    _create(cache)
    _put(ignite_fast.Client(trio.addresses), cache, 0, FIRST_ROWS)
    plans = _agree_in_threads(trio, cache, 3)
    assert plans[0] == plans[1] == plans[2]
    assert sum(plans[0].entries) == FIRST_ROWS
    assert min(plans[0].local_partitions) > 0.8 * min(len(s) for s in plans[0].shards), plans[0].describe()
    # Rank 0 cannot plan a cache that does not exist: it raises its error, every other rank hears
    # why, and none waits forever.
    missing = f"missing_{uuid.uuid4().hex[:8]}"
    failed = _agree_in_threads(trio, missing, 2)
    assert isinstance(failed[0], ignite_fast.IgniteError)
    assert "rank 0" not in str(failed[0])
    assert f"rank 0 could not plan the shards of {missing!r}: {type(failed[0]).__name__}" in str(failed[1])


def _agree_by_record(trio, cache: str, job: str, attempt: int | None, world: int = 2) -> list:
    """``world`` ranks (threads) of ``job`` agreeing through a plan record; their plans by rank."""
    client = ignite_fast.Client(trio.addresses)
    plans: list = [None] * world

    def rank(r: int) -> None:
        context = WorkerContext(r, world, job_id=job, attempt=attempt)
        try:
            plans[r] = agreed_plan(client, cache, context, home="", timeout=60, progress=False)
        except ignite_fast.IgniteError as e:
            plans[r] = e

    threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(p, ShardPlan) for p in plans), plans
    return plans


def _record(trio, job: str, world: int, attempt: int | None, cache: str, major_offset: int = 0) -> str:
    major = ignite_fast.Client(trio.addresses).topology_version()[0] + major_offset
    return f"{plan_record_dir(WorkerContext(0, world, job_id=job, attempt=attempt), major)}/{cache}.json"


def _write(fs: IgniteFileSystem, path: str, data: bytes = b"{}") -> None:
    with fs.open(path, "wb", makedirs=True) as f:
        f.write(data)


def test_a_new_attempts_plan_removes_the_records_of_the_attempts_before_it(trio):
    cache, job = f"agree_{uuid.uuid4().hex[:8]}", f"pytest-{uuid.uuid4().hex[:8]}"
    _create(cache)
    _put(ignite_fast.Client(trio.addresses), cache, 0, FIRST_ROWS)
    fs = IgniteFileSystem("127.0.0.1", TRIO_PORT)
    first = _agree_by_record(trio, cache, job, attempt=1)
    earlier = _record(trio, job, 2, 1, cache)
    assert fs.exists(earlier)
    other_world = _record(trio, job, 3, None, cache, major_offset=-1)  # an elastic job that shrank
    newer = _record(trio, job, 2, 1, cache, major_offset=1)  # a worker that saw a node join first
    for path in (other_world, newer):
        _write(fs, path.rpartition("/")[0] + "/homes/0.json")
    second = _agree_by_record(trio, cache, job, attempt=2)
    assert second[0] == second[1]
    assert len(second[0]) == 2
    assert sum(second[0].entries) == sum(first[0].entries)
    assert fs.exists(_record(trio, job, 2, 2, cache))
    assert not fs.exists(earlier.rpartition("/")[0]), "the earlier attempt's records are still there"
    assert not fs.exists(other_world.rpartition("/")[0])
    assert fs.exists(newer.rpartition("/")[0])  # a newer topology's records are not rank 0's to remove


def test_a_plan_removes_other_jobs_records_untouched_for_a_day(trio, monkeypatch):
    cache = f"agree_{uuid.uuid4().hex[:8]}"
    _create(cache)
    _put(ignite_fast.Client(trio.addresses), cache, 0, FIRST_ROWS)
    fs = IgniteFileSystem("127.0.0.1", TRIO_PORT)
    old_job, live_job = f"pytest-old-{uuid.uuid4().hex[:8]}", f"pytest-live-{uuid.uuid4().hex[:8]}"
    _write(fs, _record(trio, old_job, 2, None, cache))
    time.sleep(6)
    _write(fs, _record(trio, live_job, 2, None, "other").rpartition("/")[0] + "/homes/1.json")
    monkeypatch.setattr(ignite_fast.distributed.records, "PLAN_RECORD_MAX_AGE", 4.0)  # a day, shortened
    _agree_by_record(trio, cache, f"pytest-{uuid.uuid4().hex[:8]}", attempt=None)
    assert not fs.exists(f"{PLAN_RECORDS}/{old_job}")
    assert fs.exists(f"{PLAN_RECORDS}/{live_job}")  # written to within the age: a job still agreeing


def test_plan_records_made_first_on_a_cluster_keep_a_backup(trio, monkeypatch):
    """When a plan record is the first use of the cluster's IGFS, its caches are made with one
    backup, so that the records outlive a node as the data does."""
    name = f"plans{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("IGFS_FS_NAME", name)  # a file system nothing has made yet
    cache, job = f"agree_{uuid.uuid4().hex[:8]}", f"pytest-{uuid.uuid4().hex[:8]}"
    _create(cache)
    _put(ignite_fast.Client(trio.addresses), cache, 0, FIRST_ROWS)
    _agree_by_record(trio, cache, job, attempt=None)
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    try:
        for igfs_cache in (f"igfs_{name}_meta", f"igfs_{name}_data"):
            settings = writer.get_cache(igfs_cache).settings
            assert settings[PROP_BACKUPS_NUMBER] == 1, igfs_cache
            # Every copy acknowledges a write, and reads go to the primary copy: a read never
            # goes back in time while another worker's commit reaches the copies.
            assert settings[PROP_WRITE_SYNCHRONIZATION_MODE] == WriteSynchronizationMode.FULL_SYNC, igfs_cache
            assert settings[PROP_READ_FROM_BACKUP] is False, igfs_cache
        assert IgniteFileSystem("127.0.0.1", TRIO_PORT, name=name).exists(_record(trio, job, 2, None, cache))
    finally:
        for igfs_cache in (f"igfs_{name}_meta", f"igfs_{name}_data"):
            writer.get_cache(igfs_cache).destroy()
        writer.close()


@pytest.mark.parametrize("made_by", ["igfs", "others"])
def test_workers_writing_their_homes_into_one_new_directory_at_once_all_succeed(trio, monkeypatch, made_by):
    """Every worker writes its home record with ``makedirs`` into one attempt directory that
    none has made yet. A worker once failed with "no such file or directory" on the directory
    another was making: its check of the parent read a copy that the other's commit had not
    reached. Also on a metadata cache made by others, which serves reads from backup copies:
    there a missing parent is read again under its lock before a write fails."""
    name = f"homes{uuid.uuid4().hex[:8]}"
    meta, data = f"igfs_{name}_meta", f"igfs_{name}_data"
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    if made_by == "others":  # what IGFS needs, and Ignite's default for the rest: reads from backups
        writer.create_cache(
            {
                PROP_NAME: meta,
                PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
                PROP_BACKUPS_NUMBER: 1,
                PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
            }
        )
    workers, rounds = 4, 25
    systems = [
        IgniteFileSystem("127.0.0.1", TRIO_PORT + rank % trio.nodes, name=name, backups=1) for rank in range(workers)
    ]
    failures: list[str] = []
    start = threading.Barrier(workers)

    def write_homes(rank: int) -> None:
        for attempt in range(rounds):
            start.wait(timeout=60)
            path = f"{PLAN_RECORDS}/job/world-{workers}-attempt-{attempt}/homes/{rank}.json"
            try:
                with systems[rank].open(path, "w", makedirs=True) as f:
                    json.dump({"home": rank}, f)
            except Exception as e:  # every failure is reported, not only the one once seen
                failures.append(f"rank {rank}, attempt {attempt}: {type(e).__name__}: {e}")

    try:
        threads = [threading.Thread(target=write_homes, args=(rank,)) for rank in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not failures, failures[:5]
        for attempt in range(rounds):
            homes = systems[0].ls(f"{PLAN_RECORDS}/job/world-{workers}-attempt-{attempt}/homes")
            assert sorted(homes) == sorted(
                f"{PLAN_RECORDS}/job/world-{workers}-attempt-{attempt}/homes/{rank}.json" for rank in range(workers)
            )
    finally:
        for igfs_cache in (meta, data):
            writer.get_cache(igfs_cache).destroy()
        writer.close()


def test_two_torchrun_runs_at_one_store_address_keep_their_own_records(trio):
    """torchrun without --rdzv-id names every run "none", and the default store address is
    127.0.0.1:29500 on every host: two such runs once shared a job id, and the second one's rank
    0 removed the first one's records as its own stale ones. Each run now agrees on its own id
    through its store (one run after the other here, at the same address, as two hosts at once)."""
    from datetime import timedelta

    import torch.distributed as dist

    from ignite_fast.distributed import job_id_from_store, worker_context

    cache = f"agree_{uuid.uuid4().hex[:8]}"
    _create(cache)
    client = ignite_fast.Client(trio.addresses)
    _put(client, cache, 0, FIRST_ROWS)
    fs = IgniteFileSystem("127.0.0.1", TRIO_PORT)
    port, records = 0, []
    for world in (2, 3):  # the second run is bigger: its rank 0 removes its own job's other worlds
        agent = dist.TCPStore("127.0.0.1", port, 1, True, timedelta(seconds=60), wait_for_workers=False)
        port = agent.port
        env = {
            "WORLD_SIZE": str(world),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "TORCHELASTIC_RUN_ID": "none",
            "TORCHELASTIC_USE_AGENT_STORE": "True",
        }
        plans: list = [None] * world

        def rank(r: int, env=env, plans=plans) -> None:
            try:
                plans[r] = agreed_plan(client, cache, worker_context({**env, "RANK": str(r)}), home="", progress=False)
            except ignite_fast.IgniteError as e:
                plans[r] = e

        threads = [threading.Thread(target=rank, args=(r,)) for r in range(world)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert all(isinstance(p, ShardPlan) and len(p) == world for p in plans), plans
        job = job_id_from_store(f"127.0.0.1:{port}", timeout=30)
        records.append(_record(trio, job, world, None, cache))
        del agent
    assert records[0] != records[1]
    assert fs.exists(records[0]), "the second run removed the first run's plan"
    assert fs.exists(records[1])
