"""Ray Data: Ignite 2 caches and Ignite 3 tables as ``ray.data.Dataset`` s, and datasets written
into them (``pip install 'ignite_fast[ray]'``).

    import ray
    from ignite_fast.ray import read_ignite, write_ignite

    ray.init()                                                         # or ray.init(address="auto")
    ds = read_ignite("digits", hosts=["10.0.0.1:10800", "10.0.0.2:10800"], columns=["pixels", "label"])
    ds.take(2)                    # [{"key": 0, "pixels": array([...], dtype=uint8), "label": 3}, ...]
    write_ignite(ds, "digits_copy", hosts=["10.0.0.1:10800"], type_name="Digit")   # objects of Digit
    table = read_ignite("DIGITS3", hosts=["10.0.0.1:10800"], ignite=3)             # an Ignite 3 table

Reading. The dataset is lazy and streams, as any Ray Data read: nothing is read until it is
consumed (``iter_batches``, ``materialize``, a Ray Train trainer's ``get_dataset_shard``...). Each
read task reads a group of partitions with ``scan(name, partitions=[...], format="arrow")`` of the
client that ``Client(..., ignite=)`` gives, all of them from the same primary node, and hands Ray
the Arrow record batches as blocks: the columns come from the decoded buffers, no Python object
per row, with the types of ``to_arrow`` (see :mod:`ignite_fast.arrow`). Every partition is in
exactly one read task, so one pass over the dataset reads every row once (as of when each
partition is read). A read task runs in a Ray worker, which makes its own client from the
settings given here (hosts, credentials, TLS): certificate files must be at the same paths on
every Ray node. The face asks the client what it knows (``primaries``, ``node_addresses``,
``scan``'s options) the same way on both generations; what differs (making a client from
settings, how output columns name scan columns, the shape of a write) is in the small
:class:`_Generation` table at the end of this module.

Columns. ``columns=`` names what each task decodes (Ignite 2: value fields, ``key`` always comes;
Ignite 3: table columns); the others are never decoded (Ignite 3: never sent). Ray's projection
pushdown does the same for a ``select_columns`` (or any projection) that sits directly on the read:
:class:`IgniteDatasource` takes the projection into its scans. Ray 2.60 pushes projections into a
read but not through a union, so with locality and several Ray nodes (a union of reads, below) a
later ``select_columns`` is applied after decoding: give ``columns=`` to ``read_ignite`` there.

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

Writing. :func:`write_ignite` writes a dataset through Ray's Datasink API: each write task makes
its own client and puts each block with ``put_batches`` (Ignite 2: objects of ``type_name``;
Ignite 3: rows upserted into an existing table). The columns are checked on the driver first,
against nothing written (the first block's schema, converted and put with no rows: every check
``put_batches`` makes, against the table on Ignite 3), and each block against the first.

Ray Train keeps checkpoints in a pyarrow file system: :func:`igfs_storage` gives ``igfs://`` as
one (``RunConfig(storage_path=path, storage_filesystem=fs)``).

Restarts and topology: a failed read task is retried by Ray Data and reads its partitions again
from the start. Partitions that change owner mid-read are read from their new primary (the
scan's failover).
"""

from __future__ import annotations

import functools
import ipaddress
import pickle
import socket
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.fs
import ray
import ray.data
import ray.exceptions
from ray.data import Datasink, Datasource, ReadTask
from ray.data.block import Block, BlockAccessor, BlockMetadata

from ._faces import given_options
from ._options import ConnectionSettings, TlsOptions, check_int, split_address
from .client import Client
from .errors import IgniteError, InvalidArgumentError
from .igfs import split_url
from .igfs_fsspec import IgfsFileSystem
from .reading import split_by_primary
from .source import NodeKey, Source

__all__ = [
    "IgniteDatasink",
    "IgniteDatasource",
    "ReadGroup",
    "igfs_storage",
    "plan_reads",
    "read_ignite",
    "write_ignite",
]

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
    primaries: tuple[NodeKey, ...]
    tasks: int


