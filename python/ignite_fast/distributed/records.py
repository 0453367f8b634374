"""Plan records: where workers with no collective between them agree on one shard plan. Every
worker writes its home under the attempt's directory, rank 0 writes the plan there exclusively
(the first writer wins), and the others read it. Records are keyed by path,
``/.ignite-fast/plans/<job id>/<attempt directory>/<name>``, whatever keeps them.

:class:`IgfsPlanRecords` keeps them on the cluster's IGFS, as files; :class:`TablePlanRecords`
in a table, :data:`PLAN_TABLE`, one row per record, where the client runs SQL statements (Ignite
3). :func:`plan_records` chooses by what the client can do."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ignite_fast._options import split_address
from ignite_fast.errors import IgfsExistsError, IgfsNotFoundError, IgniteConnectionError, IgniteError
from ignite_fast.igfs import IgniteFileSystem
from ignite_fast.source import Source

#: Where plan records are kept (see :func:`~ignite_fast.distributed.agreed_plan`).
PLAN_RECORDS = "/.ignite-fast/plans"
#: Seconds after which the plan records of a job nothing has written to are removed, whatever
#: the job (see :func:`remove_stale_plan_records`): a day, far longer than any agreement takes.
PLAN_RECORD_MAX_AGE = 24 * 3600.0
#: The table of plan records where they are kept in a table (created when missing).
PLAN_TABLE = "IGNITE_FAST_PLANS"
#: Backups of the IGFS caches when a plan record is the first thing to use them, so that the
#: records outlive one node, as a cache with one backup does.
PLAN_RECORD_BACKUPS = 1

# An attempt's directory: world size, the topology's major version where the cluster tells one,
# and the attempt where the engine counts them alike for every worker.
_RECORD_DIR = re.compile(r"world-\d+(?:-topology-(\d+))?(?:-attempt-(-?\d+))?")


class PlanRecords(Protocol):
    """Where plan records are kept: JSON values by path."""

    def where(self, path: str) -> str:
        """The record's place, for messages (``igfs://...``)."""
        ...

    def write(self, path: str, value: Any) -> None:
        """Writes ``value`` at ``path``, replacing what was there."""
        ...

    def create(self, path: str, value: Any) -> bool:
        """Writes ``value`` at ``path`` unless something is there already (then False): the
        first writer wins."""
        ...

    def read(self, path: str) -> Any:
        """The value at ``path``; None when there is none (yet)."""
        ...

    def remove_stale(self, current: str) -> list[str]:
        """Removes what ``current`` (the directory of the attempt that has just written its plan)
        supersedes (see :func:`stale_records`) and returns what it removed. Best effort: a
        failure here never fails a plan."""
        ...


def stale_records(written: Iterable[tuple[str, float]], current: str, now: float) -> list[str]:
    """The directories that ``current`` supersedes, from every record path and dir under
    :data:`PLAN_RECORDS` with the time it was last written:

    - the same job's other attempt directories: earlier attempts, topologies and world sizes.
      Not one of a newer topology than ``current``'s, which a worker that saw the change first
      may be using (its attempt is about to end on the change);
    - every other job's directory once nothing below it has been written for
      :data:`PLAN_RECORD_MAX_AGE` seconds (times are those of the writers' clocks)."""
    job_dir, _, name = current.rpartition("/")
    named = _RECORD_DIR.fullmatch(name)
    major = int(named.group(1)) if named and named.group(1) is not None else None
    depth = PLAN_RECORDS.count("/") + 2  # the path components of a job's directory
    newest: dict[str, float] = {}  # job directory -> latest write below it
    doomed: list[str] = []
    for path, modified in written:
        parts = path.split("/")
        job = "/".join(parts[:depth])
        newest[job] = max(newest.get(job, 0.0), modified)
        attempt = "/".join(parts[: depth + 1])
        if job == job_dir and len(parts) > depth and attempt != current and attempt not in doomed:
            sibling = _RECORD_DIR.fullmatch(parts[depth])
            if major is None or sibling is None or sibling.group(1) is None or int(sibling.group(1)) <= major:
                doomed.append(attempt)
    return doomed + [job for job, latest in newest.items() if job != job_dir and now - latest > PLAN_RECORD_MAX_AGE]


class IgfsPlanRecords:
    """Plan records as files on the cluster's IGFS. The plan is created with IGFS's exclusive
    create: a pessimistic transaction on its TRANSACTIONAL metadata cache, so the first writer
    wins. Where a record is the first use of the cluster's IGFS, its caches are made with
    :data:`PLAN_RECORD_BACKUPS` backup."""

    def __init__(self, fs: IgniteFileSystem):
        self.fs = fs

    @classmethod
    def of(cls, client: Source) -> IgfsPlanRecords:
        """The IGFS of the client's cluster, on the first of its addresses that answers."""
        settings = client.settings
        failure: IgniteError | None = None
        for address in settings.addresses:
            host, port = split_address(address)
            try:
                fs = IgniteFileSystem(
                    host,
                    port,
                    backups=PLAN_RECORD_BACKUPS,  # only if these are the first to use it
                    **settings.client_args(),
                )
            except IgniteConnectionError as e:
                failure = e
            else:
                return cls(fs)
        raise failure or IgniteConnectionError("the client has no address")

    def where(self, path: str) -> str:
        return f"igfs://{path}"

    def write(self, path: str, value: Any) -> None:
        with self.fs.open(path, "w", makedirs=True) as f:
            json.dump(value, f)

    def create(self, path: str, value: Any) -> bool:
        try:
            with self.fs.open(path, "x") as f:
                json.dump(value, f)
        except IgfsExistsError:
            return False
        return True

    def read(self, path: str) -> Any:
        try:
            return json.loads(self.fs.read_bytes(path))
        except IgfsNotFoundError:
            return None

    def remove_stale(self, current: str) -> list[str]:
        return remove_stale_plan_records(self.fs, current)


