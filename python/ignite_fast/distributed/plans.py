"""One shard plan per attempt, the same on every worker: through the engine's collective where
there is one, else through plan records (:mod:`.records`) that rank 0 writes and the others read.
No worker counts a changing cache on its own."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar
from urllib.parse import quote

from ignite_fast.errors import IgniteError, IgniteTimeoutError, InvalidArgumentError, TopologyChangedError
from ignite_fast.sharding import ShardPlan
from ignite_fast.source import Source

from .context import JOB_ID_ENV, WorkerContext, job_id_from_store, safe_job_id, worker_context
from .home import home_node
from .records import PLAN_RECORDS, plan_records
from .topology import TopologyWatch

T = TypeVar("T")


class Collective(Protocol):
    """The engine's collective operations over every worker of the job (rank order)."""

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, by rank."""
        ...

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        ...


def agreed_plan(
    client: Source,
    cache: str,
    context: WorkerContext | None = None,
    *,
    home: str | None = None,
    collective: Collective | None = None,
    balance: str | None = None,
    timeout: float = 600.0,
    progress: bool | None = None,
    job_id: str | None = None,
) -> ShardPlan:
    """The shard plan of ``cache`` for this attempt: one shard per rank, the same on every
    worker, shard ``r`` preferring rank r's home node. Every worker calls it.

    With a ``collective`` (the PyTorch adaptor passes ``torch.distributed``'s): the homes are
    gathered, rank 0 plans (``balance`` as the client's ``plan_shards`` takes it; by default one
    counting pass), and the plan is broadcast. Without one, through plan records (see
    :func:`~ignite_fast.distributed.records.plan_records`: on the cluster's IGFS for Ignite 2, in
    the table ``IGNITE_FAST_PLANS`` for Ignite 3), under
    ``/.ignite-fast/plans/<job id>/world-<n>[-topology-<major>][-attempt-<a>]/``: every worker
    writes its home there, rank 0 waits for them all, plans, and creates ``<cache>.json``
    exclusively (IGFS's exclusive create, a pessimistic transaction on its TRANSACTIONAL metadata
    cache; an SQL ``INSERT`` of the row's key: the first writer wins); the others wait for the
    record and read it. Records are keyed by the topology's major version, where the client
    tells one, rather than by torchrun's restart count, which each agent keeps for itself: after
    a restart on an unchanged topology the workers find the plan they had, and after a node
    joined or left they make a fresh one. Rank 0, having written a record, removes the records
    it supersedes (see :func:`~ignite_fast.distributed.records.stale_records`). Where a record
    is the first use of the cluster's IGFS, its caches are made with
    :data:`~ignite_fast.distributed.records.PLAN_RECORD_BACKUPS` backup.

    The job is ``job_id`` if given, else the context's (see :func:`worker_context`); two jobs
    running at once must have different ids, or they take and remove each other's records.
    ``home`` is this worker's home node (default: :func:`home_node`); ``timeout`` bounds the
    wait for the others, in seconds (:class:`~ignite_fast.errors.IgniteTimeoutError` then).
    Raises :class:`~ignite_fast.errors.TopologyChangedError` when the topology changes while
    the workers agree."""
    context = worker_context() if context is None else context
    home = home_node(client, context) if home is None else home or None
    if context.world_size == 1:
        alone: ShardPlan = client.plan_shards(cache, 1, homes=[home], balance="partitions")
        return alone
    if collective is not None:
        return _plan_by_collective(client, cache, context, home, collective, balance, progress)
    if job_id is not None:
        context = dataclasses.replace(context, job_id=safe_job_id(job_id))
    elif context.job_id is None and context.job_store is not None:
        context = dataclasses.replace(context, job_id=safe_job_id(job_id_from_store(context.job_store, timeout)))
    if context.job_id is None:
        raise InvalidArgumentError(
            f"{context.world_size} workers must agree on one shard plan, and nothing names the job: "
            f"initialise torch.distributed before building the dataset, give torchrun --rdzv-id, or set {JOB_ID_ENV}"
        )
    return _plan_by_record(client, cache, context, home, balance, timeout, progress)


def _make_plan(
    client: Source, cache: str, homes: Sequence[str | None], balance: str | None, progress: bool | None
) -> ShardPlan:
    # Only what is given: each client has its own default balance (what is stored, counted) and
    # not every client shows progress.
    given: dict[str, Any] = {} if balance is None else {"balance": balance}
    if progress is not None:
        given["progress"] = progress
    plan: ShardPlan = client.plan_shards(
        cache, len(homes), homes=None if all(h is None for h in homes) else list(homes), **given
    )
    return plan


def _plan_by_collective(
    client: Source,
    cache: str,
    context: WorkerContext,
    home: str | None,
    collective: Collective,
    balance: str | None,
    progress: bool | None,
) -> ShardPlan:
    homes = collective.all_gather(home)
    offer: dict[str, Any] | None = None
    failure: IgniteError | None = None
    if context.rank == 0:
        try:
            offer = {"plan": _make_plan(client, cache, homes, balance, progress).to_dict()}
        except IgniteError as e:
            failure, offer = e, {"error": f"{type(e).__name__}: {e}"}  # so that no rank waits forever
    answer = collective.broadcast(offer)
    if failure is not None:
        raise failure
    if "error" in answer:
        raise IgniteError(f"rank 0 could not plan the shards of {cache!r}: {answer['error']}")
    return ShardPlan.from_dict(answer["plan"])


def plan_record_dir(context: WorkerContext, topology_major: int | None) -> str:
    """The directory of this job's plan records for one topology (where the cluster tells one)
    and attempt (where known)."""
    topology = "" if topology_major is None else f"-topology-{topology_major}"
    attempt = "" if context.attempt is None else f"-attempt-{context.attempt}"
    return f"{PLAN_RECORDS}/{context.job_id}/world-{context.world_size}{topology}{attempt}"


class _Waiter:
    """Polls for what other workers write, within a deadline, and notices a topology change."""

    def __init__(self, client: Source, major: int | None, timeout: float, what: str):
        self.watch = TopologyWatch(client, None if major is None else (major, 0), every=1.0)
        self.deadline = time.monotonic() + timeout
        self.timeout, self.what = timeout, what

    def until(self, ready: Callable[[], T | None]) -> T:
        pause = 0.05
        while (value := ready()) is None:
            if time.monotonic() > self.deadline:
                raise IgniteTimeoutError(f"waited {self.timeout:.0f} s for {self.what}")
            self.watch.check()
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        return value


def _plan_by_record(
    client: Source,
    cache: str,
    context: WorkerContext,
    home: str | None,
    balance: str | None,
    timeout: float,
    progress: bool | None,
) -> ShardPlan:
    records = plan_records(client)
    topology = client.topology()
    major = None if topology is None else topology[0]
    directory = plan_record_dir(context, major)
    record = f"{directory}/{quote(cache, safe='')}.json"
    records.write(f"{directory}/homes/{context.rank}.json", {"home": home})
    waiter = _Waiter(client, major, timeout, f"the shard plan of {cache!r} at {records.where(record)}")
    data = records.read(record)
    if data is None and context.rank == 0:
        homes_wait = _Waiter(client, major, timeout, f"every worker's home under {records.where(directory)}/homes")

        def homes() -> list[str | None] | None:
            found = [records.read(f"{directory}/homes/{rank}.json") for rank in range(context.world_size)]
            return None if any(h is None for h in found) else [h["home"] for h in found]

        plan = _make_plan(client, cache, homes_wait.until(homes), balance, progress)
        if plan.topology is not None and major is not None and plan.topology[0] != major:
            raise TopologyChangedError(
                f"the topology changed while the shards of {cache!r} were planned", (major, 0), plan.topology
            )
        if records.create(record, plan.to_dict()):  # else another writer's plan was first: that one holds
            records.remove_stale(directory)
    if data is None:
        data = waiter.until(lambda: records.read(record))
    plan = ShardPlan.from_dict(data)
    if plan.cache != cache or len(plan) != context.world_size:
        raise InvalidArgumentError(f"{records.where(record)} holds a plan of {len(plan)} shards of {plan.cache!r}")
    return plan