def read_ignite(
    name: str,
    hosts: str | Sequence[str] = "127.0.0.1",
    port: int = 10800,
    *,
    ignite: int = 2,
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
    """An Ignite 2 cache (``ignite=2``) or an Ignite 3 table (``ignite=3``) as a Ray dataset of
    Arrow blocks: the columns of the client's ``to_arrow`` (Ignite 2: ``key`` and the value's
    fields; Ignite 3: the table's columns). ``columns``, ``batch_size``, ``decimal_as_string``
    and (Ignite 2) ``value_type`` are the scan's (blocks hold up to ``batch_size`` rows); only
    the ``columns`` named are decoded. The connection arguments are those of
    :class:`~ignite_fast.client.Client`; give every node's address (Ignite 2: or one, and the
    others are discovered). ``parallelism`` is the number of read tasks in all (default: two per
    CPU of the Ray cluster, at least one per Ignite node, at most one per partition; on Ignite 3.1
    each task costs the server a scan of the table, which does not prune by partition, so one per
    node is the cheap choice there); ``locality=False`` lets Ray Data place every task (see the
    module's notes). ``num_cpus`` (per task) and ``concurrency`` (tasks at once, per read) go to
    ``ray.data.read_datasource``: a task takes one CPU by default, so beside a trainer leave CPUs
    free for them (a Ray Train job whose workers hold every CPU reads nothing). Connects to Ray
    (``ray.init()``) if it is not yet."""
    generation = _generation(ignite)
    if not ray.is_initialized():
        ray.init()
    client = Client(
        hosts,
        port,
        ignite=ignite,
        username=username,
        password=password,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tls=tls,
    )
    scan_args = _scan_args(
        client,
        name,
        columns=None if columns is None else list(columns),
        value_type=value_type,
        batch_size=batch_size,
        decimal_as_string=decimal_as_string,
    )
    read_args: dict[str, Any] = {"num_cpus": num_cpus, "concurrency": concurrency}
    groups = plan_reads(client, name, parallelism=parallelism, locality=locality)
    if not groups:  # not partitioned (replicated, custom affinity): one task reads it whole
        source = IgniteDatasource(client.settings, name, scan_args=scan_args, ignite=generation.ignite)
        whole: ray.data.Dataset = ray.data.read_datasource(source, override_num_blocks=1, **read_args)
        return whole
    reads: list[ray.data.Dataset] = []
    for group in groups:
        source = IgniteDatasource(
            client.settings, name, group.partitions, group.primaries, scan_args, ignite=generation.ignite
        )
        placement: dict[str, Any] = {}
        if group.ray_node is not None:
            placement = {
                "label_selector": {NODE_ID_LABEL: group.ray_node},
                "fallback_strategy": [{"label_selector": {}}],  # soft: any node rather than wait
            }
        reads.append(ray.data.read_datasource(source, override_num_blocks=group.tasks, **placement, **read_args))
    return reads[0].union(*reads[1:]) if len(reads) > 1 else reads[0]


def _scan_args(client: Source, name: str, **options: Any) -> dict[str, Any]:
    """The scan options given (None: not given), checked here against the client's own ``scan``
    rather than in every task: one it does not take (``value_type`` on Ignite 3) is refused."""
    if options.get("batch_size") is not None:
        check_int("batch_size", options["batch_size"], 1)
    return given_options(client.scan, repr(name), **options)


def plan_reads(client: Source, name: str, *, parallelism: int | None = None, locality: bool = True) -> list[ReadGroup]:
    """How :func:`read_ignite` reads ``name`` with ``client`` (either generation's): one group per
    Ray node that is beside a primary (and one, ``ray_node=None``, for partitions with none
    beside them), covering every partition once, with its share of ``parallelism`` read tasks.
    Empty for a source that is not partitioned (an Ignite 2 cache that is replicated). Needs a
    connected Ray (``ray.init()``)."""
    named = client.primaries(name)
    # A partition whose primary the cluster does not name at the moment (Ignite 3, while it
    # moves) is read from any node: it goes with a node of its own, "", that no Ray node is beside.
    primaries: list[NodeKey] = [node if node is not None else "" for node in named]
    primary_nodes = set(primaries)
    if parallelism is None:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        parallelism = max(TASKS_PER_CPU * cpus, len(primary_nodes))
    check_int("parallelism", parallelism, 1)
    beside: dict[NodeKey, str | None] = dict.fromkeys(primary_nodes)
    if locality:
        ray_nodes = [(n["NodeID"], n["NodeManagerAddress"]) for n in ray.nodes() if n["Alive"]]
        beside.update(ray_nodes_beside(client.node_addresses(), ray_nodes, ray.util.get_node_ip_address()))
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
    ignite_nodes: dict[Any, str], ray_nodes: Sequence[tuple[str, str]], driver_ip: str
) -> dict[Any, str]:
    """The Ray node beside each Ignite node that has one: ``ignite_nodes`` maps node ids (or
    names) to the ``"host:port"`` each was reached at, ``ray_nodes`` lists ``(node id, IP
    address)``. Hosts match by IP address; a loopback address is the host of the driver
    (``driver_ip``). Where a host has several of each, Ignite node i of the host (by address)
    takes Ray node i mod (Ray nodes of the host), both in a fixed order."""
    ray_by_ip: dict[str, list[str]] = defaultdict(list)
    for ray_node, ip in sorted(ray_nodes):
        ray_by_ip[_canonical_ip(ip, driver_ip)].append(ray_node)
    ignite_by_ip: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for ignite_node, address in ignite_nodes.items():
        for ip in sorted(_host_ips(split_address(address)[0], driver_ip)):
            if ip in ray_by_ip:
                ignite_by_ip[ip].append((address, ignite_node))
                break
    out: dict[Any, str] = {}
    for ip, nodes in ignite_by_ip.items():
        here = ray_by_ip[ip]
        for i, (_address, ignite_node) in enumerate(sorted(nodes, key=lambda node: node[0])):
            out[ignite_node] = here[i % len(here)]
    return out


