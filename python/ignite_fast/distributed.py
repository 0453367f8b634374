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
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .client import Client
from .errors import IgniteError, InvalidArgumentError

#: ``host:port`` of the Ignite node this worker should treat as its own (overrides the search).
HOME_ENV = "IGNITE_FAST_HOME_NODE"
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
    ``"tf_config"`` or ``"none"`` (one worker alone)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    node_rank: int = 0
    job_id: str | None = None
    attempt: int | None = None
    restarts: int = 0
    engine: str = "none"

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
    order; the job is named by its cluster's addresses); else one worker alone.
    ``IGNITE_FAST_JOB_ID`` and ``IGNITE_FAST_ATTEMPT`` override the job id and attempt."""
    env = os.environ if environ is None else environ
    if "RANK" in env or "WORLD_SIZE" in env:
        context = _from_rank_env(env)
    elif env.get("TF_CONFIG"):
        context = _from_tf_config(env["TF_CONFIG"])
    else:
        context = WorkerContext()
    job_id = env.get(JOB_ID_ENV) or context.job_id
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
    )


def _from_rank_env(env: Mapping[str, str]) -> WorkerContext:
    local_rank = _int(env, "LOCAL_RANK", 0)
    master = f"{env['MASTER_ADDR']}:{env.get('MASTER_PORT', '')}" if env.get("MASTER_ADDR") else None
    run_id = env.get("TORCHELASTIC_RUN_ID")
    job_id: str | None = master
    engine, restarts = "env", 0
    if run_id is not None:
        # torchrun's default --rdzv-id is "none": the store's address tells such jobs apart.
        job_id = run_id if run_id != "none" or master is None else f"none-{master}"
        engine, restarts = "torchrun", _int(env, "TORCHELASTIC_RESTART_COUNT", 0)
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
    )


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
