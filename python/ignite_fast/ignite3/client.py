"""The client for Apache Ignite 3: tables read into the same numpy batches, Arrow and columns as
Ignite 2's caches, over Ignite 3's own client protocol.

A batch is ``{column name: column}``, named as SQL names them (unquoted names in upper case), in
the order of the table or the query. How SQL types look (see the README's table):

=====================================  ===============================================
Ignite 3 SQL type                      numpy
=====================================  ===============================================
BOOLEAN                                ``bool``
TINYINT, SMALLINT, INTEGER, BIGINT     ``int8``, ``int16``, ``int32``, ``int64``
REAL, DOUBLE                           ``float32``, ``float64``
DECIMAL                                ``float64`` (nearest); exact strings with ``decimal_as_string``
DATE                                   ``datetime64[ms]``
TIME                                   ``timedelta64[ns]`` since midnight
TIMESTAMP                              ``datetime64[ns]`` (no zone)
TIMESTAMP WITH LOCAL TIME ZONE         ``datetime64[ns]`` (UTC)
UUID                                   ``uint8`` ``(rows, 16)``, canonical byte order
VARCHAR                                ``S<width>`` UTF-8 bytes
VARBINARY                              ``uint8`` ``(rows, length)`` when all rows have one length, else
                                       :class:`~ignite_fast.columns.Ragged`; Arrow ``list<uint8>``
=====================================  ===============================================

Nullable columns with nulls are masked arrays.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ignite_fast import _native
from ignite_fast._options import ConnectionSettings, TlsOptions, batch_converter, check_int, check_query, exact_decimals
from ignite_fast._progress import check_progress
from ignite_fast._sizing import TABLE_PAGE_ROWS
from ignite_fast.columns import Column, PrimColumn
from ignite_fast.errors import InvalidArgumentError, ProtocolError
from ignite_fast.position import ScanPosition, check_position, selection_of
from ignite_fast.reading import Batch, arrow_table, batches_of, checked_partitions, raw_pages
from ignite_fast.resumable import Chunk, ResumableScan, end_of
from ignite_fast.sharding import (
    ShardPlan,
    balanced_plan,
    check_plan_args,
    check_selection,
    home_nodes,
    shard_partitions,
)
from ignite_fast.source import Connected
from ignite_fast.writing import put_in_pieces

from .reading import (
    PART_COLUMN,
    batch_chunk,
    check_table,
    in_partitions,
    key_columns_query,
    partition_jobs,
    partition_reads,
    quoted,
    read_tasks,
    read_whole,
    select,
)
from .types import type_text
from .writing import PutColumn

__all__ = ["Ignite3Client"]

Native = _native.NativeIgnite3Client


class Ignite3Client(Connected):
    _generation = ", ignite=3"

    """A connection to an Apache Ignite 3 cluster (``ignite_fast.Client(..., ignite=3)`` makes one).

    ``host`` is a host name, a ``"host:port"`` string, or a list of them; give every node's
    address for ``parallel=`` reads, which read each partition from its primary node.

    >>> client = Client("127.0.0.1", 10800, ignite=3)                       # doctest: +SKIP
    >>> for batch in client.scan("digits"):                                # doctest: +SKIP
    ...     pixels, labels = batch["PIXELS"], batch["LABEL"]
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
        tls: bool | TlsOptions | None = None,
    ):
        settings = ConnectionSettings.make(
            host,
            port,
            username=username,
            password=password,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tls=tls,
        )
        super().__init__(settings)
        self._native = _native.NativeIgnite3Client(self._settings.native_spec())
        self._nodes: dict[str, tuple[Native, str]] | None = None
        self._nodes_lock = threading.Lock()

    # -- SQL -----------------------------------------------------------------------------------

    def sql(
        self,
        query: str,
        args: Sequence[Any] = (),
        *,
        batch_size: int | None = None,
        page_size: int | None = None,
        schema: str = "PUBLIC",
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        strings: str = "bytes",
    ) -> Iterator[Any]:
        """Runs ``query`` and yields batches ``{column: column}`` of up to ``batch_size`` rows
        (default ``page_size``, 4096 rows). ``args`` fill its ``?`` placeholders (None, bool,
        int, float, str, bytes, ``datetime.date``, ``datetime.datetime`` (naive: TIMESTAMP; with a
        zone: TIMESTAMP WITH LOCAL TIME ZONE), ``datetime.time``, ``uuid.UUID`` or
        ``decimal.Decimal``). ``format`` as in :meth:`scan`."""
        check_query(query)
        convert = batch_converter(format, strings)
        exact = exact_decimals(format, decimal_as_string)
        page_size = TABLE_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        batch_size = page_size if batch_size is None else check_int("batch_size", batch_size, 1)
        cursor = self._native.sql(query, list(args), schema, min(page_size, 2**31 - 1), exact)
        for _, batch in batches_of(cursor, batch_size):
            yield convert(batch)

    def execute(self, query: str, args: Sequence[Any] = (), *, schema: str = "PUBLIC") -> int:
        """Runs a statement that returns no rows (DDL, INSERT, UPDATE...); returns the rows it
        changed (-1 for DDL)."""
        return self._native.execute(check_query(query), list(args), schema)

    # -- tables --------------------------------------------------------------------------------

    def schema(self, table: str) -> dict[str, str]:
        """``{column: SQL type}`` of ``table``, in column order (``"VARBINARY(784)"``,
        ``"DECIMAL(10, 2)"``, ``"TIMESTAMP(6)"``...); a column that allows NULL ends in
        ``" NULL"``."""
        cursor = self._native.sql(f"SELECT * FROM {check_table(table)} LIMIT 0", [], "PUBLIC", 1, False)
        try:
            return {
                name: type_text(sql_type, nullable, scale, precision)
                for name, sql_type, nullable, scale, precision in cursor.columns()
            }
        finally:
            cursor.close()

    def put_batches(self, table: str, columns: dict[str, Any], *, progress: bool | None = None) -> int:
        """Writes numpy columns ``{column: array}`` into ``table`` (columns named as
        :meth:`schema` names them; every key column given, the others take their defaults) and
        returns the number of rows written. An existing key's row is replaced: an upsert, as
        Ignite 2's ``put_batches``.

        Accepted (dtype into SQL type): ``bool`` into BOOLEAN; signed and unsigned integers into
        TINYINT, SMALLINT, INTEGER, BIGINT when every value fits (a value that does not is
        refused, never truncated); ``float32`` into REAL; ``float32``/``float64`` into DOUBLE;
        ``str``/``bytes`` arrays into VARCHAR (UTF-8; trailing NULs of ``bytes`` cells are
        padding); a 2-D ``uint8``/``int8`` array into VARBINARY (a row is its bytes);
        ``datetime64`` into DATE (whole days) and into TIMESTAMP and TIMESTAMP WITH LOCAL TIME
        ZONE (cut to milliseconds: Ignite 3.1 keeps no more, whatever the column's precision);
        ``timedelta64`` since midnight into TIME (milliseconds, likewise); ``(rows, 16)`` ``uint8`` (canonical bytes, as
        read) or ``uuid.UUID`` objects into UUID; integers, floats (their shortest decimal
        text), decimal strings and ``decimal.Decimal`` objects into DECIMAL, rounded half up to
        the column's scale (at most 38 digits; more than the column's precision is refused).
        NULL where a masked array is masked (a 2-D row when all of it is), at ``NaT``, and at
        ``None`` in object arrays.

        Every column and value is checked before any row is sent. Rows go through Ignite 3's data
        streamer: to their partitions, in batches of a few MB, several in flight. Each batch is
        stored whole or not at all; a failure part-way says how many rows were stored.
        The call returns once the rows are visible to this client's reads (Ignite 3.1
        acknowledges streamed rows before its reads see them): the last row of each partition is
        read back in a read-write transaction, whose commit moves the client's timestamp past
        them (if that fails, reads are repeated until the rows show, up to 30 s).
        ``progress``: a bar of rows written (None: only when stderr is a terminal)."""
        check_table(table)
        if not isinstance(columns, dict) or not columns:
            raise InvalidArgumentError("columns must be a non-empty dict {column name: array}")
        check_progress(progress)
        self.partitions(table)  # a missing table raises CacheNotFoundError, not an SQL error
        types = self.schema(table)
        prepared = [PutColumn.of(str(name), array, types) for name, array in columns.items()]
        rows = prepared[0].values.rows
        for column in prepared:
            if column.values.rows != rows:
                raise InvalidArgumentError(
                    f"column '{column.name}' has {column.values.rows} rows, '{prepared[0].name}' has {rows}"
                )

        def put(start: int, stop: int) -> int:
            return self._native.put_columns(table, [c.spec(start, stop) for c in prepared])

        values = [c.values for c in prepared]
        return put_in_pieces(table, rows, values, put, progress=progress, checks_utf8=False)

    def partitions(self, table: str) -> int:
        """The number of partitions of ``table``."""
        return self._native.partition_count(check_table(table))

    def scan(
        self,
        table: str,
        batch_size: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        strings: str = "bytes",
        parallel: int | None = None,
        partitions: Sequence[int] | None = None,
        shard: tuple[int, int] | None = None,
        plan: ShardPlan | None = None,
        ordered: bool = False,
    ) -> Iterator[Any]:
        """Reads ``table`` and yields batches ``{column: column}`` of up to ``batch_size`` rows
        (default ``page_size``, 4096 rows); ``columns`` names the columns to read (as SQL names
        them), the others are not sent. ``format="arrow"`` yields ``pyarrow.RecordBatch`` es,
        ``format="columns"`` the named columns of :mod:`ignite_fast.columns`; ``strings`` the numpy
        form of text (``"bytes"``, ``"str"`` or ``"arrow"``, as :meth:`ignite_fast.Client.scan`).

        ``parallel=N`` reads the partitions N at a time, each from its primary node when the
        client knows that node's address, in no particular order (partition order with
        ``ordered=True``); ``partitions=[...]`` reads just those partitions, ``shard=(i, n)``
        worker ``i``'s share of ``n``: disjoint sets of partitions that together cover the table,
        from ``plan`` (see :meth:`plan_shards`), from the plan put in the environment
        (``sharding.PLANS_ENV``), or else contiguous ranges (``sharding.contiguous_shard``, the
        same as Ignite 2's).
        If a node leaves while a partition is being read, the scan raises the connection's error
        rather than give a partial result."""
        query = select(table, columns)
        convert = batch_converter(format, strings)
        exact = exact_decimals(format, decimal_as_string)
        page_size = TABLE_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        batch_size = page_size if batch_size is None else check_int("batch_size", batch_size, 1)
        partitions = check_selection(shard, partitions, plan)
        if shard is not None:
            partitions = list(shard_partitions(table, self.partitions(table), shard, plan))
        if parallel is None and partitions is None:
            cursor = self._native.sql(query, [], "PUBLIC", page_size, exact)
            for _, batch in batches_of(cursor, batch_size):
                yield convert(batch)
            return
        parallel = 1 if parallel is None else check_int("parallel", parallel, 1)
        count = self.partitions(table)
        chosen = list(range(count)) if partitions is None else checked_partitions(table, partitions, count)

        def read(native: Native, parts: list[int]) -> Iterator[Batch]:
            cursor = native.sql(in_partitions(query, parts), parts, "PUBLIC", page_size, exact)
            return batches_of(cursor, batch_size, typed_empty=False)

        for _, batch in self._partition_reads(table, chosen, read, parallel, ordered):
            yield convert(batch)

    def resumable_scan(
        self,
        table: str,
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
    ) -> ResumableScan:
        """A read of ``table`` that can stop and resume: iterate it for the batches :meth:`scan`
        gives (arguments as there), and take ``scan.position()`` after any batch; pass that
        position back (in this process or another, through ``to_bytes``/``to_dict``) to read
        the rest of the epoch, every row exactly once while the table is unchanged. Without a
        position it starts epoch ``epoch``.

        The partitions are read partition-parallel (``parallel``, 1 by default) as ``WHERE
        __part IN (...)`` queries that also read each row's partition (and the primary key
        columns, when ``columns`` leaves them out; both are dropped from the batches).
        Partitions read whole are not read again; partitions begun before are read again first,
        their rows read before skipped and checked against the position's key fingerprint (a
        partition changed since raises :class:`~ignite_fast.errors.PositionMismatchError`,
        before any batch). A position of another table, selection of partitions, ``columns``,
        ``shard`` or ``plan`` raises :class:`~ignite_fast.errors.PositionError` before anything
        is read.

        A partition counts as read whole when the query reading it ends (queries read a node's
        share of the partitions each, ``parallel`` in all), so a position has many open
        partitions. A resumed read counts the rows of those that were read to their end (as the
        order of the queries tells: a node scans a query's partitions one after another) on
        queries beside the row queries of the others, which skip and check the rows read before
        of a partition begun and not ended; one with rows past those read before (added since)
        is then read again for them, its rows read before checked. Every Ignite 3.1 read-only query waits up to
        250 ms before its first row, whatever its partitions (``__part`` does not prune them),
        until the meta storage's safe time passes the query's start (the cluster setting
        ``ignite.system.idleSafeTimeSyncIntervalMillis`` bounds it): the queries of a read are
        sent together (``reading.partition_jobs``), so a resume or a full pass waits once.

        Changes between the save and the resume: rows written to or removed from a finished
        partition are not seen this epoch; rows of unread partitions are read as they are then;
        in a begun partition, a change among the rows read before raises PositionMismatchError,
        rows added to it come after those (a partition is scanned in row id order) and are read;
        a begun partition read to its end with as many rows as were read counts as finished
        (a change there that keeps its row count is not seen this epoch, as in a finished one)."""
        convert = batch_converter(format, strings)
        exact = exact_decimals(format, decimal_as_string)
        check_int("epoch", epoch, 0)
        page_size = TABLE_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        batch_size = page_size if batch_size is None else check_int("batch_size", batch_size, 1)
        parallel = 1 if parallel is None else check_int("parallel", parallel, 1)
        chosen = check_selection(shard, partitions, plan)
        count = self.partitions(table)
        if shard is not None:
            chosen = list(shard_partitions(table, count, shard, plan))
        mine = list(range(count)) if chosen is None else checked_partitions(table, chosen, count)
        picked = selection_of(columns, shard, None if plan is None else plan.to_dict())
        if position is None:
            start = ScanPosition(3, table, picked, tuple(sorted(mine)), epoch=epoch)
        else:
            check_position(position, 3, table, mine, picked)
            start = position
        keys = self.key_columns(table)
        asked = None if columns is None else [str(c) for c in columns]
        added = [] if asked is None else [k for k in keys if k not in asked]
        part = f"__part AS {quoted(PART_COLUMN)}"
        rows_query = select(table, None if asked is None else asked + added, part)
        keys_query = select(table, keys, part)
        count_query = f"SELECT {part}, COUNT(*) AS ROWS FROM {table}"

        def chunks(query: str, rows: int, keys_only: bool) -> Callable[[Native, list[int]], Iterator[Chunk]]:
            """A query of ``query`` in some partitions as chunks of ``rows`` rows: the columns
            asked for (none with ``keys_only``), each row's partition and key hash."""

            def job(native: Native, parts: list[int]) -> Iterator[Chunk]:
                # One batch held back: the query's last batch says its partitions are read
                # whole, so a position taken after the last batch is done.
                cursor = native.sql(in_partitions(query, parts), parts, "PUBLIC", page_size, exact)
                held: tuple[int, Any] = (0, None)
                for n, batch in batches_of(cursor, rows, typed_empty=False):
                    if held[1] is not None:
                        yield batch_chunk(*held, keys, None if keys_only else added, ())
                    held = (n, batch)
                if held[1] is None:
                    yield end_of(tuple(parts))
                else:
                    yield batch_chunk(*held, keys, None if keys_only else added, tuple(parts))

            return job

        read_rows = chunks(rows_query, batch_size, False)
        read_keys = chunks(keys_query, page_size, True)
        begun = start.open

        def counted(native: Native, parts: list[int]) -> Iterator[Chunk]:
            """Begun partitions ``parts`` that the read before read to their end (as its order
            tells), checked by their row counts at the server (reading their keys would cost
            about a quarter of reading their rows): one with as many rows as were read is
            finished, the scan refuses one with fewer, and one with more (added since) is read
            again whole, for the scan to skip and check its rows read before as it does those
            of the partitions begun and not ended."""
            query = in_partitions(count_query, parts) + " GROUP BY __part"
            now = dict.fromkeys(parts, 0)
            for _, batch in batches_of(native.sql(query, parts, "PUBLIC", page_size, exact), page_size):
                now.update(zip(_integers(batch[PART_COLUMN]), _integers(batch["ROWS"])))
            counted = tuple((p, n) for p, n in now.items() if n <= begun[p][0])
            yield end_of(tuple(p for p, n in counted if n == begun[p][0]), checked=counted)
            if more := [p for p in parts if now[p] > begun[p][0]]:
                yield from read_rows(native, more)

        def read(parts: list[int]) -> Iterator[Chunk]:
            # Begun partitions read to their end go to row-count queries, beside the row queries
            # of the others: one wait of Ignite 3.1's read-only queries covers them all.
            tasks = self._read_tasks(table)
            groups = [group for _, group in tasks(sorted(start.partitions), parallel, False)]
            whole = read_whole(groups, self.primaries(table), begun) & set(parts) if begun else set()
            rest = [p for p in parts if p not in whole]
            # each query scans the whole table, whatever its partitions: a few is cheapest
            checks = tasks(sorted(whole), 1, False)
            reads = tasks(rest, max(1, round(parallel * len(rest) / len(start.partitions))), False)
            jobs: list[tuple[Native, list[int], Callable[[Native, list[int]], Iterator[Chunk]]]]
            jobs = [(native, group, counted) for native, group in checks]
            jobs += [(native, group, read_rows) for native, group in reads]
            return partition_jobs(jobs, parallel + len(checks))

        def keys_of(parts: list[int]) -> Iterator[Chunk]:
            return self._partition_reads(table, parts, read_keys, parallel, False)

        return ResumableScan(start, read, convert, read_keys=keys_of)

    def key_columns(self, table: str) -> list[str]:
        """The names of ``table``'s primary key columns, in key order."""
        query, args = key_columns_query(table)
        names = [name for batch in self.sql(query, args) for name in batch["COLUMN_NAME"].tolist()]
        if not names:
            self.partitions(table)  # a missing table raises CacheNotFoundError
            raise InvalidArgumentError(f"table {table!r} has no primary key columns in SYSTEM.TABLE_COLUMNS")
        return [name.decode() for name in names]

    def _read_tasks(self, table: str) -> Callable[[list[int], int, bool], list[tuple[Native, list[int]]]]:
        """The queries (``reading.read_tasks``) of a partition-parallel read of ``table``: in tasks of
        a node's partitions each, on that node's connection where this client was given its address
        (else on the client's own)."""
        natives = self.node_clients() if len(self._settings.addresses) > 1 else {}
        primaries = self.primaries(table) if natives else []
        return lambda partitions, parallel, ordered: read_tasks(
            partitions, primaries, natives, self._native, parallel, ordered
        )

    def _partition_reads(
        self,
        table: str,
        partitions: list[int],
        read: Callable[[Native, list[int]], Iterable[Any]],
        parallel: int,
        ordered: bool,
    ) -> Iterator[Any]:
        """``read`` of ``partitions`` in the tasks of :meth:`_read_tasks`, ``parallel`` at a time."""
        return partition_reads(self._read_tasks(table)(partitions, parallel, ordered), read, parallel, ordered)

    def to_arrow(
        self,
        table: str | None = None,
        /,
        *,
        query: str | None = None,
        args: Sequence[Any] = (),
        progress: bool | None = None,
        **scan_args: Any,
    ) -> Any:
        """A table (arguments as in :meth:`scan`), or the result of ``query``, as a
        ``pyarrow.Table``. ``progress``: a bar of rows read (None: only when stderr is a terminal)."""
        if (table is None) == (query is None):
            raise InvalidArgumentError("give a table or a query=")
        if table is not None:
            batches = self.scan(table, format="arrow", **scan_args)
        else:
            batches = self.sql(str(query), args, format="arrow", **scan_args)
        return arrow_table(batches, progress, table or "query")

    def to_pandas(self, table: str | None = None, /, *, progress: bool | None = None, **arrow_args: Any) -> Any:
        """As :meth:`to_arrow`, as a ``pandas.DataFrame``."""
        return self.to_arrow(table, progress=progress, **arrow_args).to_pandas()

    def raw_pages(
        self, table: str, page_size: int | None = None, *, parallel: int | None = None
    ) -> Iterator[tuple[int, int]]:
        """Fetches every page of ``SELECT * FROM table`` and discards it undecoded, yielding
        ``(rows, bytes)``: the server-and-wire limit that benchmarks compare decoding against.
        ``parallel=N`` fetches the partitions' pages as ``scan(parallel=N)`` does."""
        page_size = TABLE_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        query = select(table, None)
        if parallel is None:
            yield from raw_pages(self._native.sql(query, [], "PUBLIC", page_size, False))
            return
        parallel = check_int("parallel", parallel, 1)

        def pages(native: Native, parts: list[int]) -> Iterator[tuple[int, int]]:
            return raw_pages(native.sql(in_partitions(query, parts), parts, "PUBLIC", page_size, False))

        yield from self._partition_reads(table, list(range(self.partitions(table))), pages, parallel, False)

    # -- per-node connections --------------------------------------------------------------------

    def node_clients(self) -> dict[str, Native]:
        """One native client per node this client was given, by the node's name (made once)."""
        return {name: native for name, (native, _) in self._node_connections().items()}

    def node_addresses(self) -> dict[str, str]:
        """The address (``"host:port"``) of each node this client was given, by node name (the
        names :meth:`primaries` gives)."""
        return {name: address for name, (_, address) in self._node_connections().items()}

    def _node_connections(self) -> dict[str, tuple[Native, str]]:
        """``{node name: (native client, address)}`` of the nodes this client was given."""
        with self._nodes_lock:
            if self._nodes is None:
                nodes = {}
                for address in self._settings.addresses:
                    native = self._native.for_address(address)
                    nodes[native.node_name()] = (native, address)
                self._nodes = nodes
            return self._nodes

    def plan_shards(
        self,
        table: str,
        workers: int,
        *,
        homes: Sequence[str | None] | None = None,
        balance: str = "rows",
    ) -> ShardPlan:
        """Splits ``table``'s partitions among ``workers``: disjoint shards that cover every
        partition, balanced by row count (``balance="rows"``: one ``GROUP BY __part`` query) or
        by partition count (``"partitions"``), each worker preferring the partitions whose
        primary is its ``homes[i]`` node (``"host:port"``, or ``"host"`` for any node there; the
        client must be given every node's address). Hand worker i ``plan[i]``:
        ``scan(table, partitions=plan[i])`` or ``IgniteIterableDataset(..., ignite=3, plan=plan)``."""
        check_plan_args(workers, homes, balance, ("rows", "partitions"))
        table = check_table(table)
        primaries = self.primaries(table)
        weights = [1] * len(primaries)
        if balance == "rows":
            weights = [0] * len(primaries)
            for batch in self.sql(f"SELECT __part AS P, COUNT(*) AS N FROM {table} GROUP BY __part"):
                for partition, rows in zip(batch["P"].tolist(), batch["N"].tolist()):
                    weights[partition] = rows
        local_to = None
        if homes is not None:
            addresses = {name: address for name, (_, address) in self._node_connections().items()}
            local_to = home_nodes(homes, addresses)
        return balanced_plan(table, weights, primaries, local_to, workers, counted=balance == "rows")

    def primaries(self, table: str) -> list[str | None]:
        """The name of the primary node of each partition of ``table`` (None where the cluster
        names none at the moment)."""
        return self._native.primary_replicas(check_table(table))

    def topology(self) -> None:
        """None: Ignite 3's client protocol tells no topology version, so there is none to watch
        (the source protocol's ``topology``)."""
        return None


def _integers(column: Column) -> list[int]:
    """The values of an integer column (a count query's)."""
    if not isinstance(column, PrimColumn):
        raise ProtocolError(f"a count query gave a column of {type(column).__name__}, not of integers")
    return [int(value) for value in column.values]
