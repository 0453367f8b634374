"""Who this worker is among the job's workers, from the environment of the engine that started it
(torchrun, Kubeflow's PyTorchJob or TFJob, Ray, or none), and the job id its workers agree on."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from ignite_fast._options import split_address
from ignite_fast.errors import IgniteConnectionError, InvalidArgumentError

from .hosts import is_loopback

#: Names the job where the engine does not (plan records in Ignite are kept under it).
JOB_ID_ENV = "IGNITE_FAST_JOB_ID"
#: The attempt number, where something outside the engine counts attempts for every worker alike.
ATTEMPT_ENV = "IGNITE_FAST_ATTEMPT"


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


def safe_job_id(text: str) -> str:
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
        job_id=None if job_id is None else safe_job_id(job_id),
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
    if is_loopback(addr.strip("[]")):
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
    host = split_address(trainers[rank][2])[0]
    same_host = [t for t in trainers if split_address(t[2])[0] == host]
    return WorkerContext(
        rank=rank,
        world_size=len(trainers),
        local_rank=same_host.index(trainers[rank]),
        local_world_size=len(same_host),
        job_id=job_id,
        engine="tf_config",
    )