def remove_stale_plan_records(fs: IgniteFileSystem, current: str, now: float | None = None) -> list[str]:
    """Removes the plan records on ``fs`` that ``current`` supersedes (see :func:`stale_records`),
    from one listing of :data:`PLAN_RECORDS`, and returns what it removed."""
    now = time.time() if now is None else now
    try:
        entries = fs.ls(PLAN_RECORDS, recursive=True, detail=True)
        doomed = stale_records(((entry.path, entry.modified) for entry in entries), current, now)
    except IgniteError:
        return []
    removed = []
    for path in doomed:
        try:
            fs.rm(path, recursive=True)
            removed.append(path)
        except IgniteError:
            pass  # gone already (another rank 0 cleaning up), or busy: the next plan tries again
    return removed


@runtime_checkable
class StatementSource(Source, Protocol):
    """A source that also runs SQL statements returning no rows (DDL, ``INSERT``, ``DELETE``):
    Ignite 3's client, which can keep plan records in a table it makes."""

    def execute(self, query: str, args: Sequence[Any] = (), *, schema: str = "PUBLIC") -> int:
        """Runs ``query``; returns the rows it changed."""
        ...


class TablePlanRecords:
    """Plan records as rows of :data:`PLAN_TABLE` (created when missing), keyed by job, attempt
    directory and name, through the client's SQL: a record is written with ``put_batches`` (an
    upsert), the plan created with ``INSERT``, which fails on a key that is there already, so
    the first writer wins."""

    def __init__(self, client: StatementSource):
        self.client = client
        try:
            client.execute(
                f"CREATE TABLE IF NOT EXISTS {PLAN_TABLE} (JOB VARCHAR(200), ATTEMPT VARCHAR(200), "
                "NAME VARCHAR(1000), VAL VARCHAR(16777216), WRITTEN DOUBLE, PRIMARY KEY (JOB, ATTEMPT, NAME))"
            )
        except IgniteError:
            client.partitions(PLAN_TABLE)  # made at the same moment by another worker; else this raises

    @staticmethod
    def _key(path: str) -> list[str]:
        """``[job, attempt directory, name]`` of a record's path (or a directory's: fewer)."""
        return path[len(PLAN_RECORDS) + 1 :].split("/", 2)

    def where(self, path: str) -> str:
        return f"{PLAN_TABLE}{tuple(self._key(path))}"

    def write(self, path: str, value: Any) -> None:
        job, attempt, name = self._key(path)
        row = {"JOB": [job], "ATTEMPT": [attempt], "NAME": [name], "VAL": [json.dumps(value)]}
        columns = {column: np.array(cells) for column, cells in row.items()}
        self.client.put_batches(PLAN_TABLE, {**columns, "WRITTEN": np.array([time.time()])}, progress=False)

    def create(self, path: str, value: Any) -> bool:
        try:
            self.client.execute(
                f"INSERT INTO {PLAN_TABLE} (JOB, ATTEMPT, NAME, VAL, WRITTEN) VALUES (?, ?, ?, ?, ?)",
                [*self._key(path), json.dumps(value), time.time()],
            )
        except IgniteError:
            if self.read(path) is None:
                raise
            return False  # the key is there: another writer was first
        return True

    def read(self, path: str) -> Any:
        query = f"SELECT VAL FROM {PLAN_TABLE} WHERE JOB = ? AND ATTEMPT = ? AND NAME = ?"
        for batch in self.client.sql(query, self._key(path)):
            for value in batch["VAL"].tolist():
                return json.loads(value)
        return None

    def remove_stale(self, current: str) -> list[str]:
        try:
            written = [
                (f"{PLAN_RECORDS}/{job.decode()}/{attempt.decode()}/{name.decode()}", modified)
                for batch in self.client.sql(f"SELECT JOB, ATTEMPT, NAME, WRITTEN FROM {PLAN_TABLE}")
                for job, attempt, name, modified in zip(
                    batch["JOB"].tolist(), batch["ATTEMPT"].tolist(), batch["NAME"].tolist(), batch["WRITTEN"].tolist()
                )
            ]
            doomed = stale_records(written, current, time.time())
        except IgniteError:
            return []
        removed = []
        for path in doomed:
            key = self._key(path)
            where = " AND ".join(["JOB = ?", "ATTEMPT = ?"][: len(key)])
            try:
                self.client.execute(f"DELETE FROM {PLAN_TABLE} WHERE {where}", key)
                removed.append(path)
            except IgniteError:
                pass  # the next plan tries again
        return removed


def plan_records(client: Source) -> PlanRecords:
    """Where ``client``'s workers keep plan records: in :data:`PLAN_TABLE` when the client runs
    SQL statements (a :class:`StatementSource`: Ignite 3's, whose clusters have no IGFS), else on
    the cluster's IGFS (Ignite 2)."""
    if isinstance(client, StatementSource):
        return TablePlanRecords(client)
    return IgfsPlanRecords.of(client)