class IgniteDatasource(Datasource):
    """A Ray Data datasource over some partitions of an Ignite 2 cache or Ignite 3 table (all of an
    unpartitioned cache when ``partitions`` is None): read tasks over groups of partitions of one
    primary node each, whose blocks are the Arrow batches of ``scan(..., format="arrow")``.
    ``ray.data.read_datasource(IgniteDatasource(client.settings, name, partitions, primaries,
    ignite=...))`` reads it with Ray Data's placement; :func:`read_ignite` adds locality.

    It takes Ray's projection pushdown: a projection Ray's optimizer hands it (from a
    ``select_columns`` right after the read) becomes the scans' ``columns=``, so the columns
    left out are never decoded."""

    def __init__(
        self,
        settings: ConnectionSettings,
        name: str,
        partitions: Sequence[int] | None = None,
        primaries: Sequence[NodeKey] | None = None,
        scan_args: dict[str, Any] | None = None,
        *,
        ignite: int = 2,
    ):
        super().__init__()  # type: ignore[no-untyped-call]  # Ray's pushdown mixins are unannotated
        if partitions is not None and (primaries is None or len(primaries) != len(partitions)):
            raise InvalidArgumentError("give the primary node of each partition")
        self._settings = settings
        self._name = name
        self._partitions = None if partitions is None else list(partitions)
        self._primaries = None if primaries is None else list(primaries)
        self._scan_args = dict(scan_args or {})
        self._ignite = _generation(ignite).ignite
        # Ray's projection mixin keeps the projection here and copies the datasource to apply one
        # (Datasource.apply_projection); None: every column.
        self._projection_map: dict[str, str] | None = None

    def get_name(self) -> str:
        return f"Ignite({self._name})"

    def supports_projection_pushdown(self) -> bool:
        return True

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
        projection = self.get_projection_map()
        projected = None if projection is None else list(projection)
        unknown = BlockMetadata(num_rows=None, size_bytes=None, exec_stats=None, input_files=None)
        return [
            ReadTask(
                functools.partial(
                    read_partitions,
                    self._settings,
                    self._name,
                    group,
                    self._scan_args,
                    ignite=self._ignite,
                    projection=projected,
                ),
                unknown,
                per_task_row_limit=per_task_row_limit,
            )
            for group in groups
        ]


