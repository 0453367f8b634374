"""How a selection of an Ignite 2 cache is read: the one place that chooses between one cursor,
a partition-parallel scan, a worker's shard and given partitions, and checks the arguments that
make the choice. ``Client.scan``, ``Client.raw_pages``, and through them ``IgniteDataset``, the
PyTorch adaptor and Arrow, all read a cache through :meth:`Reader.read`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ignite_fast._options import ConnectionSettings, check_cache_name, check_int
from ignite_fast._sizing import DEFAULT_CURSORS, Sizer
from ignite_fast.errors import InvalidArgumentError
from ignite_fast.parallel import coalesce
from ignite_fast.reading import batches_of, checked_partitions, raw_pages
from ignite_fast.sharding import ShardPlan, check_selection, shard_partitions

from .nodes import NodeConnections, primaries_of
from .partition_scan import PartitionScan


@dataclass(frozen=True)
class Selection:
    """Which entries of a cache to read, and how: ``part``/``local`` for one cursor; ``parallel``
    connections, a worker's ``shard`` (of ``plan``) or given ``partitions`` for a
    partition-parallel scan."""

    part: int = -1
    local: bool = False
    parallel: int | None = None
    shard: tuple[int, int] | None = None
    partitions: Sequence[int] | None = None
    plan: ShardPlan | None = None
    cursors: int = DEFAULT_CURSORS
    ordered: bool = False
    failover_timeout: float = 60.0

    def checked(self) -> Selection:
        """The selection with its arguments checked; ``shard``/``partitions`` imply ``parallel=1``."""
        check_int("part", self.part, -1)
        check_int("cursors", self.cursors, 1)
        partitions = check_selection(self.shard, self.partitions, self.plan)
        parallel = self.parallel
        if self.shard is not None or partitions is not None:
            parallel = parallel or 1
        if parallel is not None:
            check_int("parallel", parallel, 1)
            if self.part != -1 or self.local:
                raise InvalidArgumentError(
                    "parallel=, shard= and partitions= choose the partitions themselves: "
                    "they do not combine with part= or local="
                )
        return Selection(
            self.part,
            bool(self.local),
            parallel,
            self.shard,
            partitions,
            self.plan,
            self.cursors,
            self.ordered,
            self.failover_timeout,
        )


class Reader:
    """A client's reading machinery: its native client, the sizer, and per-node connections
    (made on first partition-parallel use and kept)."""

    def __init__(self, settings: ConnectionSettings):
        self.settings = settings
        self.native = settings.connect()
        self.sizer = Sizer(self.native)
        self._nodes: NodeConnections | None = None
        self._nodes_lock = threading.Lock()

    def nodes(self) -> NodeConnections:
        """A connection per node, made once."""
        with self._nodes_lock:
            if self._nodes is None:
                self._nodes = NodeConnections(self.settings, self.native)
            return self._nodes

    def read(
        self,
        cache: str,
        selection: Selection,
        *,
        batch_size: int | None,
        page_size: int | None,
        decode: dict[str, Any],
        raw: bool = False,
    ) -> Iterator[Any]:
        """Yields ``(rows, columns)`` batches of up to ``batch_size`` rows (sized to about 16 MB
        when None), or ``(entries, bytes)`` of every page when ``raw``."""
        check_cache_name(cache)
        selection = selection.checked()
        if page_size is not None:
            check_int("page_size", page_size, 1)
        if batch_size is not None:
            check_int("batch_size", batch_size, 1)
        if selection.parallel is None:
            return self._cursor(cache, selection.part, selection.local, batch_size, page_size, decode, raw)
        primaries = primaries_of(self.native, cache)
        if primaries is None:  # replicated cache or custom affinity: one cursor does it
            if selection.partitions is not None:
                raise InvalidArgumentError(
                    f"cache {cache!r} is not partitioned (replicated, or a custom affinity): "
                    "partitions= does not apply to it"
                )
            if selection.shard is not None and selection.shard[0] != 0:
                return iter(())  # every entry lives everywhere: the first shard reads them all, once
            return self._cursor(cache, -1, False, batch_size, page_size, decode, raw)
        mine = _mine(cache, selection, len(primaries))
        rows = 1 if raw else batch_size or self.sizer.batch_rows(cache)
        batches = self._partition_scan(cache, selection, primaries, mine, rows, page_size, decode, raw=raw)
        return iter(batches) if raw else coalesce(batches, rows)

    def partitions_read(self, cache: str, selection: Selection) -> list[int]:
        """The partitions a partition-parallel ``selection`` of ``cache`` reads, in the order it
        names them (``InvalidArgumentError`` for a cache that is not partitioned)."""
        check_cache_name(cache)
        selection = selection.checked()
        primaries = primaries_of(self.native, cache)
        if primaries is None:
            raise InvalidArgumentError(
                f"cache {cache!r} is not partitioned (replicated, or a custom affinity): its entries cannot be "
                "counted partition by partition, so it cannot be read resumably"
            )
        return _mine(cache, selection, len(primaries))

    def handovers(
        self,
        cache: str,
        selection: Selection,
        partitions: list[int],
        *,
        batch_size: int,
        page_size: int | None,
        decode: dict[str, Any],
        merge: bool = False,
    ) -> Iterator[tuple[list[int], list[tuple[int, dict[str, Any]]]]]:
        """``partitions`` of ``cache`` read partition-parallel as ``selection`` says, as each
        partition's hand-over ``([partition], batches)`` (no batch shares partitions), or with
        ``merge``, small partitions read whole in one page handed over together in one batch."""
        selection = selection.checked()
        primaries = primaries_of(self.native, cache)
        if primaries is None:
            raise InvalidArgumentError(f"cache {cache!r} is no longer partitioned")
        return iter(
            self._partition_scan(
                cache, selection, primaries, partitions, batch_size, page_size, decode, whole=True, merge=merge
            )
        )

    def _partition_scan(
        self,
        cache: str,
        selection: Selection,
        primaries: list[bytes],
        mine: list[int],
        batch_size: int,
        page_size: int | None,
        decode: dict[str, Any],
        *,
        raw: bool = False,
        whole: bool = False,
        merge: bool = False,
    ) -> PartitionScan:
        return PartitionScan(
            self.nodes(),
            self.sizer,
            cache,
            primaries,
            mine,
            workers=selection.parallel or 1,
            batch_size=batch_size,
            page_size=page_size,
            cursors=selection.cursors,
            ordered=selection.ordered,
            failover_timeout=selection.failover_timeout,
            decode=decode,
            raw=raw,
            whole=whole,
            merge=merge,
        )

    def _cursor(
        self,
        cache: str,
        part: int,
        local: bool,
        batch_size: int | None,
        page_size: int | None,
        decode: dict[str, Any],
        raw: bool,
    ) -> Iterator[Any]:
        """One scan cursor: batches of ``batch_size`` rows (about 16 MB when None) from pages of
        ``page_size`` entries (the batch, but no more than about 16 MB a page: the server's heap)."""
        if part >= 0:
            count = self.sizer.partition_count(cache)
            if count is not None and part >= count:
                raise InvalidArgumentError(
                    f"part={part} is out of range: cache {cache!r} has {count} partitions (0-{count - 1})"
                )
        if raw:
            page_size = page_size or self.sizer.cursor_page_rows(cache, part, local)
            return raw_pages(self.native.scan(cache, page_size=min(page_size, 2**31 - 1), part=part, local=local))
        if batch_size is None:
            batch_size = self.sizer.batch_rows(cache, part)
        if page_size is None:
            page_size = min(batch_size, self.sizer.cursor_page_rows(cache, part, local))
        cursor = self.native.scan(cache, page_size=min(page_size, 2**31 - 1), part=part, local=local, **decode)
        return batches_of(cursor, batch_size)


def _mine(cache: str, selection: Selection, count: int) -> list[int]:
    """The partitions of a partition-parallel ``selection`` of a cache of ``count`` partitions."""
    if selection.partitions is not None:
        return checked_partitions(cache, selection.partitions, count)
    if selection.shard is not None:
        return list(shard_partitions(cache, count, selection.shard, selection.plan))
    return list(range(count))
