"""Agreed shard plans on Ignite 3 (ignite_fast.distributed.agreed_plan), the twins of
test_torchrun.py and test_plan_agreement.py: IgniteIterableDataset(..., ignite=3) under real
torchrun with two ranks reads every row of a table exactly once, the ranks agreeing on one plan
through torch.distributed's collective, or, with no process group, through plan records kept in
an Ignite 3 table (IGNITE_FAST_PLANS); on the two-node Ignite 3 cluster, the rows written by
pyignite_dbapi (Ignite 3's own driver)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

import ignite_fast
import ignite_fast.distributed.records
from ignite_fast.distributed import PLAN_TABLE, WorkerContext, agreed_plan, plan_record_dir
from ignite_fast.distributed.records import TablePlanRecords
from ignite_fast.sharding import ShardPlan
from node_fixtures import ignite3_connect

TORCHRUN = Path(sys.executable).parent / "torchrun"
ROWS = 3000

WORKER = """
import json, os, sys
import torch.distributed as dist
from torch.utils.data import DataLoader
from ignite_fast.pytorch import IgniteIterableDataset

hosts, table, mode = sys.argv[1].split(","), sys.argv[2], sys.argv[3]
if mode == "collective":
    dist.init_process_group("gloo")
dataset = IgniteIterableDataset(table, hosts=hosts, ignite=3, batch_size=128, columns=["ID"])
ids = [i for batch in DataLoader(dataset, batch_size=None, num_workers=2) for i in batch["ID"].tolist()]
print("RESULT " + json.dumps({"rank": int(os.environ["RANK"]), "plan": dataset.plan.to_dict(), "ids": ids}), flush=True)
if mode == "collective":
    dist.destroy_process_group()
"""


@pytest.fixture(scope="module")
def numbers3(ignite3_pair) -> str:
    """NUMBERS3: ROWS rows, ID 0..ROWS-1, written by pyignite_dbapi."""
    with ignite3_connect(ignite3_pair) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS NUMBERS3")
        cur.execute("CREATE TABLE NUMBERS3 (ID INT PRIMARY KEY, V BIGINT)")
        cur.executemany("INSERT INTO NUMBERS3 VALUES (?, ?)", [(i, i * 7) for i in range(ROWS)])
    return "NUMBERS3"


def _torchrun(hosts: list[str], table: str, mode: str, tmp_path: Path, job: str) -> list[dict]:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    done = subprocess.run(
        [str(TORCHRUN), "--standalone", "--nproc-per-node=2", str(worker), ",".join(hosts), table, mode],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        # --standalone names its run with a fresh id: the job id names the plan records instead
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", "IGNITE_FAST_JOB_ID": job},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = [json.loads(line.split("RESULT ", 1)[1]) for line in done.stdout.splitlines() if "RESULT " in line]
    assert sorted(r["rank"] for r in results) == [0, 1], done.stdout + done.stderr
    return sorted(results, key=lambda r: r["rank"])


def _every_row_once(results: list[dict]) -> None:
    plans = [ShardPlan.from_dict(r["plan"]) for r in results]
    assert plans[0] == plans[1], "the ranks read by different plans"
    assert len(plans[0]) == 2
    ids = [i for r in results for i in r["ids"]]
    assert sorted(ids) == list(range(ROWS)), "a row was read twice or not at all"
    assert all(r["ids"] for r in results)


@pytest.mark.parametrize("mode", ["collective", "records"])
def test_two_torchrun_ranks_read_every_row_of_an_ignite3_table_once(ignite3_pair, numbers3, tmp_path, mode):
    job = f"pytest-{uuid.uuid4().hex[:8]}"
    results = _torchrun(ignite3_pair.addresses, numbers3, mode, tmp_path, job)
    _every_row_once(results)
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    TablePlanRecords(client)  # the table, if nothing has made it yet
    query = f"SELECT NAME FROM {PLAN_TABLE} WHERE JOB = ?"
    kept = sorted(name for batch in client.sql(query, [job]) for name in batch["NAME"].tolist())
    # through the collective nothing is written; else one row per rank's home and one for the plan
    assert kept == ([] if mode == "collective" else [b"NUMBERS3.json", b"homes/0.json", b"homes/1.json"])


def test_ranks_started_apart_agree_through_the_table(ignite3_pair, numbers3):
    """Threads as ranks, rank 0 neither first nor last, with no collective: plan records."""
    job = f"pytest-{uuid.uuid4().hex[:8]}"
    plans: dict[int, ShardPlan] = {}
    failures: list[BaseException] = []

    def rank(r: int) -> None:
        try:
            client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
            context = WorkerContext(rank=r, world_size=3, job_id=job)
            plans[r] = agreed_plan(client, numbers3, context, timeout=120)
        except BaseException as e:  # raised below, in the test's thread
            failures.append(e)

    threads = []
    for r in (2, 0, 1):
        threads.append(threading.Thread(target=rank, args=(r,)))
        threads[-1].start()
        time.sleep(0.5)
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert plans[0] == plans[1] == plans[2]
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    covered = sorted(p for shard in plans[0] for p in shard)
    assert covered == list(range(client.partitions(numbers3)))
    assert sum(plans[0].entries) == ROWS  # balanced by rows counted on the server


def test_the_first_plan_written_holds_and_stale_records_go(ignite3_pair, monkeypatch):
    client = ignite_fast.Client(ignite3_pair.addresses, ignite=3)
    records = TablePlanRecords(client)
    job, old_job = f"pytest-{uuid.uuid4().hex[:8]}", f"pytest-old-{uuid.uuid4().hex[:8]}"
    first = plan_record_dir(WorkerContext(0, 2, job_id=job, attempt=1), None)
    assert records.create(f"{first}/T.json", {"plan": 1})
    assert not records.create(f"{first}/T.json", {"plan": 2})  # a second writer loses
    assert records.read(f"{first}/T.json") == {"plan": 1}
    assert records.read(f"{first}/U.json") is None
    records.write(f"{plan_record_dir(WorkerContext(0, 2, job_id=old_job), None)}/homes/0.json", {"home": None})
    time.sleep(3)
    second = plan_record_dir(WorkerContext(0, 2, job_id=job, attempt=2), None)
    records.write(f"{second}/homes/0.json", {"home": None})
    monkeypatch.setattr(ignite_fast.distributed.records, "PLAN_RECORD_MAX_AGE", 2.0)  # a day, shortened
    removed = records.remove_stale(second)
    assert first in removed  # the same job's earlier attempt
    assert any(old_job in path for path in removed)  # another job untouched for longer than the age
    assert records.read(f"{first}/T.json") is None
    assert records.read(f"{second}/homes/0.json") == {"home": None}