def read_partitions(
    settings: ConnectionSettings,
    name: str,
    partitions: list[int] | None,
    scan_args: dict[str, Any],
    *,
    ignite: int = 2,
    projection: list[str] | None = None,
) -> Iterator[pa.Table]:
    """A read task's work, in a Ray worker: its own client, the partitions' Arrow batches as
    blocks (all of an unpartitioned cache when ``partitions`` is None). ``projection`` names the
    output columns wanted (None: all); only what they need is decoded."""
    generation = _generation(ignite)
    client = generation.connect(settings)
    args = dict(scan_args)
    if projection is not None:
        args["columns"] = _projected_scan_columns(generation, projection, args.get("columns"))
    for batch in client.scan(name, format="arrow", partitions=partitions, **args):
        table = pa.Table.from_batches([batch])
        yield table if projection is None else _select(table, projection, name)


def _projected_scan_columns(
    generation: _Generation, projection: list[str], given: list[str] | None
) -> list[str] | None:
    """The scan's ``columns=`` for the output columns ``projection``, within those ``given`` to
    ``read_ignite`` (a projection cannot bring back a column left out there)."""
    wanted = generation.scan_columns(projection)
    if wanted is None:
        return given
    if given is not None:
        left_out = [column for column in wanted if column not in given]
        if left_out:
            raise InvalidArgumentError(f"columns {left_out} are not read: read_ignite was given columns={given}")
    return wanted


def _select(table: pa.Table, names: list[str], source: str) -> pa.Table:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise InvalidArgumentError(f"{source!r} has no columns {missing}; its columns are {table.column_names}")
    return table.select(names)


# -- writing ------------------------------------------------------------------------------------


