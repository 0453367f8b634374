"""Training workers started by an engine (torchrun, Kubeflow's PyTorchJob or TFJob, Ray, ...):
who this worker is, which Ignite node is its home, the one shard plan every worker of an attempt
agrees on, and the topology watch that ends an attempt when the data moves.

We supervise no process: the engine starts, rendezvous and restarts the workers. What only we
know is the cluster: partition maps, where the nodes are, and when the partitions move.

- :func:`worker_context` reads the engine's environment: rank, world size, local rank, the job's
  id and attempt (torchrun, ``RANK``/``WORLD_SIZE`` as Kubeflow's PyTorchJob sets them, or
  ``TF_CONFIG``).
- :func:`home_node` finds the Ignite node on this worker's own machine by matching the nodes'
  endpoints against this host's addresses; where several nodes share a host the workers there
  are spread over them. ``IGNITE_FAST_HOME_NODE=host:port`` overrides it.
- :func:`agreed_plan` gives every worker the same :class:`~ignite_fast.sharding.ShardPlan`, one
  shard per rank, each preferring its rank's home: through the engine's collective where there
  is one (``torch.distributed``: every rank's home gathered, rank 0 plans, the plan broadcast),
  otherwise through a plan record in Ignite that the first writer creates and the others read.
  No worker counts a changing cache on its own.
- :func:`tf_config_from_torchrun` builds ``TF_CONFIG`` for ``MultiWorkerMirroredStrategy`` from
  torchrun's rendezvous (one launcher for both frameworks).
- :class:`TopologyWatch` raises :class:`~ignite_fast.errors.TopologyChangedError` once the
  cluster's affinity topology has left the plan's major version; a worker ends on it (exit
  status :data:`TOPOLOGY_CHANGED_EXIT_CODE` with :func:`exit_on_topology_change`) and the engine
  restarts the job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import ipaddress
import json
import os
import re
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

from .client import Client
from .errors import (
    IgfsExistsError,
    IgfsNotFoundError,
    IgniteConnectionError,
    IgniteError,
    IgniteTimeoutError,
    InvalidArgumentError,
    TopologyChangedError,
)
from .igfs import IgniteFileSystem
from .sharding import ShardPlan

#: ``host:port`` of the Ignite node this worker should treat as its own (overrides the search).
HOME_ENV = "IGNITE_FAST_HOME_NODE"
#: Names the job where the engine does not (plan records in Ignite are kept under it).
JOB_ID_ENV = "IGNITE_FAST_JOB_ID"
#: The attempt number, where something outside the engine counts attempts for every worker alike.
ATTEMPT_ENV = "IGNITE_FAST_ATTEMPT"
#: The exit status of a worker that ends on a topology change (:func:`exit_on_topology_change`).
#: Any non-zero status makes torchrun (``--max-restarts``) restart the job; 128 and above is
#: what Kubeflow's ``restartPolicy: ExitCode`` retries (lower ones are permanent failures).
TOPOLOGY_CHANGED_EXIT_CODE = 200
#: Where plan records are kept on the cluster's IGFS (see :func:`agreed_plan`).
PLAN_RECORDS = "/.ignite-fast/plans"
#: Seconds after which the plan records of a job nothing has written to are removed, whatever
#: the job (see :func:`remove_stale_plan_records`): a day, far longer than any agreement takes.
PLAN_RECORD_MAX_AGE = 24 * 3600.0
#: Backups of the IGFS caches when a plan record is the first thing to use them, so that the
#: records outlive one node, as a cache with one backup does.
PLAN_RECORD_BACKUPS = 1


@dataclass(frozen=True)
class WorkerContext:
    """Who this worker is among the job's workers, as the engine that started it says.

    ``node_rank`` is the rank of this worker's machine (torchrun's agent, ``GROUP_RANK``);
    ``job_id`` names the job (None when nothing does); ``attempt`` counts the job's restarts
    where every worker sees the same count (None where the engine gives none that all agree
    on: torchrun counts restarts per agent, and only the agent whose worker failed counts one);
    ``restarts`` is this worker's own engine count, for logs. ``engine``: ``"torchrun"``,
    ``"env"`` (``RANK``/``WORLD_SIZE``, as Kubeflow's PyTorchJob or a script sets them),
    ``"tf_config"`` or ``"none"`` (one worker alone). ``job_store``: ``host:port`` of torchrun's
    store when torchrun names no job (no ``--rdzv-id``); :func:`agreed_plan` agrees on a job id
    there (see :func:`job_id_from_store`)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    job_id: str | None = None
    attempt: int | None = None
    restarts: int = 0
    engine: str = "none"
    job_store: str | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.rank < self.world_size:
            raise InvalidArgumentError(f"rank {self.rank} is not within a world of {self.world_size}")
        if not 0 <= self.local_rank < self.local_world_size:
            raise InvalidArgumentError(
                f"local rank {self.local_rank} is not within a local world of {self.local_world_size}"
            )

    @property
    def slot(self) -> int:
        """This worker's place among the workers of its host: the local rank, offset by the node
        rank so that several agents on one host (tests, big machines) spread over its nodes too."""
        return self.node_rank * self.local_world_size + self.local_rank


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name}={raw!r} is not an integer") from None


