"""PyTorch: an ``IterableDataset`` that reads an Ignite cache as batches of tensors.

Every DataLoader worker of every ``torch.distributed`` rank reads its own share of the cache's
partitions, so that together they read every entry exactly once per epoch::

    from torch.utils.data import DataLoader
    from ignite_fast.pytorch import IgniteIterableDataset

    dataset = IgniteIterableDataset("digits", hosts=["10.0.0.1:10800", "10.0.0.2:10800"], batch_size=256)
    for batch in DataLoader(dataset, batch_size=None, num_workers=2):
        pixels, labels = batch["val"]["pixels"], batch["val"]["label"]     # torch tensors

Batches are already batches: give the DataLoader ``batch_size=None``. Numeric columns become
tensors without a copy (``torch.from_numpy``); dates and times become ``int64`` tensors of their
units; strings, and arrays of varying length (:class:`~ignite_fast.columns.Ragged`), stay numpy,
as PyTorch has no tensors for them. Null values are zero, or with ``with_masks=True`` each
nullable column is a pair ``(values, valid)``.

Under an engine (``torchrun``, Kubeflow's PyTorchJob: see :mod:`ignite_fast.distributed`), the
dataset is made on every rank, after ``torch.distributed.init_process_group`` when the job uses
it: the ranks then agree on one shard plan (every rank's home node gathered, rank 0 plans, the
plan broadcast; without a process group, through a plan record in Ignite), and rank r reads
shard r, its DataLoader workers each a part of it. When the cluster's topology changes under
the plan (a node joins or leaves), iterating raises
:class:`~ignite_fast.errors.TopologyChangedError`: end the worker (see
:func:`ignite_fast.distributed.exit_on_topology_change`) and let the engine restart the job.
``shard=(i, n)`` instead reads contiguous ranges of partition numbers, which need no agreement.

A job killed mid-epoch can go on where it stopped: the dataset has torchdata's ``state_dict()`` /
``load_state_dict()``, so ``torchdata.stateful_dataloader.StatefulDataLoader`` (a DataLoader that
can be saved) keeps, in its own ``state_dict()``, each reader's position in the epoch
(:class:`~ignite_fast.position.ScanPosition`: the partitions it finished, how far it read the
others). Restored into a new loader over the same dataset (same cache, plan, ranks and workers),
it reads the rest of the epoch: with unchanged data, every entry exactly once across the runs::

    loader = StatefulDataLoader(dataset, batch_size=None, num_workers=2, persistent_workers=True)
    loader.load_state_dict(torch.load("loader.pt"))      # saved with torch.save(loader.state_dict(), ...)

Each iteration of the dataset is an epoch, counted in its state, but the first after it is made
or restored, which reads (the rest of) the epoch it is in. DataLoader workers that do not
persist are new copies of the dataset at every pass, each counting from the dataset's epoch in
the main process: give ``persistent_workers=True`` for positions that count epochs (the rows
read are the same either way). An Ignite 2 cache that is not partitioned (replicated) is read
whole by one cursor, as before, and its ``state_dict()`` raises ``InvalidArgumentError``.

PyTorch is an optional dependency: only this module imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ._faces import given_options, where_taken
from .client import Client, TlsOptions
from .columns import Ragged
from .distributed import TopologyWatch, WorkerContext, agreed_plan, worker_context
from .errors import InvalidArgumentError, PositionError
from .position import ScanPosition
from .resumable import ResumableScan
from .sharding import ShardPlan, check_shard


def _process_group() -> Any:
    """``torch.distributed`` when its default process group is initialized, else None."""
    import torch.distributed as dist

    return dist if dist.is_available() and dist.is_initialized() else None


def process_context() -> WorkerContext:
    """This process's :class:`~ignite_fast.distributed.WorkerContext`, its rank and world size
    taken from ``torch.distributed`` when initialized."""
    context = worker_context()
    dist = _process_group()
    if dist is not None and (dist.get_rank(), dist.get_world_size()) != (context.rank, context.world_size):
        context = dataclasses.replace(context, rank=dist.get_rank(), world_size=dist.get_world_size())
    return context


def process_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``torch.distributed`` when initialized, else the
    engine's environment (``RANK``/``WORLD_SIZE``, ``TF_CONFIG``), else (0, 1)."""
    context = process_context()
    return context.rank, context.world_size


