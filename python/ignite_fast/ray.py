"""Ray Data: an Ignite cache as a ``ray.data.Dataset`` (``pip install 'ignite_fast[ray]'``).

    import ray
    from ignite_fast.ray import read_ignite

    ray.init()                                                         # or ray.init(address="auto")
    ds = read_ignite("digits", hosts=["10.0.0.1:10800", "10.0.0.2:10800"], columns=["pixels", "label"])
    ds.take(2)                    # [{"key": 0, "pixels": array([...], dtype=uint8), "label": 3}, ...]

The dataset is lazy and streams, as any Ray Data read: nothing is read until it is consumed
(``iter_batches``, ``materialize``, a Ray Train trainer's ``get_dataset_shard``...). Each read
task reads a group of partitions with ``Client.scan(cache, partitions=[...], format="arrow")``,
all of them from the same primary node, and hands Ray the Arrow record batches as blocks: the
columns come from the decoded buffers, no Python object per row, with the types of
``Client.to_arrow`` (see :mod:`ignite_fast.arrow`). Every partition is in exactly one read task, so
one pass over the dataset reads every entry once (as of when each partition is read). A read task
runs in a Ray worker, which makes its own :class:`~ignite_fast.client.Client` from the settings
given here (hosts, credentials, TLS): certificate files must be at the same paths on every Ray node.

Locality. Where Ray nodes run on the hosts of Ignite nodes, each read task is placed on the Ray
node beside its partitions' primary. Ray Data gives every read task of one ``read_datasource``
the same remote arguments (``ReadTask`` carries no scheduling options, and the ``Read`` operator
takes no per-task ``ray_remote_args_fn``: Ray 2.60), so ``read_ignite`` makes one read per Ray
node, each constrained to that node, and returns their union: one streaming dataset. The
constraint is soft: a label selector on the node (``{"ray.io/node-id": id}``) with a fallback to
any node, so a task runs elsewhere rather than wait when its node cannot take it at the moment
(at a cold start, or when the node is busy). A host is matched by IP address (the address the
driver reached each Ignite node at; loopback means the driver's own host); where several Ignite
and Ray nodes share a host, Ignite node i of the host (by address) goes with Ray node
i mod (Ray nodes there). Partitions whose primary has no Ray node beside it are read by one more,
unconstrained read (Ray Data spreads its tasks). :func:`plan_reads` shows the plan.

Ray Train keeps checkpoints in a pyarrow file system: :func:`igfs_storage` gives ``igfs://`` as
one (``RunConfig(storage_path=path, storage_filesystem=fs)``).

Restarts and topology: a failed read task is retried by Ray Data and reads its partitions again
from the start. Partitions that change owner mid-read are read from their new primary (the
scan's failover).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.fs
import ray
import ray.data
from ray.data import Datasource, ReadTask
from ray.data.block import BlockMetadata

from ._nodes import NodeConnections
from ._options import ConnectionSettings, TlsOptions, check_int
from .client import Client
from .igfs import split_url
from .igfs_fsspec import IgfsFileSystem

__all__ = ["IgniteDatasource", "ReadGroup", "igfs_storage", "plan_reads", "read_ignite"]

#: The label every Ray node carries with its own id (label selectors pick a node by it).
NODE_ID_LABEL = "ray.io/node-id"
#: Read tasks per CPU of the Ray cluster when ``parallelism`` is not given.
TASKS_PER_CPU = 2


@dataclass(frozen=True)
class ReadGroup:
    """Partitions that one read (one ``read_datasource``) takes: those whose primary Ignite node
    has ``ray_node`` beside it (None: no Ray node on that host), with the primary of each."""

    ray_node: str | None
    partitions: tuple[int, ...]
    primaries: tuple[bytes, ...]
    tasks: int


def read_ignite(
    cache: str,
    hosts: str | Sequence[str] = "127.0.0.1",
    port: int = 10800,
    *,
    username: str | None = None,
    password: str | None = None,
    tls: bool | TlsOptions | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float | None = 60.0,
    columns: Sequence[str] | None = None,
    value_type: str | int | None = None,
    batch_size: int | None = None,
    decimal_as_string: bool | None = None,
    parallelism: int | None = None,
    locality: bool = True,
    num_cpus: float | None = None,
    concurrency: int | None = None,
) -> ray.data.Dataset:
    """``cache`` as a Ray dataset of Arrow blocks: ``key`` and the value's fields as columns
    (``columns``, ``value_type``, ``batch_size`` and ``decimal_as_string`` as in
    :meth:`Client.scan <ignite_fast.client.Client.scan>`; blocks hold up to ``batch_size`` rows,
    about 16 MB without it). The connection arguments are those of
    :class:`~ignite_fast.client.Client`; give every node's address (or one, and the others are
    discovered). ``parallelism`` is the number of read tasks in all (default: two per CPU of
    the Ray cluster, at least one per Ignite node, at most one per partition); ``locality=False``
    lets Ray Data place every task (see the module's notes). ``num_cpus`` (per task) and
    ``concurrency`` (tasks at once, per read) go to ``ray.data.read_datasource``: a task takes
    one CPU by default, so beside a trainer leave CPUs free for them (a Ray Train job whose
    workers hold every CPU reads nothing). Connects to Ray (``ray.init()``) if it is not yet."""
    if not ray.is_initialized():
        ray.init()
    client = Client(
        hosts,
        port,
        username=username,
        password=password,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tls=tls,
    )
    scan_args = {"columns": columns, "value_type": value_type, "decimal_as_string": decimal_as_string}
    if batch_size is not None:
        scan_args["batch_size"] = check_int("batch_size", batch_size, 1)
    read_args: dict[str, Any] = {"num_cpus": num_cpus, "concurrency": concurrency}
    groups = plan_reads(client, cache, parallelism=parallelism, locality=locality)
    if not groups:  # not partitioned (replicated, custom affinity): one task reads it whole
        return ray.data.read_datasource(
            IgniteDatasource(client.settings, cache, scan_args=scan_args), override_num_blocks=1, **read_args
        )
    reads = []
    for group in groups:
        source = IgniteDatasource(client.settings, cache, group.partitions, group.primaries, scan_args)
        placement: dict[str, Any] = {}
        if group.ray_node is not None:
            placement = {
                "label_selector": {NODE_ID_LABEL: group.ray_node},
                "fallback_strategy": [{"label_selector": {}}],  # soft: any node rather than wait
            }
        reads.append(ray.data.read_datasource(source, override_num_blocks=group.tasks, **placement, **read_args))
    return reads[0].union(*reads[1:]) if len(reads) > 1 else reads[0]


def plan_reads(client: Client, cache: str, *, parallelism: int | None = None, locality: bool = True) -> list[ReadGroup]:
    """How :func:`read_ignite` reads ``cache``: one group per Ray node that is beside a primary
    (and one, ``ray_node=None``, for partitions with none beside them), covering every partition
    once, with its share of ``parallelism`` read tasks. Empty for a cache that is not partitioned.
    Needs a connected Ray (``ray.init()``)."""
    primaries = client.partition_map(cache)
    if primaries is None:
        return []
    primary_nodes = set(primaries)
    if parallelism is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        parallelism = max(TASKS_PER_CPU * cpus, len(primary_nodes))
    check_int("parallelism", parallelism, 1)
    beside: dict[bytes, str | None] = dict.fromkeys(primary_nodes)
    if locality:
        addresses = NodeConnections(client.settings, client.settings.connect()).addresses()
        ray_nodes = [(n["NodeID"], n["NodeManagerAddress"]) for n in ray.nodes() if n["Alive"]]
        beside.update(ray_nodes_beside(addresses, ray_nodes, ray.util.get_node_ip_address()))
    by_ray_node: dict[str | None, list[int]] = defaultdict(list)
    for partition, primary in enumerate(primaries):
        by_ray_node[beside.get(primary)].append(partition)
    groups = []
    for ray_node, partitions in sorted(by_ray_node.items(), key=lambda item: (item[0] is None, item[0] or "")):
        nodes_here = len({primaries[p] for p in partitions})
        share = min(len(partitions), max(round(parallelism * len(partitions) / len(primaries)), nodes_here))
        owners = tuple(primaries[p] for p in partitions)
        tasks = len(split_by_primary(partitions, owners, share))  # what the datasource will make of it
        groups.append(ReadGroup(ray_node, tuple(partitions), owners, tasks))
    return groups


def ray_nodes_beside(
    ignite_nodes: dict[bytes, str], ray_nodes: Sequence[tuple[str, str]], driver_ip: str
) -> dict[bytes, str]:
    """The Ray node beside each Ignite node that has one: ``ignite_nodes`` maps node ids to the
    ``"host:port"`` each was reached at, ``ray_nodes`` lists ``(node id, IP address)``. Hosts
    match by IP address; a loopback address is the host of the driver (``driver_ip``). Where a
    host has several of each, Ignite node i of the host (by address) takes Ray node
    i mod (Ray nodes of the host), both in a fixed order."""
    ray_by_ip: dict[str, list[str]] = defaultdict(list)
    for ray_node, ip in sorted(ray_nodes):
        ray_by_ip[_canonical_ip(ip, driver_ip)].append(ray_node)
    ignite_by_ip: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
    for ignite_node, address in ignite_nodes.items():
        for ip in sorted(_host_ips(_host_of(address), driver_ip)):
            if ip in ray_by_ip:
                ignite_by_ip[ip].append((address, ignite_node))
                break
    out: dict[bytes, str] = {}
    for ip, nodes in ignite_by_ip.items():
        here = ray_by_ip[ip]
        for i, (_address, ignite_node) in enumerate(sorted(nodes)):
            out[ignite_node] = here[i % len(here)]
    return out


def split_by_primary(partitions: Sequence[int], primaries: Sequence[bytes], tasks: int) -> list[list[int]]:
    """``partitions`` cut into about ``tasks`` groups, each of partitions with the same primary
    (``primaries[i]`` is partition ``partitions[i]``'s): every primary gets at least one group and
    a share of the others in proportion to its partitions, its partitions dealt out evenly."""
    check_int("tasks", tasks, 1)
    by_node: dict[bytes, list[int]] = defaultdict(list)
    for partition, primary in zip(partitions, primaries):
        by_node[primary].append(partition)
    total = len(partitions)
    groups: list[list[int]] = []
    for node in sorted(by_node):
        mine = by_node[node]
        count = min(len(mine), max(1, round(tasks * len(mine) / total)))
        groups.extend(mine[i::count] for i in range(count))
    return groups


class IgniteDatasource(Datasource):
    """A Ray Data datasource over some partitions of an Ignite cache (all of an unpartitioned
    cache when ``partitions`` is None): read tasks over groups of partitions of one primary
    node each, whose blocks are the Arrow batches of ``Client.scan(..., format="arrow")``.
    ``ray.data.read_datasource(IgniteDatasource(client.settings, cache, partitions, primaries))``
    reads it with Ray Data's placement; :func:`read_ignite` adds locality."""

    def __init__(
        self,
        settings: ConnectionSettings,
        cache: str,
        partitions: Sequence[int] | None = None,
        primaries: Sequence[bytes] | None = None,
        scan_args: dict[str, Any] | None = None,
    ):
        super().__init__()
        if partitions is not None and (primaries is None or len(primaries) != len(partitions)):
            raise ValueError("give the primary node of each partition")
        self._settings = settings
        self._cache = cache
        self._partitions = None if partitions is None else list(partitions)
        self._primaries = None if primaries is None else list(primaries)
        self._scan_args = dict(scan_args or {})

    def get_name(self) -> str:
        return f"Ignite({self._cache})"

    def estimate_inmemory_data_size(self) -> int | None:
        return None  # unknown without a pass over the data

    def get_read_tasks(
        self, parallelism: int, per_task_row_limit: int | None = None, data_context: Any = None
    ) -> list[ReadTask]:
        if self._partitions is None:
            groups: list[list[int] | None] = [None]
        elif not self._partitions:
            return []
        else:
            assert self._primaries is not None
            groups = list(split_by_primary(self._partitions, self._primaries, max(1, parallelism)))
        unknown = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
        return [
            ReadTask(
                functools.partial(read_partitions, self._settings, self._cache, group, self._scan_args),
                unknown,
                per_task_row_limit=per_task_row_limit,
            )
            for group in groups
        ]


def read_partitions(
    settings: ConnectionSettings, cache: str, partitions: list[int] | None, scan_args: dict[str, Any]
) -> Iterator[pa.Table]:
    """A read task's work, in a Ray worker: its own client, the partitions' Arrow batches as
    blocks (all of the cache when ``partitions`` is None)."""
    client = Client(
        list(settings.addresses),
        username=settings.username,
        password=settings.password,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        protocol_version=settings.protocol_version,
        tls=settings.tls,
    )
    for batch in client.scan(cache, format="arrow", partitions=partitions, **scan_args):
        yield pa.Table.from_batches([batch])


def igfs_storage(url: str, **options: Any) -> tuple[str, pyarrow.fs.FileSystem]:
    """``(storage_path, storage_filesystem)`` for Ray Train's ``RunConfig`` from an
    ``igfs://host:port/path`` URL: the path, and igfs as a pyarrow file system (our fsspec one
    through ``pyarrow.fs.FSSpecHandler``). ``options`` go to
    :class:`~ignite_fast.igfs_fsspec.IgfsFileSystem` (username, password, tls...)."""
    host, port, path = split_url(url)
    return path, pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(IgfsFileSystem(host, port, **options)))


def _host_of(address: str) -> str:
    if address.startswith("["):
        return address[1:].partition("]")[0]
    return address.rsplit(":", 1)[0] if address.count(":") == 1 else address


def _host_ips(host: str, driver_ip: str) -> set[str]:
    try:
        ips = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        ips = {host}
    return {_canonical_ip(ip, driver_ip) for ip in ips}


def _canonical_ip(ip: str, driver_ip: str) -> str:
    """``ip``, or the driver's address when it is loopback (the driver's own host)."""
    try:
        return driver_ip if ipaddress.ip_address(ip).is_loopback else ip
    except ValueError:
        return ip
