"""The Ignite 2 client: caches read through the reading machinery (``ignite2/reading.py``), SQL,
writes and cluster facts. ``ignite_fast.client.Client`` is its public face."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ignite_fast import _native
from ignite_fast._options import (
    ConnectionSettings,
    TlsOptions,
    batch_converter,
    check_int,
    check_query,
    decode_args,
    exact_decimals,
)
from ignite_fast._progress import check_progress
from ignite_fast._sizing import DEFAULT_CURSORS
from ignite_fast._write_columns import WriteColumn
from ignite_fast.columns import describe
from ignite_fast.errors import InvalidArgumentError
from ignite_fast.parallel import coalesce
from ignite_fast.position import ScanPosition, check_position, row_hashes, selection_of
from ignite_fast.reading import arrow_table, batches_of
from ignite_fast.resumable import WHOLE, Chunk, ResumableScan, end_of
from ignite_fast.sharding import ShardPlan
from ignite_fast.source import Connected
from ignite_fast.writing import put_in_pieces

from .nodes import node_key, primaries_of
from .plans import partition_sizes, plan_shards
from .reading import Reader, Selection

__all__ = ["Ignite2Client"]


class Ignite2Client(Connected):
    """A connection to an Ignite 2 cluster (``ignite_fast.Client`` is this class, and makes an
    Ignite 3 client when asked: ``Client(..., ignite=3)``).

    ``host`` is a host name, a ``"host:port"`` string, or a list of them (tried in order).

    >>> client = Client("127.0.0.1", 10800)                       # doctest: +SKIP
    >>> for batch in client.scan("digits", batch_size=4096):     # doctest: +SKIP
    ...     pixels, labels = batch["val"]["pixels"], batch["val"]["label"]
    """

    def __init__(
        self,
        host: str | Sequence[str] = "127.0.0.1",
        port: int = 10800,
        *,
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float | None = 60.0,
        protocol_version: tuple[int, int, int] = (1, 7, 0),
        tls: bool | TlsOptions | None = None,
    ):
        """``protocol_version`` is where the handshake starts; an older server names its own
        version and the client falls back to it (down to 1.1.0). ``tls=True`` connects with TLS,
        verified against the system's roots; pass :class:`TlsOptions` for a CA file, client
        certificates or to turn the host-name check off."""
        super().__init__(
            ConnectionSettings.make(
                host,
                port,
                username=username,
                password=password,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                protocol_version=protocol_version,
                tls=tls,
            )
        )
        self._reader = Reader(self._settings)
        self._native = self._reader.native

    def partition_map(self, cache: str) -> list[bytes] | None:
        """The primary node id (16 bytes) of every partition of ``cache``, by partition number,
        or None where partition awareness does not apply (replicated caches, custom affinity)."""
        return primaries_of(self._native, cache)

    def partitions(self, cache: str) -> int:
        """The number of partitions of ``cache``; 0 where they cannot be read one by one
        (replicated caches, custom affinity: :meth:`scan` reads those whole)."""
        return len(self.primaries(cache))

    def primaries(self, cache: str) -> list[str | None]:
        """The primary node of every partition of ``cache``, by node id as UUID text (the keys of
        :meth:`node_addresses`); empty where :meth:`partitions` is 0. :meth:`partition_map`
        gives the same ids as 16 bytes."""
        primaries = self.partition_map(cache)
        return [] if primaries is None else [node_key(node) for node in primaries]

    def node_addresses(self) -> dict[str, str]:
        """The address (``"host:port"``) each node of the cluster answered on, by node id as UUID
        text: the nodes given and those discovered from them."""
        return {node_key(node): address for node, address in self._reader.nodes().addresses().items()}

    def topology_version(self) -> tuple[int, int]:
        """The cluster's affinity topology version ``(major, minor)``: the major number changes
        when a server node joins or leaves, the minor one on cache changes and rebalancing."""
        return self._native.topology_version()

    def topology(self) -> tuple[int, int]:
        """The source protocol's topology: :meth:`topology_version`."""
        return self.topology_version()

    def partition_sizes(self, cache: str, parallel: int = 4, *, progress: bool | None = None) -> list[int]:
        """Entries in each partition of ``cache`` (counted by one pass over the data, read from the
        primaries and discarded undecoded: the protocol has no per-partition size request).
        ``progress``: a bar of partitions counted (None: only when stderr is a terminal)."""
        return partition_sizes(self._reader.nodes(), self._reader.sizer, cache, parallel, progress=progress)

    def plan_shards(
        self,
        cache: str,
        workers: int,
        *,
        homes: Sequence[str | None] | None = None,
        balance: str = "entries",
        parallel: int = 4,
        progress: bool | None = None,
    ) -> ShardPlan:
        """Splits ``cache``'s partitions among ``workers``: disjoint shards covering every
        partition, balanced by entry count (``balance="entries"``, one counting pass) or by
        partition count (``"partitions"``), each worker preferring the partitions whose primary
        is its ``homes[i]`` node (``"host:port"`` or ``"host"``). Compute it once and hand it to
        the workers (``scan(cache, shard=(i, n), plan=plan)`` or ``partitions=plan[i]``); see
        :mod:`ignite_fast.sharding`. ``progress``: a bar of partitions counted (None: only when
        stderr is a terminal)."""
        return plan_shards(
            self._reader.nodes(),
            self._reader.sizer,
            cache,
            workers,
            homes=homes,
            balance=balance,
            parallel=parallel,
            progress=progress,
        )

    @property
    def protocol_version(self) -> tuple[int, int, int]:
        """The thin-client protocol version agreed with the server."""
        return self._native.protocol_version()

    def cache_names(self) -> list[str]:
        """Names of all caches in the cluster."""
        return self._native.cache_names()

    def scan(
        self,
        cache: str,
        batch_size: int | None = None,
        *,
        page_size: int | None = None,
        part: int = -1,
        local: bool = False,
        decimal_as_string: bool | None = None,
        columns: Sequence[str] | None = None,
        value_type: str | int | None = None,
        format: str = "numpy",
        strings: str = "bytes",
        parallel: int | None = None,
        ordered: bool = False,
        failover_timeout: float = 60.0,
        shard: tuple[int, int] | None = None,
        partitions: Sequence[int] | None = None,
        plan: ShardPlan | None = None,
        cursors: int = DEFAULT_CURSORS,
    ) -> Iterator[Any]:
        """Scans ``cache`` and yields batches ``{"key": column, "val": column}`` of up to
        ``batch_size`` rows (see :mod:`ignite_fast.columns` for how columns look). Without
        ``batch_size``, batches and pages hold about 16 MB, whatever the size of an entry: a first
        small page measures it.

        ``page_size`` is the number of entries per network page (default: ``batch_size``);
        ``part`` reads one partition (``-1``: all); ``local`` reads only the entries of the node
        this client is connected to; ``decimal_as_string`` gives decimals as exact strings instead
        of float64. ``columns`` names the value fields to decode (dotted paths reach nested
        fields: ``["label", "metadata.width"]``); the others are skipped undecoded.
        ``value_type`` (a type name or id) keeps only entries whose value is of that type, for
        caches that hold several; ``value_type="*"`` reads them all as one union: fields merge
        by name (null where a type lacks them) and a ``_type`` column names each row's type.
        ``format="arrow"`` yields ``pyarrow.RecordBatch`` es instead (see :mod:`ignite_fast.arrow`);
        ``format="columns"`` the named columns of :mod:`ignite_fast.columns` that both are made from.
        ``strings`` is the numpy form of text: ``"bytes"`` (``S<width>``), ``"str"`` (numpy 2's
        ``StringDType``) or ``"arrow"`` (``pyarrow.StringArray`` over the decoded buffers).

        ``parallel=N`` reads the partitions N at a time, each from its primary node (give the
        client the addresses of all nodes), in no particular order, or in partition order with
        ``ordered=True``. If a node dies, its partitions are read again from the backups that take
        over (within ``failover_timeout`` seconds), with no duplicates and no gaps; if more nodes
        left than the cache keeps backups while some of their partitions were unread, the scan
        raises :class:`DataLostError` (Ignite gives such partitions to others empty). Each of the N
        connections keeps ``cursors`` partitions in flight, so the server prepares their next
        pages while the client decodes (a partition is held in memory until it is read whole).
        ``shard=(i, n)`` reads only worker ``i``'s share of ``n``: disjoint sets of partitions
        that together cover the cache, taken from ``plan`` (see :meth:`plan_shards`), from the
        plan put in the environment (``sharding.PLANS_ENV``), or else contiguous ranges that every
        worker computes alike (see :mod:`ignite_fast.sharding`). ``partitions=[...]`` reads just
        those partitions (e.g. ``plan[i]``). Both read in parallel like ``parallel=``.
        Leaving the loop early closes the server-side cursors.
        """
        convert = batch_converter(format, strings)
        exact = exact_decimals(format, decimal_as_string)
        selection = Selection(
            part=part,
            local=local,
            parallel=parallel,
            shard=shard,
            partitions=partitions,
            plan=plan,
            cursors=cursors,
            ordered=ordered,
            failover_timeout=failover_timeout,
        )
        decode = decode_args(exact, columns, value_type)
        for _, batch in self._reader.read(cache, selection, batch_size=batch_size, page_size=page_size, decode=decode):
            yield convert(batch)

    def resumable_scan(
        self,
        cache: str,
        position: ScanPosition | None = None,
        *,
        batch_size: int | None = None,
        columns: Sequence[str] | None = None,
        parallel: int | None = None,
        shard: tuple[int, int] | None = None,
        partitions: Sequence[int] | None = None,
        plan: ShardPlan | None = None,
        format: str = "numpy",
        strings: str = "bytes",
        page_size: int | None = None,
        epoch: int = 0,
        decimal_as_string: bool | None = None,
        value_type: str | int | None = None,
        cursors: int = DEFAULT_CURSORS,
        failover_timeout: float = 60.0,
    ) -> ResumableScan:
        """A scan of ``cache`` that can stop and resume: iterate it for the batches :meth:`scan`
        gives (arguments as there), and take ``scan.position()`` after any batch; pass that
        position back (in this process or another, through ``to_bytes``/``to_dict``) to read
        the rest of the epoch, every entry exactly once while the cache is unchanged. Without a
        position it starts epoch ``epoch``.

        The partitions are read partition-parallel (``parallel``, 1 by default), each from its primary
        (a partition whose node leaves is read whole from its new primary, within ``failover_timeout``
        seconds, as in :meth:`scan`); partitions read whole are not read again, and a partition begun
        before is read again from its start, its entries read before skipped and checked against the
        position's key fingerprint (a partition changed since raises
        :class:`~ignite_fast.errors.PositionMismatchError`, before any batch). A position of another
        cache, selection of partitions, ``columns``, ``shard``, ``plan`` or ``value_type`` raises
        :class:`~ignite_fast.errors.PositionError` before anything is read. A cache that is not
        partitioned (replicated, or a custom affinity) cannot be read resumably
        (``InvalidArgumentError``): its entries cannot be counted partition by partition.

        Changes between the save and the resume: entries written to or removed from a finished
        partition are not seen this epoch; entries of unread partitions are read as they are
        then; in a begun partition, a change among the entries read before (scan order is by key
        hash) raises PositionMismatchError, a change past them is read. A partition that moved
        to another node (the position's ``topology`` differs) is scanned there in the same key
        hash order, so it resumes exactly, checked by the same fingerprint."""
        convert = batch_converter(format, strings)
        decode = decode_args(exact_decimals(format, decimal_as_string), columns, value_type)
        check_int("epoch", epoch, 0)
        if batch_size is not None:
            check_int("batch_size", batch_size, 1)
        if page_size is not None:
            check_int("page_size", page_size, 1)
        selection = Selection(
            parallel=1 if parallel is None else parallel,
            shard=shard,
            partitions=partitions,
            plan=plan,
            cursors=cursors,
            failover_timeout=failover_timeout,
        )
        mine = self._reader.partitions_read(cache, selection)
        chosen = selection_of(columns, shard, None if plan is None else plan.to_dict(), value_type)
        topology = self.topology_version()
        if position is None:
            start = ScanPosition(2, cache, chosen, tuple(sorted(mine)), epoch=epoch, topology=topology)
        else:
            check_position(position, 2, cache, mine, chosen)
            start = replace(position, topology=topology)
        rows = batch_size or self._reader.sizer.batch_rows(cache)

        def handovers(parts: list[int], merge: bool) -> Iterator[tuple[list[int], list[tuple[int, Any]]]]:
            if parts:
                yield from self._reader.handovers(
                    cache, selection, parts, batch_size=rows, page_size=page_size, decode=decode, merge=merge
                )

        def read(parts: list[int]) -> Iterator[Chunk]:
            # Partitions begun before come first, in batches of their own (their rows read before
            # are skipped by partition); small partitions of the others share batches, as in scan.
            begun = [p for p in parts if p in start.open]
            rest = [p for p in parts if p not in start.open]
            return _chunks(itertools.chain(handovers(begun, False), handovers(rest, True)), rows)

        return ResumableScan(start, read, convert)

    def to_arrow(self, cache: str, /, *, progress: bool | None = None, **scan_args: Any) -> Any:
        """The whole cache as a ``pyarrow.Table`` (arguments as in :meth:`scan`). ``progress``: a
        bar of rows read, moved per batch (None: only when stderr is a terminal)."""
        return arrow_table(self.scan(cache, format="arrow", **scan_args), progress, cache)

    def to_pandas(self, cache: str, /, *, progress: bool | None = None, **scan_args: Any) -> Any:
        """The whole cache as a ``pandas.DataFrame``, value fields as columns (by way of Arrow)."""
        return self.to_arrow(cache, progress=progress, **scan_args).to_pandas()

    def schema(self, cache: str, value_type: str | int | None = None) -> dict[str, Any]:
        """The structure of the cache's entries: ``{"key": "long", "val": {"NAME": "string", ...}}``.

        It comes from the first entry and the binary type metadata (every field the type has ever
        had, also those the first object leaves out). For an empty cache, name the value type and
        the structure comes from the metadata alone (nested objects show as ``"object"``, the key
        as ``"unknown"``); without it an empty cache gives ``{}``.
        """
        for batch in self.scan(cache, batch_size=1, value_type=value_type, format="columns"):
            return {name: describe(col, self._type_name) for name, col in batch.items()}
        if value_type is None:
            return {}
        type_id = _native.type_id(value_type) if isinstance(value_type, str) else value_type
        _name, fields, _enum = self._native.binary_type(type_id)
        return {"key": "unknown", "val": {name: _native.type_code_name(code) for name, code in sorted(fields)}}

    def _type_name(self, type_id: int) -> str:
        return self._native.binary_type(type_id)[0]

    def enum_values(self, enum_type: str | int) -> dict[int, str]:
        """``{ordinal: name}`` of an enum type, by type name (e.g. ``"com.example.Color"``) or id."""
        type_id = enum_type if isinstance(enum_type, int) else _native.type_id(enum_type)
        name, _fields, values = self._native.binary_type(type_id)
        if not values:
            raise InvalidArgumentError(f"binary type {name!r} is not an enum")
        return {ordinal: constant for constant, ordinal in values}

    def sql(
        self,
        query: str,
        args: Sequence[Any] = (),
        *,
        batch_size: int | None = None,
        page_size: int | None = None,
        schema: str = "PUBLIC",
        max_rows: int = 0,
        distributed_joins: bool = False,
        local: bool = False,
        lazy: bool = False,
        timeout: float = 0.0,
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        strings: str = "bytes",
    ) -> Iterator[Any]:
        """Runs an SQL fields query and yields batches ``{column name: column}`` of up to
        ``batch_size`` rows (default 1024), columns as in :meth:`scan`.

        ``args`` fill the query's ``?`` placeholders (None, bool, int, float, str, bytes,
        ``datetime.date``/``datetime``/``time``, ``uuid.UUID`` or ``decimal.Decimal``; Ignite 2
        keeps milliseconds of a TIME); filtering and projecting on the server sends only what you need over the wire.

        >>> for batch in client.sql("SELECT ID, NAME FROM KITTEN_CACHE WHERE ID > ?", [1]):  # doctest: +SKIP
        ...     print(batch["ID"], batch["NAME"])
        """
        check_query(query)
        convert = batch_converter(format, strings)
        exact = exact_decimals(format, decimal_as_string)
        batch_size = 1024 if batch_size is None else check_int("batch_size", batch_size, 1)
        page_size = batch_size if page_size is None else check_int("page_size", page_size, 1)
        check_int("max_rows", max_rows, 0)
        cursor = self._native.sql(
            query,
            list(args),
            schema=schema,
            page_size=min(page_size, 2**31 - 1),
            max_rows=max_rows,
            distributed_joins=bool(distributed_joins),
            local=bool(local),
            lazy=bool(lazy),
            timeout_ms=int(timeout * 1000),
            decimal_as_string=bool(exact),
        )
        for _, batch in batches_of(cursor, batch_size):
            yield convert(batch)

    def put_batches(
        self,
        cache: str,
        batch: dict[str, Any],
        *,
        type_name: str | None = None,
        create: bool = True,
        progress: bool | None = None,
    ) -> int:
        """Writes numpy columns: ``{"key": keys, "val": values}`` where ``values`` is one column
        (e.g. a 2-D ``uint8`` array of byte[] values) or a dict of named columns, written as binary
        objects of ``type_name`` (default ``"<cache>Value"``) with compact footers, readable by
        every Ignite client. Columns: 1-D arrays of ``uint8``/``int8`` (byte), ``int16``,
        ``int32``, ``int64``, ``float32``, ``float64``, ``uint16`` (char), ``bool``; 2-D arrays
        of those (fixed-length arrays); strings (``str``/``bytes`` arrays, UTF-8). No Python
        object per row: the arrays are read in place. The cache is created if ``create``.

        Every column is checked before any row is sent. Rows go out in put-all requests of a
        few MB, several in flight; a failure part-way leaves the rows before it written (put-all
        is not a transaction): the error says how many. Returns the number of rows written.
        ``progress``: a bar of rows written (None: only when stderr is a terminal).

        >>> columns = {"key": np.arange(3), "val": {"label": labels, "pixels": pixels}}  # doctest: +SKIP
        >>> client.put_batches("digits", columns)  # doctest: +SKIP
        """
        if not isinstance(batch, dict) or set(batch) != {"key", "val"}:
            raise InvalidArgumentError('batch must be a dict {"key": keys, "val": values}')
        check_progress(progress)
        keys = WriteColumn.of(batch["key"], "key")
        val = batch["val"]
        if isinstance(val, dict):
            if not val:
                raise InvalidArgumentError("an object value needs at least one field")
            fields = [WriteColumn.of(column, str(name)) for name, column in val.items()]
        else:
            fields = [WriteColumn.of(val, "val")]
        for column in fields:
            if column.rows != keys.rows:
                raise InvalidArgumentError(f"column '{column.name}' has {column.rows} rows, the keys have {keys.rows}")

        def values(start: int, stop: int) -> tuple[Any, ...]:
            if isinstance(val, dict):
                return ("object", type_name or f"{cache}Value", [(c.name, c.rows_spec(start, stop)) for c in fields])
            return ("plain", fields[0].rows_spec(start, stop))

        def put(start: int, stop: int) -> int:
            # Only the first piece may create the cache: the others find it.
            create_now = bool(create) and start == 0
            return self._native.put_all(cache, keys.rows_spec(start, stop), values(start, stop), create=create_now)

        return put_in_pieces(cache, keys.rows, [keys, *fields], put, progress=progress, checks_utf8=True)

    def raw_pages(
        self,
        cache: str,
        page_size: int | None = None,
        part: int = -1,
        *,
        parallel: int | None = None,
        cursors: int = DEFAULT_CURSORS,
    ) -> Iterator[tuple[int, int]]:
        """Fetches every page of a scan (of one partition with ``part``) and discards it undecoded,
        yielding ``(entries, bytes)``: the server-and-wire limit that benchmarks compare decoding
        against. ``page_size`` (entries), ``parallel`` and ``cursors`` as in :meth:`scan`."""
        selection = Selection(part=part, parallel=parallel, cursors=cursors, failover_timeout=0.0)
        yield from self._reader.read(cache, selection, batch_size=None, page_size=page_size, decode={}, raw=True)