def write_ignite(
    dataset: ray.data.Dataset,
    name: str,
    hosts: str | Sequence[str] = "127.0.0.1",
    port: int = 10800,
    *,
    key: str | None = None,
    ignite: int = 2,
    type_name: str | None = None,
    username: str | None = None,
    password: str | None = None,
    tls: bool | TlsOptions | None = None,
    connect_timeout: float = 10.0,
    read_timeout: float | None = 60.0,
    num_cpus: float | None = None,
    concurrency: int | None = None,
) -> int:
    """Writes ``dataset`` into an Ignite 2 cache (``ignite=2``) or an Ignite 3 table
    (``ignite=3``) through Ray's Datasink API, and returns the number of rows written. Each write
    task makes its own client (the connection arguments are those of
    :class:`~ignite_fast.client.Client`) and puts its blocks with ``put_batches``: an upsert, an
    existing key's row is replaced.

    - Ignite 2: column ``key`` (or the one ``key`` names) holds the keys, the other columns
      become the fields of binary objects of ``type_name`` (default ``"<cache>Value"``), which
      Java, pyignite and every other client read; a dataset of ``key`` and ``val`` alone (as
      ``read_ignite`` reads a cache of plain values) writes plain values. The cache is created
      if missing. Columns: integers, floats, bools, strings, and binary or lists of numbers of
      one length per block (arrays). No nulls: Ignite 2's writer has no null field.
    - Ignite 3: the table must exist, and the columns are its columns (named as its ``schema()``
      names them; the key columns among them); ``key`` may name one that must be there. Types
      as ``put_batches`` takes them, also dates, times, timestamps, decimals and nulls.

    Checked on the driver before anything is written: the columns of the dataset's first block
    (its schema, or its first row read when Ray does not know it), converted and put with no
    rows, so every check ``put_batches`` makes is made (a missing key column, a column the
    table lacks, a type that does not fit it); each later block must have the columns and types
    of the first. If a write fails part-way, the error (of the type ``put_batches`` raised) says
    how many rows the finished ``put_batches`` calls of every task had stored, and the failing
    call's message what it stored itself. ``num_cpus`` (per task) and ``concurrency`` (tasks at
    once) go to ``Dataset.write_datasink``. Connects to Ray (``ray.init()``) if it is not yet."""
    generation = _generation(ignite)
    if not ray.is_initialized():
        ray.init()
    client = Client(
        hosts,
        port,
        ignite=ignite,
        username=username,
        password=password,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        tls=tls,
    )
    schema = _first_schema(dataset)
    if schema is None:
        return 0  # no rows, and no columns to check
    # Every check the write tasks make, made here on no rows: nothing is written if one fails.
    generation.put(client, name, numpy_columns(schema.empty_table()), key, type_name)
    sink = IgniteDatasink(client.settings, name, schema, ignite=generation.ignite, key=key, type_name=type_name)
    try:
        dataset.write_datasink(
            sink, ray_remote_args={} if num_cpus is None else {"num_cpus": num_cpus}, concurrency=concurrency
        )
    except Exception as error:
        try:
            counted: int | None = sink.rows_stored()
            failure = sink.failure()
        except ray.exceptions.RayError:  # the counting actor is gone: the error as Ray gave it
            counted, failure = None, None
        rows = "an unknown number of" if counted is None else counted
        stored = f"write_ignite into {name!r}: {rows} rows were stored by the put_batches calls that finished"
        if failure is None:  # not one of ours (a worker lost, Ray's own error...)
            error.add_note(stored)
            raise
        # As a task raised it (not as Ray wraps it), of the same type and attributes (status...);
        # each of our errors holds one argument.
        failure.args = (f"{stored}; then: {failure}",)
        raise failure from error
    finally:
        sink.close()
    return sink.rows_written


def _first_schema(dataset: ray.data.Dataset) -> pa.Schema | None:
    """The Arrow schema of the dataset's blocks: as Ray knows it, or that of its first row
    (running the dataset that far, as Ray's own ``schema()`` does); None without rows or schema."""
    known = dataset.schema(fetch_if_missing=False)
    if known is not None and isinstance(known.base_schema, pa.Schema):
        return known.base_schema
    for first in dataset.limit(1).iter_batches(batch_size=None, batch_format="pyarrow"):
        assert isinstance(first, pa.Table)
        return first.schema
    return None


class _RowsStored:
    """One write's counts: the rows each of its tasks has stored so far (a task retried by Ray
    reports again under its index, replacing what it had said), and the first error a task
    raised, pickled (the actor never unpickles it: an exception as an actor call's argument
    killed the actor here, Ray 2.60)."""

    def __init__(self) -> None:
        self._rows: dict[int, int] = {}
        self._failure: bytes | None = None

    def record(self, task: int, rows: int) -> None:
        self._rows[task] = rows

    def fail(self, error: bytes) -> None:
        if self._failure is None:
            self._failure = error

    def total(self) -> int:
        return sum(self._rows.values())

    def failure(self) -> bytes | None:
        return self._failure


#: The counter as a Ray actor, one per write (no CPU of its own).
_RowsStoredActor = ray.remote(num_cpus=0)(_RowsStored)


