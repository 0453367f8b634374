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

Shards: worker ``w`` of ``W`` DataLoader workers on rank ``r`` of ``R`` reads shard
``(r * W + w, R * W)``, from the plan ``ignite-fast train`` put in the environment when it has
that many shards, else contiguous partition ranges (see :mod:`ignite_fast.sharding`). The rank
comes from ``torch.distributed`` when it is initialized, else from ``RANK``/``WORLD_SIZE``.
PyTorch is an optional dependency: only this module imports it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .client import Client, TlsOptions
from .columns import Ragged
from .errors import InvalidArgumentError
from .sharding import ShardPlan, check_shard


def process_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``torch.distributed`` when initialized, else the
    ``RANK``/``WORLD_SIZE`` environment (set by ``torchrun`` and ``ignite-fast train``), else (0, 1)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as e:
        raise InvalidArgumentError(f"RANK/WORLD_SIZE must be integers: {e}") from None
    if not 0 <= rank < world:
        raise InvalidArgumentError(f"RANK={rank} is not within WORLD_SIZE={world}")
    return rank, world


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


class IgniteIterableDataset(IterableDataset):
    """Batches of an Ignite cache for a ``torch.utils.data.DataLoader`` (with ``batch_size=None``).

    ``hosts`` lists the nodes (``"host:port"``; give them all, so that each partition is read
    from its primary), or ``host``/``port`` name one. ``batch_size`` is rows per batch (default:
    about 16 MB). ``columns`` and ``value_type`` are as in :meth:`ignite_fast.Client.scan`;
    ``parallel`` is how many partitions each worker reads at a time. ``shard=(i, n)`` overrides
    the process's place (rank) among ``n``; ``plan`` (a :class:`~ignite_fast.sharding.ShardPlan`
    with one shard per DataLoader worker of every process) gives the partitions outright.
    ``transform`` is applied to every batch, in the worker.
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
        with_masks: bool = False,
        transform: Any = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | TlsOptions | None = None,
        timeout: float = 60.0,
    ):
        super().__init__()
        if not isinstance(cache, str) or not cache:
            raise InvalidArgumentError(f"cache must be a non-empty string, got {cache!r}")
        if shard is not None:
            check_shard(shard)
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
        self._scan_args: dict[str, Any] = dict(
            batch_size=batch_size,
            columns=None if columns is None else list(columns),
            value_type=value_type,
            parallel=parallel,
            failover_timeout=timeout,
        )
        self._shard = shard
        self._plan = plan
        self._with_masks = with_masks
        self._transform = transform
        Client(**self._client_args)  # fail here, in the main process, on a bad address or credentials

    def worker_shard(self) -> tuple[int, int]:
        """``(index, count)`` of the calling DataLoader worker among all readers of the cache."""
        rank, world = self._shard if self._shard is not None else process_rank()
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank * workers + worker, world * workers

    def __iter__(self) -> Iterator[Any]:
        client = Client(**self._client_args)  # per worker process: connections do not cross a fork
        for batch in client.scan(self.cache, shard=self.worker_shard(), plan=self._plan, **self._scan_args):
            tensors = to_torch(batch, self._with_masks)
            yield tensors if self._transform is None else self._transform(tensors)