def _safe_id(text: str) -> str:
    """A job id usable as one component of a path."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip(".")
    return cleaned[:100] or "_"


def worker_context(environ: Mapping[str, str] | None = None) -> WorkerContext:
    """This worker's :class:`WorkerContext`, from the environment the engine set.

    In order: torchrun (``TORCHELASTIC_RUN_ID`` with ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``, ``TORCHELASTIC_RESTART_COUNT``); ``RANK``/``WORLD_SIZE``
    alone (Kubeflow's PyTorchJob; the job is named by ``MASTER_ADDR:MASTER_PORT``, the master's
    service); ``TF_CONFIG`` (TFJob, MultiWorkerMirroredStrategy: the chief, then the workers, in
    order; the job is named by its cluster's addresses); else one worker alone. A master on a
    loopback address names a job of one host only, so the host's name is added to it; in a Ray
    worker, Ray's job id is too.

    torchrun's run id is its ``--rdzv-id``, which defaults to ``"none"``: such a job is named
    by an id its workers agree on through torchrun's store, which lives as long as the torchrun
    run (``job_store``; where the workers do not share torchrun's store, by that store's address).
    ``IGNITE_FAST_JOB_ID`` and ``IGNITE_FAST_ATTEMPT`` override the job id and attempt."""
    env = os.environ if environ is None else environ
    if "RANK" in env or "WORLD_SIZE" in env:
        context = _from_rank_env(env)
    elif env.get("TF_CONFIG"):
        context = _from_tf_config(env["TF_CONFIG"])
    else:
        context = WorkerContext()
    job_id = context.job_id
    if job_id is not None and context.engine != "torchrun" and environ is None and (ray := _ray_job_id()):
        job_id = f"ray-{ray}-{job_id}"
    job_id = env.get(JOB_ID_ENV) or job_id
    attempt = _int(env, ATTEMPT_ENV, -1) if env.get(ATTEMPT_ENV) else context.attempt
    return WorkerContext(
        rank=context.rank,
        world_size=context.world_size,
        local_rank=context.local_rank,
        local_world_size=context.local_world_size,
        node_rank=context.node_rank,
        job_id=None if job_id is None else _safe_id(job_id),
        attempt=attempt,
        restarts=context.restarts,
        engine=context.engine,
        job_store=None if env.get(JOB_ID_ENV) else context.job_store,
    )


def _ray_job_id() -> str | None:
    """The id of the Ray job this process belongs to, if Ray runs it (Ray is never imported
    here: a process that Ray started has it loaded)."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    return str(ray.get_runtime_context().get_job_id())


def _master_name(addr: str, port: str) -> str:
    """``addr:port`` of the job's master, as a name for the job: a loopback address only says
    that every worker runs on one host, so that host's name is added (jobs on two hosts may both
    use 127.0.0.1:29500)."""
    if _is_loopback(addr.strip("[]")):
        return f"{socket.gethostname()}-{addr}:{port}"
    return f"{addr}:{port}"


def _from_rank_env(env: Mapping[str, str]) -> WorkerContext:
    local_rank = _int(env, "LOCAL_RANK", 0)
    master = _master_name(env["MASTER_ADDR"], env.get("MASTER_PORT", "")) if env.get("MASTER_ADDR") else None
    run_id = env.get("TORCHELASTIC_RUN_ID")
    job_id: str | None = master
    job_store = None
    engine, restarts = "env", 0
    if run_id is not None:
        job_id = run_id
        engine, restarts = "torchrun", _int(env, "TORCHELASTIC_RESTART_COUNT", 0)
    if run_id == "none":
        # torchrun's default --rdzv-id: it names no job. Its store names one: shared with the
        # workers (the default), it lives as long as the run, and they agree on an id there;
        # else the store is the workers' own, at an address of this run.
        job_id = None
        if master is not None and env.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
            job_store = f"{env['MASTER_ADDR']}:{env.get('MASTER_PORT', '')}"
        elif master is not None:
            job_id = f"none-{master}"
    return WorkerContext(
        rank=_int(env, "RANK", 0),
        world_size=_int(env, "WORLD_SIZE", 1),
        local_rank=local_rank,
        local_world_size=_int(env, "LOCAL_WORLD_SIZE", local_rank + 1),
        node_rank=_int(env, "GROUP_RANK", 0),
        job_id=job_id,
        attempt=None,
        restarts=restarts,
        engine=engine,
        job_store=job_store,
    )


def job_id_from_store(address: str, timeout: float = 300.0) -> str:
    """A job id that every worker of a torchrun run gets alike, agreed through torchrun's store
    at ``address`` (``host:port``): the first worker to ask sets a random one, the others read
    it. The store lives as long as the run, restarts included, so a restarted worker gets the
    same id; another run gets another."""
    from datetime import timedelta

    import torch.distributed as dist

    host, _, port = address.rpartition(":")
    try:
        store = dist.TCPStore(
            host.strip("[]"), int(port), is_master=False, timeout=timedelta(seconds=timeout), wait_for_workers=False
        )
        agreed = store.compare_set("ignite_fast/job_id", "", f"torchrun-{uuid.uuid4().hex}")
    except (RuntimeError, ValueError) as e:  # torch's DistStoreError and DistNetworkError are RuntimeErrors
        raise IgniteConnectionError(
            f"could not agree on a job id through torchrun's store at {address} ({e}): name the job with "
            f"torchrun --rdzv-id or {JOB_ID_ENV}"
        ) from None
    return agreed.decode()


def _from_tf_config(raw: str) -> WorkerContext:
    try:
        config = json.loads(raw)
        cluster, task = config.get("cluster", {}), config.get("task", {})
        kind, index = str(task["type"]), int(task["index"])
        trainers = [(t, i, str(a)) for t in ("chief", "worker") for i, a in enumerate(cluster.get(t, []))]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidArgumentError(f"TF_CONFIG is not a TensorFlow cluster spec: {e}") from None
    job_id = "tf-" + hashlib.sha1(json.dumps(cluster, sort_keys=True).encode()).hexdigest()[:16]
    if (kind, index) not in {(t, i) for t, i, _ in trainers}:
        # An evaluator (or a parameter server) takes no share: it reads the cache whole.
        return WorkerContext(job_id=job_id, engine="tf_config")
    rank = [(t, i) for t, i, _ in trainers].index((kind, index))
    host = _split_host(trainers[rank][2])
    same_host = [t for t in trainers if _split_host(t[2]) == host]
    return WorkerContext(
        rank=rank,
        world_size=len(trainers),
        local_rank=same_host.index(trainers[rank]),
        local_world_size=len(same_host),
        job_id=job_id,
        engine="tf_config",
    )


def _split_host(address: str) -> str:
    """The host of ``host:port`` (``[v6]:port`` too)."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rpartition(":")[0] if address.count(":") == 1 else address


# ---- home node ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeEndpoint:
    """A server node as the cluster lists it (op 5102): its id, client port and addresses."""

    node_id: bytes
    port: int
    hosts: tuple[str, ...]

    @property
    def address(self) -> str:
        """``host:port``, preferring an address others can reach over a loopback one."""
        usable = [h for h in self.hosts if "%" not in h] or list(self.hosts)
        host = next((h for h in usable if not _is_loopback(h)), usable[0] if usable else "127.0.0.1")
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost"


def is_this_host(host: str) -> bool:
    """Whether ``host`` (an address or a name) is one of this machine's own addresses: loopback,
    or an address a socket here can bind to (the kernel's answer; no interface list needed)."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    except OSError:
        return False
    for family, _type, _proto, _name, sockaddr in infos:
        ip = str(sockaddr[0])
        if _is_loopback(ip):
            return True
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.bind((ip, 0, *sockaddr[2:]))
            return True
        except OSError:
            continue
    return False


def on_this_host(node: NodeEndpoint, is_local: Callable[[str], bool] = is_this_host) -> bool:
    """Whether ``node`` runs on this machine: one of its addresses others can reach is ours. A
    node that lists loopback addresses only can be reached from its own machine alone, so if we
    see it, it is here (every node of a cluster on one machine, as in the tests)."""
    usable = [h for h in node.hosts if "%" not in h]  # link-local with an interface: ambiguous
    outside = [h for h in usable if not _is_loopback(h)]
    if outside:
        return any(is_local(h) for h in outside)
    return bool(usable)


def choose_home(
    nodes: Sequence[NodeEndpoint], slot: int, is_local: Callable[[str], bool] = is_this_host
) -> NodeEndpoint | None:
    """The node on this host for the worker in ``slot`` (see :attr:`WorkerContext.slot`): the
    host's nodes in a fixed order (port, addresses, id), dealt round-robin; None when no node
    runs here."""
    here = sorted((n for n in nodes if on_this_host(n, is_local)), key=lambda n: (n.port, n.hosts, n.node_id))
    return here[slot % len(here)] if here else None


def cluster_nodes(client: Client) -> list[NodeEndpoint]:
    """The cluster's server nodes and their client endpoints (empty where the server cannot say)."""
    listed = client.settings.connect().node_endpoints()
    return [NodeEndpoint(bytes(node_id), int(port), tuple(hosts)) for node_id, port, hosts in listed or []]


def home_node(
    client: Client, context: WorkerContext | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """``host:port`` of this worker's home node: ``IGNITE_FAST_HOME_NODE`` if set, else the node
    on this machine (see :func:`choose_home`), else None (no node runs here: every read is
    remote, and the plan balances without preferring any node for this worker)."""
    env = os.environ if environ is None else environ
    override = (env.get(HOME_ENV) or "").strip()
    if override:
        return override
    context = worker_context(env) if context is None else context
    try:
        nodes = cluster_nodes(client)
    except IgniteError:
        return None
    home = choose_home(nodes, context.slot)
    return None if home is None else home.address


# ---- one plan per attempt -------------------------------------------------------------------


class Collective(Protocol):
    """The engine's collective operations over every worker of the job (rank order)."""

    def all_gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, by rank."""
        ...

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value``, on every rank."""
        ...


def agreed_plan(
    client: Client,
    cache: str,
    context: WorkerContext | None = None,
    *,
    home: str | None = None,
    collective: Collective | None = None,
    balance: str = "entries",
    timeout: float = 600.0,
    progress: bool | None = None,
    job_id: str | None = None,
) -> ShardPlan:
    """The shard plan of ``cache`` for this attempt: one shard per rank, the same on every
    worker, shard ``r`` preferring rank r's home node. Every worker calls it.

    With a ``collective`` (the PyTorch adaptor passes ``torch.distributed``'s): the homes are
    gathered, rank 0 plans (one counting pass with ``balance="entries"``), and the plan is
    broadcast. Without one, through a plan record on the cluster's IGFS, under
    ``/.ignite-fast/plans/<job id>/world-<n>-topology-<major>[-attempt-<a>]/``: every worker
    writes its home there, rank 0 waits for them all, plans, and creates ``<cache>.json``
    exclusively (IGFS's exclusive create: a pessimistic transaction on its TRANSACTIONAL metadata
    cache, so the first writer wins); the others wait for the record and read it. Records are
    keyed by the topology's major version rather than by torchrun's restart count, which each
    agent keeps for itself: after a restart on an unchanged topology the workers find the
    plan they had, and after a node joined or left they make a fresh one. Rank 0, having written
    a record, removes the records it supersedes (see :func:`remove_stale_plan_records`). Where
    a record is the first use of the cluster's IGFS, its caches are made with
    :data:`PLAN_RECORD_BACKUPS` backup.

    The job is ``job_id`` if given, else the context's (see :func:`worker_context`); two jobs
    running at once must have different ids, or they take and remove each other's records.
    ``home`` is this worker's home node (default: :func:`home_node`); ``timeout`` bounds the
    wait for the others, in seconds (:class:`~ignite_fast.errors.IgniteTimeoutError` then).
    Raises :class:`~ignite_fast.errors.TopologyChangedError` when the topology changes while
    the workers agree."""
    context = worker_context() if context is None else context
    home = home_node(client, context) if home is None else home or None
    if context.world_size == 1:
        return client.plan_shards(cache, 1, homes=[home], balance="partitions")
    if collective is not None:
        return _plan_by_collective(client, cache, context, home, collective, balance, progress)
    if job_id is not None:
        context = dataclasses.replace(context, job_id=_safe_id(job_id))
    elif context.job_id is None and context.job_store is not None:
        context = dataclasses.replace(context, job_id=_safe_id(job_id_from_store(context.job_store, timeout)))
    if context.job_id is None:
        raise InvalidArgumentError(
            f"{context.world_size} workers must agree on one shard plan, and nothing names the job: "
            f"initialise torch.distributed before building the dataset, give torchrun --rdzv-id, or set {JOB_ID_ENV}"
        )
    return _plan_by_record(client, cache, context, home, balance, timeout, progress)


def _make_plan(
    client: Client, cache: str, homes: Sequence[str | None], balance: str, progress: bool | None
) -> ShardPlan:
    return client.plan_shards(
        cache,
        len(homes),
        homes=None if all(h is None for h in homes) else list(homes),
        balance=balance,
        progress=progress,
    )


def _plan_by_collective(
    client: Client,
    cache: str,
    context: WorkerContext,
    home: str | None,
    collective: Collective,
    balance: str,
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


def plan_record_dir(context: WorkerContext, topology_major: int) -> str:
    """The IGFS directory of this job's plan records for one topology (and attempt, if known)."""
    attempt = "" if context.attempt is None else f"-attempt-{context.attempt}"
    return f"{PLAN_RECORDS}/{context.job_id}/world-{context.world_size}-topology-{topology_major}{attempt}"


def _file_system(client: Client) -> IgniteFileSystem:
    """The IGFS of the client's cluster, on the first of its addresses that answers."""
    settings = client.settings
    failure: IgniteError | None = None
    for address in settings.addresses:
        host, _, port = address.rpartition(":")
        try:
            return IgniteFileSystem(
                host.strip("[]"),
                int(port),
                backups=PLAN_RECORD_BACKUPS,  # only if these are the first to use it
                username=settings.username,
                password=settings.password,
                tls=settings.tls,
                connect_timeout=settings.connect_timeout,
                read_timeout=settings.read_timeout,
            )
        except IgniteConnectionError as e:
            failure = e
    raise failure or IgniteConnectionError("the client has no address")


class _Waiter:
    """Polls for what other workers write, within a deadline, and notices a topology change."""

    def __init__(self, client: Client, major: int, timeout: float, what: str):
        self.watch = TopologyWatch(client, (major, 0), every=1.0)
        self.deadline = time.monotonic() + timeout
        self.timeout, self.what = timeout, what

    def until(self, ready: Callable[[], Any]) -> Any:
        pause = 0.05
        while (value := ready()) is None:
            if time.monotonic() > self.deadline:
                raise IgniteTimeoutError(f"waited {self.timeout:.0f} s for {self.what}")
            self.watch.check()
            time.sleep(pause)
            pause = min(pause * 2, 0.5)
        return value


def _read_json(fs: IgniteFileSystem, path: str) -> Any:
    try:
        return json.loads(fs.read_bytes(path))
    except IgfsNotFoundError:
        return None


def _plan_by_record(
    client: Client,
    cache: str,
    context: WorkerContext,
    home: str | None,
    balance: str,
    timeout: float,
    progress: bool | None,
) -> ShardPlan:
    fs = _file_system(client)
    major = client.topology_version()[0]
    directory = plan_record_dir(context, major)
    record = f"{directory}/{quote(cache, safe='')}.json"
    with fs.open(f"{directory}/homes/{context.rank}.json", "w", makedirs=True) as f:
        json.dump({"home": home}, f)
    waiter = _Waiter(client, major, timeout, f"the shard plan of {cache!r} at igfs://{record}")
    data = _read_json(fs, record)
    if data is None and context.rank == 0:
        homes_wait = _Waiter(client, major, timeout, f"every worker's home under igfs://{directory}/homes")

        def homes() -> list[str | None] | None:
            found = [_read_json(fs, f"{directory}/homes/{rank}.json") for rank in range(context.world_size)]
            return None if any(h is None for h in found) else [h["home"] for h in found]

        plan = _make_plan(client, cache, homes_wait.until(homes), balance, progress)
        if plan.topology is not None and plan.topology[0] != major:
            raise TopologyChangedError(
                f"the topology changed while the shards of {cache!r} were planned", (major, 0), plan.topology
            )
        try:
            with fs.open(record, "x") as f:
                json.dump(plan.to_dict(), f)
        except IgfsExistsError:
            pass  # another writer's plan was first: that one holds
        else:
            remove_stale_plan_records(fs, directory)
    if data is None:
        data = waiter.until(lambda: _read_json(fs, record))
    plan = ShardPlan.from_dict(data)
    if plan.cache != cache or len(plan) != context.world_size:
        raise InvalidArgumentError(f"igfs://{record} holds a plan of {len(plan)} shards of {plan.cache!r}")
    return plan


_RECORD_DIR = re.compile(r"world-\d+-topology-(\d+)(?:-attempt-(-?\d+))?")


def remove_stale_plan_records(fs: IgniteFileSystem, current: str, now: float | None = None) -> list[str]:
    """Removes the plan records that ``current`` (the record directory of the attempt that has
    just written its plan) supersedes, from one listing of :data:`PLAN_RECORDS`, and returns
    what it removed. Best effort: a failure here never fails a plan.

    - The same job's other directories: earlier attempts, topologies and world sizes. Not one of
      a newer topology than ``current``'s, which a worker that saw the change first may be using
      (its attempt is about to end on the change).
    - Every other job's records once nothing below its directory has been written for
      :data:`PLAN_RECORD_MAX_AGE` seconds (modification times are those of the writers' clocks).
    """
    now = time.time() if now is None else now
    job_dir, _, name = current.rpartition("/")
    named = _RECORD_DIR.fullmatch(name)
    major = int(named.group(1)) if named else None
    doomed: list[str] = []
    try:
        entries = fs.ls(PLAN_RECORDS, recursive=True, detail=True)
        newest: dict[str, float] = {}  # job directory -> latest write below it
        for entry in entries:
            job = "/".join(entry.path.split("/")[: PLAN_RECORDS.count("/") + 2])
            newest[job] = max(newest.get(job, 0.0), entry.modified)
            parent, _, child = entry.path.rpartition("/")
            if parent == job_dir and entry.is_dir and entry.path != current:
                sibling = _RECORD_DIR.fullmatch(child)
                if major is None or sibling is None or int(sibling.group(1)) <= major:
                    doomed.append(entry.path)
        doomed += [job for job, latest in newest.items() if job != job_dir and now - latest > PLAN_RECORD_MAX_AGE]
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


# ---- topology changes -----------------------------------------------------------------------


class TopologyWatch:
    """Raises :class:`~ignite_fast.errors.TopologyChangedError` from :meth:`check` once the
    cluster's affinity topology major version differs from ``planned``'s (a node joined or
    left). It asks the cluster at most every ``every`` seconds (one small request); a plan
    without a topology (None) is never stale."""

    def __init__(self, client: Client, planned: tuple[int, int] | None, every: float = 1.0, what: str = "the plan"):
        self.client, self.planned, self.every, self.what = client, planned, every, what
        self._next = 0.0

    def check(self, now: bool = False) -> None:
        """Asks the cluster if ``every`` seconds have passed since the last question (or ``now``)."""
        if self.planned is None or (not now and time.monotonic() < self._next):
            return
        self._next = time.monotonic() + self.every
        try:
            current = self.client.topology_version()
        except IgniteConnectionError:
            return  # the node asked may be the one that left: the next check asks another
        if current[0] != self.planned[0]:
            raise TopologyChangedError(
                f"the cluster's topology changed (version {self.planned[0]} -> {current[0]}: a node joined or "
                f"left) since {self.what} was made; restart every worker to make a fresh plan",
                tuple(self.planned),  # type: ignore[arg-type]
                current,
            )


@contextlib.contextmanager
def exit_on_topology_change() -> Iterator[None]:
    """Ends the process with :data:`TOPOLOGY_CHANGED_EXIT_CODE` when the block raises
    :class:`~ignite_fast.errors.TopologyChangedError`, after saying why on stderr::

        with exit_on_topology_change():
            train()
    """
    try:
        yield
    except TopologyChangedError as e:
        print(f"ignite_fast: exit status {TOPOLOGY_CHANGED_EXIT_CODE}: {e}", file=sys.stderr, flush=True)
        sys.exit(TOPOLOGY_CHANGED_EXIT_CODE)


# ---- TensorFlow under torchrun --------------------------------------------------------------


def _address_towards(peer: str) -> str:
    """This host's address on the route to ``peer`` (no packet is sent)."""
    try:
        family = socket.AF_INET6 if ":" in peer else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((peer, 9))
            return str(probe.getsockname()[0])
    except OSError:
        return socket.getfqdn()


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tf_config_from_torchrun(environ: Mapping[str, str] | None = None, timeout: float = 300.0) -> dict[str, Any]:
    """Sets ``TF_CONFIG`` for ``tf.distribute.MultiWorkerMirroredStrategy`` in a worker that
    torchrun started, and returns it: every rank picks a free port on its host, the addresses
    are exchanged through the torch.distributed store torchrun's rendezvous set up
    (``MASTER_ADDR:MASTER_PORT``), and rank ``r`` becomes worker ``r``. Call it before making
    the strategy. No process group is made (PyTorch's store is all it uses).

    Needs ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` for the agents: torchrun's shared store
    outlives restarts, and restarted workers would read the previous attempt's addresses."""
    env = os.environ if environ is None else environ
    context = worker_context(env)
    if context.engine != "torchrun" or not env.get("MASTER_ADDR") or not env.get("MASTER_PORT"):
        raise InvalidArgumentError("tf_config_from_torchrun needs a worker that torchrun started")
    if env.get("TORCHELASTIC_USE_AGENT_STORE") == "True":
        raise InvalidArgumentError(
            "torchrun shares its rendezvous store with the workers and keeps it across restarts, so "
            "restarted workers would read stale addresses: start torchrun with TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1"
        )
    from datetime import timedelta

    import torch.distributed as dist  # only its store: no process group, no CUDA

    master, port = env["MASTER_ADDR"], int(env["MASTER_PORT"])
    store = dist.TCPStore(
        master,
        port,
        context.world_size,
        is_master=context.rank == 0,  # without the agent's store, rank 0 serves it, as init_process_group does
        timeout=timedelta(seconds=timeout),
        wait_for_workers=False,
    )
    exchange = dist.PrefixStore("ignite_fast/tf_config", store)
    host = _address_towards(master)
    address = f"[{host}]:{_free_port(host)}" if ":" in host else f"{host}:{_free_port(host)}"
    exchange.set(str(context.rank), address)
    workers = [exchange.get(str(rank)).decode() for rank in range(context.world_size)]
    # Rank 0 serves the store: it stays until every rank has read every address.
    exchange.add("read", 1)
    deadline = time.monotonic() + timeout
    while context.rank == 0 and exchange.add("read", 0) < context.world_size:
        if time.monotonic() > deadline:
            raise IgniteTimeoutError(f"waited {timeout:.0f} s for every rank to read the TF_CONFIG addresses")
        time.sleep(0.05)
    config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": context.rank}}
    if environ is None:
        os.environ["TF_CONFIG"] = json.dumps(config)
    return config