class IgniteDatasink(Datasink[int]):
    """Ray Data's sink into an Ignite 2 cache or Ignite 3 table (see :func:`write_ignite`, which
    checks the columns on the driver first): each write task makes its own client and puts each
    block with ``put_batches`` after checking it has the columns and types of ``schema``. Every
    write returns the rows it stored; they are counted as they are stored (by a small Ray actor
    of this sink's, ended by :meth:`close`), so that a failure can say how many rows were stored
    before it."""

    def __init__(
        self,
        settings: ConnectionSettings,
        name: str,
        schema: pa.Schema,
        *,
        ignite: int = 2,
        key: str | None = None,
        type_name: str | None = None,
    ):
        self._settings = settings
        self._name = name
        self._ignite = _generation(ignite).ignite
        self._key = key
        self._type_name = type_name
        self._layout = _layout(numpy_columns(schema.empty_table()))
        self._counter: Any = _RowsStoredActor.remote()
        self.rows_written = 0

    def get_name(self) -> str:
        return f"Ignite({self._name})"

    def write(self, blocks: Iterable[Block], ctx: Any) -> int:
        generation = _generation(self._ignite)
        client = generation.connect(self._settings)
        stored = 0
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            if not table.num_rows:
                continue
            try:
                columns = numpy_columns(table)
                layout = _layout(columns)
                if layout != self._layout:
                    raise InvalidArgumentError(
                        f"a block has columns {_describe(layout)}, the first block {_describe(self._layout)}: "
                        "every block must have the same columns and types"
                    )
                stored += generation.put(client, self._name, columns, self._key, self._type_name)
            except IgniteError as error:
                # Kept as raised here, for the driver: Ray hands it on wrapped, its message extended.
                ray.get(self._counter.fail.remote(pickle.dumps(error)))
                raise
            ray.get(self._counter.record.remote(ctx.task_idx, stored))
        return stored

    def on_write_complete(self, write_result: Any) -> None:
        self.rows_written = int(sum(write_result.write_returns))

    def rows_stored(self) -> int:
        """The rows the write tasks' finished ``put_batches`` calls have stored so far."""
        return int(ray.get(self._counter.total.remote()))

    def failure(self) -> IgniteError | None:
        """The first error a write task raised, as it raised it (None if none did)."""
        pickled = ray.get(self._counter.failure.remote())
        return None if pickled is None else pickle.loads(pickled)  # written by our own write tasks

    def close(self) -> None:
        """Ends the counting actor (once the write is over)."""
        ray.kill(self._counter)


def numpy_columns(table: pa.Table) -> dict[str, np.ndarray]:
    """An Arrow table's columns as the numpy arrays ``put_batches`` takes (both generations):
    numbers and bools as they are, strings as UTF-8 ``S`` arrays, binary and lists of numbers of
    one length as 2-D arrays, timestamps and dates as ``datetime64``, times as ``timedelta64``,
    decimals as ``decimal.Decimal`` objects; a column with nulls as a masked array. No Python
    object per row, except for decimals."""
    return {column: _numpy_column(column, table.column(column).combine_chunks()) for column in table.column_names}


def _numpy_column(name: str, array: pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    kind = array.type
    nulls = array.is_null().to_numpy(zero_copy_only=False) if array.null_count else None
    values: np.ndarray
    if pa.types.is_boolean(kind):
        values = array.fill_null(False).to_numpy(zero_copy_only=False)
    elif pa.types.is_integer(kind) or pa.types.is_floating(kind):
        values = array.fill_null(0).to_numpy(zero_copy_only=False)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        values = _padded_strings(array, nulls)
    elif _is_binary(kind) or _is_list(kind):
        values = _rows_of_one_length(name, array, nulls)
    elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        values = array.to_numpy(zero_copy_only=False)  # NaT at nulls; a zoned timestamp in UTC
    elif pa.types.is_time(kind):
        ticks = array.cast(pa.int32() if pa.types.is_time32(kind) else pa.int64()).fill_null(0)
        values = ticks.to_numpy(zero_copy_only=False).astype(np.int64).view(f"timedelta64[{kind.unit}]")
    elif pa.types.is_decimal(kind):
        values = array.to_numpy(zero_copy_only=False)  # decimal.Decimal objects, None at nulls
    else:
        raise InvalidArgumentError(
            f"column '{name}' is {kind}: write_ignite writes numbers, bools, strings, binary and lists of "
            "numbers of one length, timestamps, dates, times and decimals"
        )
    if nulls is None:
        return values
    mask = nulls if values.ndim == 1 else np.repeat(nulls[:, None], values.shape[1], axis=1)
    return np.ma.masked_array(values, mask)


def _is_binary(kind: pa.DataType) -> bool:
    return bool(pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind))