class TorchCollective:
    """``torch.distributed``'s default group as the collective :func:`~ignite_fast.distributed.agreed_plan`
    uses (object collectives; with NCCL, set the process's device first, as they require)."""

    def all_gather(self, value: Any) -> list[Any]:
        import torch.distributed as dist

        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, value)
        return gathered

    def broadcast(self, value: Any) -> Any:
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def to_torch(column: Any, with_masks: bool = False) -> Any:
    """A decoded column (see :mod:`ignite_fast.columns`) as tensors, without copying numbers."""
    if isinstance(column, dict):
        return {name: to_torch(value, with_masks) for name, value in column.items()}
    if isinstance(column, Ragged):
        return column
    if isinstance(column, np.ma.MaskedArray):
        values = to_torch(column.filled(0 if column.dtype.kind != "S" else b""))  # a copy, of nullable columns only
        if not with_masks:
            return values
        null = np.ma.getmaskarray(column)
        return values, torch.from_numpy(~null.reshape(len(null), -1).all(axis=1))
    if isinstance(column, np.ndarray):
        if column.dtype.kind in "mM":
            return torch.from_numpy(column.view(np.int64))
        if column.dtype.kind in "biuf":
            return torch.from_numpy(column)
    return column


class IgniteIterableDataset(IterableDataset[Any]):
    """Batches of an Ignite cache for a ``torch.utils.data.DataLoader`` (with ``batch_size=None``).

    ``hosts`` lists the nodes (``"host:port"``; give them all, so that each partition is read
    from its primary), or ``host``/``port`` name one. ``batch_size`` is rows per batch (default:
    about 16 MB). ``columns`` and ``value_type`` are as in :meth:`ignite_fast.Client.scan`;
    ``parallel`` is how many partitions each worker reads at a time. ``transform`` is applied to
    every batch, in the worker.

    Which partitions this process reads: with several ranks (``torch.distributed``, or the
    engine's ``RANK``/``WORLD_SIZE``/``TF_CONFIG``), shard ``rank`` of the plan the ranks agree
    on when the dataset is made (see :func:`~ignite_fast.distributed.agreed_plan`; ``balance``
    is the client's ``plan_shards``': by default what is stored, counted, or ``"partitions"``),
    split among the DataLoader's workers; alone, the whole cache. ``plan`` gives the plan
    outright (one shard per rank, or one per DataLoader worker of every rank); ``shard=(i, n)``
    reads contiguous partition ranges as rank i of n, with no plan. Iterating a plan raises
    :class:`~ignite_fast.errors.TopologyChangedError` when the cluster's topology leaves the
    plan's (asked at most every ``topology_check`` seconds, and at each epoch's start and end).

    ``ignite=3`` reads an Apache Ignite 3 table (``cache`` is its name; batches are
    ``{column: tensor}``) the same way, through the client ``Client(..., ignite=3)`` gives:
    whatever a client cannot do is refused when the dataset is made (``value_type`` on Ignite 3),
    and a plan is watched for topology changes where the client tells its topology (Ignite 2).
    """

    def __init__(
        self,
        cache: str,
        host: str = "127.0.0.1",
        port: int = 10800,
        *,
        hosts: Sequence[str] | None = None,
        batch_size: int | None = None,
        columns: Sequence[str] | None = None,
        value_type: str | int | None = None,
        parallel: int = 2,
        shard: tuple[int, int] | None = None,
        plan: ShardPlan | None = None,
        balance: str | None = None,
        topology_check: float = 1.0,
        with_masks: bool = False,
        transform: Any = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | TlsOptions | None = None,
        timeout: float = 60.0,
        ignite: int = 2,
    ):
        super().__init__()
        if not isinstance(cache, str) or not cache:
            raise InvalidArgumentError(f"cache must be a non-empty string, got {cache!r}")
        if shard is not None:
            check_shard(shard)
            if plan is not None:
                raise InvalidArgumentError("give shard= (contiguous ranges) or plan=, not both")
        self.cache = cache
        self.batch_size = batch_size
        self._client_args: dict[str, Any] = dict(
            host=list(hosts) if hosts is not None else host,
            port=port,
            username=username,
            password=password,
            tls=tls,
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        self._ignite = ignite
        self._with_masks = with_masks
        self._transform = transform
        self._topology_check = topology_check
        # Made in this process, before the DataLoader starts its workers: connections do not
        # cross a fork, and collectives are for ranks, not their DataLoader workers.
        client = Client(**self._client_args, ignite=ignite)  # fails here on a bad address or credentials
        self._scan_args: dict[str, Any] = {
            "batch_size": batch_size,
            "parallel": parallel,
            # what this client's scan does not take (value_type on Ignite 3) is refused here
            **given_options(
                client.resumable_scan,
                repr(cache),
                columns=None if columns is None else list(columns),
                value_type=value_type,
            ),
            **where_taken(client.resumable_scan, failover_timeout=timeout),  # Ignite 2 fails over
        }
        self._rank: tuple[int, int] = shard if shard is not None else (0, 1)
        if shard is None:
            context = process_context()
            self._rank = (context.rank, context.world_size)
            if plan is None and context.world_size > 1:
                collective = TorchCollective() if _process_group() is not None else None
                plan = agreed_plan(client, cache, context, collective=collective, balance=balance)
        self.plan = plan
        self._epoch = 0
        self._start: ScanPosition | None = None  # where epoch _epoch's reading starts (None: its start)
        self._continues = True  # the next iteration reads epoch _epoch (not the one after)
        self._scan: ResumableScan | None = None  # the iteration's, once it reads (kept at its end)
        self._whole = False  # the iteration reads a cache that is not partitioned (see _read)

    def worker_shard(self) -> tuple[int, int]:
        """``(index, count)`` of the calling DataLoader worker among all readers of the cache."""
        rank, world = self._rank
        worker, workers = _dataloader_worker()
        return rank * workers + worker, world * workers

    def worker_partitions(self) -> list[int] | None:
        """The partitions the calling DataLoader worker reads under the plan (None without one)."""
        plan = self.plan
        if plan is None:
            return None
        rank, world = self._rank
        worker, workers = _dataloader_worker()
        if len(plan) == world:
            return list(plan[rank][worker::workers])  # the rank's shard, dealt among its workers
        if len(plan) == world * workers:
            return list(plan[rank * workers + worker])
        raise InvalidArgumentError(
            f"the plan has {len(plan)} shards: not one per rank ({world}) "
            f"nor one per DataLoader worker of every rank ({world * workers})"
        )

    def state_dict(self) -> dict[str, Any]:
        """Where this reader is in its epoch: ``{"position": ScanPosition.to_dict() or None,
        "epoch": int}``, after the last batch it gave (None: the epoch's start; at the epoch's
        end, a position with every partition finished). torchdata's ``StatefulDataLoader`` asks
        each of its workers' copies (and the dataset itself with no workers) and keeps their
        states in its own ``state_dict()``."""
        if self._whole:
            raise InvalidArgumentError(
                f"cache {self.cache!r} is not partitioned (replicated, or a custom affinity): "
                "where a reader is in it cannot be saved"
            )
        position = self._scan.position() if self._scan is not None else self._start
        return {"position": None if position is None else position.to_dict(), "epoch": self._epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """The next iteration reads the rest of the epoch ``state`` (of :meth:`state_dict`) is
        in: what was read of it is not read again (nothing, if it was read to its end); the
        iterations after read the epochs after. A state of another cache, table, plan or world
        size is refused when the iteration starts, before any row is read
        (:class:`~ignite_fast.errors.PositionError`); a malformed one here."""
        if not isinstance(state, Mapping) or set(state) != {"position", "epoch"}:
            raise PositionError(f"a dataset state is {{'position': ..., 'epoch': ...}}, got {state!r}")
        epoch, position = state["epoch"], state["position"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise PositionError(f"the state's epoch must be an int >= 0, got {epoch!r}")
        start = None if position is None else ScanPosition.from_dict(position)
        if start is not None and start.epoch != epoch:
            raise PositionError(f"the state's epoch {epoch} is not its position's ({start.epoch})")
        self._epoch, self._start, self._continues, self._scan = epoch, start, True, None

    def __iter__(self) -> Iterator[Any]:
        # Every iteration is an epoch, but the first after construction or load_state_dict,
        # which reads (the rest of) the epoch it is in. StatefulDataLoader restores a state
        # into a worker's copy of the dataset and iterates it once for the rest of its epoch;
        # it iterates again (a loader restored at an epoch's end, persistent workers, no workers)
        # for the next epoch.
        if not self._continues:
            self._epoch, self._start = self._epoch + 1, None
        self._continues, self._scan, self._whole = False, None, False
        return self._read(self._start)

    def _read(self, start: ScanPosition | None) -> Iterator[Any]:
        # per worker process: connections do not cross a fork
        client = Client(**self._client_args, ignite=self._ignite)
        partitions = self.worker_partitions()
        watch = None
        if self.plan is not None:
            watch = TopologyWatch(client, self.plan.topology, self._topology_check, f"the shard plan of {self.cache!r}")
            watch.check(now=True)
        if partitions is None and client.partitions(self.cache) == 0:
            # not partitioned (Ignite 2's replicated caches): one cursor reads it, which cannot resume
            self._whole = True
            for batch in client.scan(self.cache, shard=self.worker_shard(), **self._scan_args):
                yield self._tensors(batch)
        elif partitions != []:  # a plan may leave a worker nothing to read
            selection = {"shard": self.worker_shard()} if partitions is None else {"partitions": partitions}
            with client.resumable_scan(self.cache, start, epoch=self._epoch, **selection, **self._scan_args) as scan:
                self._scan = scan
                for batch in scan:
                    yield self._tensors(batch)
                    if watch is not None:
                        watch.check()
        if watch is not None:
            watch.check(now=True)  # an epoch read across a change is not the plan's epoch

    def _tensors(self, batch: Any) -> Any:
        tensors = to_torch(batch, self._with_masks)
        return tensors if self._transform is None else self._transform(tensors)


def _dataloader_worker() -> tuple[int, int]:
    """``(id, count)`` of the calling DataLoader worker; (0, 1) outside one."""
    info = get_worker_info()
    return (info.id, info.num_workers) if info is not None else (0, 1)