def _chunks(handovers: Iterator[tuple[list[int], list[tuple[int, Any]]]], rows: int) -> Iterator[Chunk]:
    """Partition hand-overs as a resumable scan's chunks: small batches merged as ``scan`` merges
    them (``parallel.coalesce``, which never splits a batch), each row's partition kept (WHOLE
    for partitions handed over together in one batch), keys hashed once per chunk."""
    # each batch passed to coalesce, in order: its partition, rows, and the partitions it ends
    passed: collections.deque[tuple[int, int, list[int]]] = collections.deque()
    empty: list[int] = []  # partitions without rows: finished with the next chunk

    def batches() -> Iterator[tuple[int, dict[str, Any]]]:
        for partitions, handed in handovers:
            pieces = [(n, batch) for n, batch in handed if n]
            if not pieces:
                empty.extend(partitions)
                continue
            part = partitions[0] if len(partitions) == 1 else WHOLE
            for i, (n, batch) in enumerate(pieces, 1):
                passed.append((part, n, partitions if i == len(pieces) else []))
                yield n, batch

    for n, batch in coalesce(batches(), rows):
        parts: list[int] = []
        counts: list[int] = []
        finished = empty[:]
        empty.clear()
        taken = 0
        while taken < n:
            part, count, ends = passed.popleft()
            parts.append(part)
            counts.append(count)
            finished += ends
            taken += count
        # WHOLE rows need no fingerprint (their partitions finish with this chunk)
        hashes = row_hashes(batch["key"]) if any(p != WHOLE for p in parts) else np.zeros(n, np.uint64)
        where = parts[0] if len(set(parts)) == 1 else np.repeat(np.array(parts, np.int64), counts)
        yield Chunk(batch, n, where, hashes, tuple(finished))
    if empty:
        yield end_of(tuple(empty))