def _is_list(kind: pa.DataType) -> bool:
    return bool(pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind))


def _offsets(array: pa.Array) -> np.ndarray:
    """The row offsets (rows + 1, int64) of a ``large_binary`` or ``large_list`` array."""
    buffer = array.buffers()[1]
    if buffer is None:
        return np.zeros(len(array) + 1, np.int64)
    return np.frombuffer(buffer, np.int64)[array.offset : array.offset + len(array) + 1]


def _padded_strings(array: pa.Array, nulls: np.ndarray | None) -> np.ndarray:
    """Strings as an ``S<longest>`` array of their UTF-8 bytes (empty at nulls), vectorized."""
    binary = array.cast(pa.large_binary())
    offsets = _offsets(binary)
    data = binary.buffers()[2]
    data = np.zeros(0, np.uint8) if data is None else np.frombuffer(data, np.uint8)
    lengths = np.diff(offsets)
    if nulls is not None:
        lengths[nulls] = 0
    width = max(1, int(lengths.max(initial=0)))
    cells = np.zeros((len(array), width), np.uint8)
    inside = np.arange(width) < lengths[:, None]
    cells[inside] = data[(offsets[:-1, None] + np.arange(width))[inside]]
    return cells.view(f"S{width}").reshape(len(array))


def _rows_of_one_length(name: str, array: pa.Array, nulls: np.ndarray | None) -> np.ndarray:
    """Binary values or lists of numbers, every (non-null) row of one length, as a 2-D array."""
    if _is_binary(array.type):
        flat = array.cast(pa.large_binary())
        data = flat.buffers()[2]
        elements = np.zeros(0, np.uint8) if data is None else np.frombuffer(data, np.uint8)
        element_nulls = None
    else:
        element_type = array.type.value_type
        if not (
            pa.types.is_integer(element_type) or pa.types.is_floating(element_type) or pa.types.is_boolean(element_type)
        ):
            raise InvalidArgumentError(f"column '{name}' is {array.type}: lists must be of numbers or bools")
        flat = array.cast(pa.large_list(element_type))
        children = flat.values
        element_nulls = children.is_null().to_numpy(zero_copy_only=False) if children.null_count else None
        elements = children.fill_null(False if pa.types.is_boolean(element_type) else 0).to_numpy(zero_copy_only=False)
    offsets = _offsets(flat)
    rows = np.flatnonzero(~nulls) if nulls is not None else np.arange(len(array))
    lengths = np.unique(np.diff(offsets)[rows])
    if len(lengths) > 1:
        raise InvalidArgumentError(
            f"column '{name}' has rows of {lengths[0]} and {lengths[-1]} elements: write_ignite writes binary "
            "values and lists of one length per block (a 2-D array)"
        )
    width = int(lengths[0]) if len(lengths) else 0
    at = offsets[rows][:, None] + np.arange(width)
    if element_nulls is not None and element_nulls[at].any():
        raise InvalidArgumentError(f"column '{name}': a list holds a null element")
    out = np.zeros((len(array), width), elements.dtype)
    out[rows] = elements[at]
    return out


def _layout(columns: dict[str, np.ndarray]) -> tuple[tuple[str, str, int], ...]:
    """What must be alike in every block: each column's name, element type (strings of any
    width alike) and number of dimensions (arrays of any length alike)."""
    return tuple(
        (name, "S" if array.dtype.kind == "S" else array.dtype.str, array.ndim) for name, array in columns.items()
    )


def _describe(layout: tuple[tuple[str, str, int], ...]) -> str:
    return ", ".join(f"{name}: {dtype}{'[]' if ndim == 2 else ''}" for name, dtype, ndim in layout)


def igfs_storage(url: str, **options: Any) -> tuple[str, pyarrow.fs.FileSystem]:
    """``(storage_path, storage_filesystem)`` for Ray Train's ``RunConfig`` from an
    ``igfs://host:port/path`` URL: the path, and igfs as a pyarrow file system (our fsspec one
    through ``pyarrow.fs.FSSpecHandler``). ``options`` go to
    :class:`~ignite_fast.igfs_fsspec.IgfsFileSystem` (username, password, tls...)."""
    host, port, path = split_url(url)
    return path, pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(IgfsFileSystem(host, port, **options)))


# -- what differs by generation -----------------------------------------------------------------


def _connect2(settings: ConnectionSettings) -> Source:
    client: Source = Client(
        list(settings.addresses), protocol_version=settings.protocol_version, **settings.client_args()
    )
    return client


def _connect3(settings: ConnectionSettings) -> Source:
    client: Source = Client(list(settings.addresses), ignite=3, **settings.client_args())
    return client


def _scan_columns2(projection: Sequence[str]) -> list[str] | None:
    """Ignite 2's scans always give ``key`` and take value fields (a field called ``key`` shows as
    ``val.key``); ``val`` is a plain value, read whole."""
    if "val" in projection:
        return None
    return ["key" if column == "val.key" else column for column in projection if column != "key"]


def _scan_columns3(projection: Sequence[str]) -> list[str] | None:
    """Ignite 3's scans take the table's columns as they are (at least one: with none wanted,
    every column is read and none kept)."""
    return list(projection) or None


def _put2(client: Client, cache: str, columns: dict[str, np.ndarray], key: str | None, type_name: str | None) -> int:
    key = "key" if key is None else key
    if key not in columns:
        raise InvalidArgumentError(f"no key column {key!r}: the columns are {list(columns)} (key= names the key's)")
    for name, column in columns.items():
        if np.ma.isMaskedArray(column):
            raise InvalidArgumentError(
                f"column '{name}' has nulls: Ignite 2's put_batches writes none; fill them first"
            )
        if column.dtype == object:
            raise InvalidArgumentError(f"column '{name}' holds decimals: Ignite 2's put_batches writes none")
    fields = {"key" if name == "val.key" else name: column for name, column in columns.items() if name != key}
    if not fields:
        raise InvalidArgumentError(f"no value columns beside the key column {key!r}")
    plain = type_name is None and set(fields) == {"val"}
    return int(
        client.put_batches(cache, {"key": columns[key], "val": fields["val"] if plain else fields}, type_name=type_name)
    )


def _put3(client: Source, table: str, columns: dict[str, np.ndarray], key: str | None, type_name: str | None) -> int:
    if type_name is not None:
        raise InvalidArgumentError("type_name names Ignite 2's value types: an Ignite 3 table has its own columns")
    if key is not None and key not in columns:
        raise InvalidArgumentError(f"no key column {key!r}: the columns are {list(columns)}")
    return int(client.put_batches(table, columns))


@dataclass(frozen=True)
class _Generation:
    """What the faces here do differently on each Ignite generation; everything else they ask the
    client (``primaries``, ``node_addresses``, ``scan``, ``put_batches``)."""

    ignite: int
    #: A client from settings, in a Ray worker.
    connect: Callable[[ConnectionSettings], Any]
    #: The scan's ``columns=`` for the output columns wanted (None: all).
    scan_columns: Callable[[Sequence[str]], list[str] | None]
    #: One block's numpy columns through ``put_batches`` (with no rows: its checks only).
    put: Callable[[Any, str, dict[str, np.ndarray], str | None, str | None], int]


_GENERATIONS = {
    2: _Generation(2, _connect2, _scan_columns2, _put2),
    3: _Generation(3, _connect3, _scan_columns3, _put3),
}


def _generation(ignite: Any) -> _Generation:
    generation = _GENERATIONS.get(ignite) if isinstance(ignite, int) and not isinstance(ignite, bool) else None
    if generation is None:
        raise InvalidArgumentError(f"ignite must be 2 or 3, got {ignite!r}")
    return generation


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
