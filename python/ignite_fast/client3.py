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

import dataclasses
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from . import _native
from ._options import ConnectionSettings, TlsOptions, batch_converter, check_int
from ._progress import STEP_BYTES, check_progress, rows_bar
from ._write_columns import WriteColumn
from .columns import Column, batch_from_native
from .errors import InvalidArgumentError, ServerError
from .sharding import ShardPlan, balanced_plan, check_selection, home_nodes, shard_partitions

__all__ = ["Ignite3Client"]

#: Rows per page and per batch unless told: pages of a few MB for rows of a few hundred bytes.
DEFAULT_PAGE_ROWS = 4096

# A table name as SQL takes it: identifiers (quoted or not), optionally schema-qualified.
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE_NAME = re.compile(rf"{_NAME}(?:\.{_NAME})?")


def _check_table(table: Any) -> str:
    if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
        raise InvalidArgumentError(
            f"table must be an SQL table name (optionally schema.table; quote mixed case: '\"MyTable\"'), got {table!r}"
        )
    return table


def _quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


class Ignite3Client:
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
        self._settings = ConnectionSettings.make(
            host,
            port,
            username=username,
            password=password,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tls=tls,
        )
        self._native = _native.Ignite3Client(self._settings.native_spec())
        self._nodes: dict[str, tuple[_native.Ignite3Client, str]] | None = None
        self._nodes_lock = threading.Lock()

    def __repr__(self) -> str:
        user = f", username={self._settings.username!r}" if self._settings.username else ""
        return f"Client({list(self._settings.addresses)!r}, ignite=3{user})"

    @property
    def addresses(self) -> list[str]:
        return list(self._settings.addresses)

    @property
    def settings(self) -> ConnectionSettings:
        return self._settings

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
    ) -> Iterator[Any]:
        """Runs ``query`` and yields batches ``{column: column}`` of up to ``batch_size`` rows
        (default ``page_size``, 4096 rows). ``args`` fill its ``?`` placeholders (None, bool,
        int, float, str, bytes, ``datetime.date``, ``datetime.datetime`` (naive: TIMESTAMP; with a
        zone: TIMESTAMP WITH LOCAL TIME ZONE), ``datetime.time``, ``uuid.UUID`` or
        ``decimal.Decimal``). ``format`` as in :meth:`scan`."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(f"query must be a non-empty string, got {query!r}")
        convert = batch_converter(format)
        exact = format == "arrow" if decimal_as_string is None else bool(decimal_as_string)
        page_size = DEFAULT_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        batch_size = page_size if batch_size is None else check_int("batch_size", batch_size, 1)
        cursor = self._native.sql(query, list(args), schema, min(page_size, 2**31 - 1), exact)
        for batch in _batches_of(cursor, batch_size):
            yield convert(batch)

    def execute(self, query: str, args: Sequence[Any] = (), *, schema: str = "PUBLIC") -> int:
        """Runs a statement that returns no rows (DDL, INSERT, UPDATE...); returns the rows it
        changed (-1 for DDL)."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(f"query must be a non-empty string, got {query!r}")
        return self._native.execute(query, list(args), schema)

    # -- tables --------------------------------------------------------------------------------

    def schema(self, table: str) -> dict[str, str]:
        """``{column: SQL type}`` of ``table``, in column order (``"VARBINARY(784)"``,
        ``"DECIMAL(10, 2)"``, ``"TIMESTAMP(6)"``...); a column that allows NULL ends in
        ``" NULL"``."""
        cursor = self._native.sql(f"SELECT * FROM {_check_table(table)} LIMIT 0", [], "PUBLIC", 1, False)
        try:
            return {
                name: _type_text(sql_type, nullable, scale, precision)
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
        _check_table(table)
        if not isinstance(columns, dict) or not columns:
            raise InvalidArgumentError("columns must be a non-empty dict {column name: array}")
        check_progress(progress)
        self.partitions(table)  # a missing table raises CacheNotFoundError, not an SQL error
        types = self.schema(table)
        prepared = [_PutColumn.of(str(name), array, types) for name, array in columns.items()]
        rows = prepared[0].values.rows
        for column in prepared:
            if column.values.rows != rows:
                raise InvalidArgumentError(
                    f"column '{column.name}' has {column.values.rows} rows, '{prepared[0].name}' has {rows}"
                )
        written = 0
        with rows_bar(progress, f"writing {table}", total=rows) as bar:
            # As Ignite 2's put_batches: all rows in one native call, or pieces of about
            # STEP_BYTES when a bar is shown (each piece drains its requests in flight).
            step = max(rows, 1)
            if not bar.disable:
                step = max(1, STEP_BYTES // max(1, sum(c.values.row_bytes for c in prepared)))
            for column in prepared:
                column.values.check_utf8()
            for start in range(0, max(rows, 1), step):
                stop = min(start + step, rows)
                try:
                    piece = self._native.put_columns(table, [c.spec(start, stop) for c in prepared])
                except ServerError as e:
                    if start == 0:
                        raise
                    raise type(e)(f"{e} (and rows 0..{start} by the calls before)", e.status) from e
                written += piece
                bar.update(piece)
        return written

    def partitions(self, table: str) -> int:
        """The number of partitions of ``table``."""
        return self._native.partition_count(_check_table(table))

    def scan(
        self,
        table: str,
        batch_size: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        page_size: int | None = None,
        decimal_as_string: bool | None = None,
        format: str = "numpy",
        parallel: int | None = None,
        partitions: Sequence[int] | None = None,
        shard: tuple[int, int] | None = None,
        plan: ShardPlan | None = None,
        ordered: bool = False,
    ) -> Iterator[Any]:
        """Reads ``table`` and yields batches ``{column: column}`` of up to ``batch_size`` rows
        (default ``page_size``, 4096 rows); ``columns`` names the columns to read (as SQL names
        them), the others are not sent. ``format="arrow"`` yields ``pyarrow.RecordBatch`` es,
        ``format="columns"`` the named columns of :mod:`ignite_fast.columns`.

        ``parallel=N`` reads the partitions N at a time, each from its primary node when the
        client knows that node's address, in no particular order (partition order with
        ``ordered=True``); ``partitions=[...]`` reads just those partitions, ``shard=(i, n)``
        worker ``i``'s share of ``n``: disjoint sets of partitions that together cover the table,
        from ``plan`` (see :meth:`plan_shards`), from the plan put in the environment
        (``sharding.PLANS_ENV``), or else contiguous ranges (``sharding.contiguous_shard``, the
        same as Ignite 2's).
        If a node leaves while a partition is being read, the scan raises the connection's error
        rather than give a partial result."""
        select = self._select(table, columns)
        convert = batch_converter(format)
        exact = format == "arrow" if decimal_as_string is None else bool(decimal_as_string)
        page_size = DEFAULT_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        batch_size = page_size if batch_size is None else check_int("batch_size", batch_size, 1)
        partitions = check_selection(shard, partitions, plan)
        if shard is not None:
            partitions = list(shard_partitions(table, self.partitions(table), shard, plan))
        if parallel is None and partitions is None:
            cursor = self._native.sql(select, [], "PUBLIC", page_size, exact)
            for batch in _batches_of(cursor, batch_size):
                yield convert(batch)
            return
        parallel = 1 if parallel is None else check_int("parallel", parallel, 1)
        count = self.partitions(table)
        chosen = list(range(count)) if partitions is None else _checked_partitions(table, partitions, count)
        tasks = _read_tasks(chosen, self._primary_clients(table, chosen), parallel, ordered)

        def read(native: Any, task: int) -> Iterator[dict[str, Column]]:
            parts = tasks[task][1]
            cursor = native.sql(_in_partitions(select, parts), parts, "PUBLIC", page_size, exact)
            return _batches_of(cursor, batch_size, typed_empty=False)

        reads = _PartitionReads(list(range(len(tasks))), [t[0] for t in tasks], read, parallel, ordered)
        for batch in reads:
            yield convert(batch)

    def _primary_clients(self, table: str, partitions: list[int]) -> list[Any]:
        """The native client that reads each partition: its primary's, where this client was
        given that node's address, else the client's own."""
        nodes = self.node_clients() if len(self._settings.addresses) > 1 else {}
        if not nodes:
            return [self._native] * len(partitions)
        primaries = self.primaries(table)
        return [nodes.get(primaries[p] or "", self._native) for p in partitions]

    def to_arrow(
        self,
        table: str | None = None,
        /,
        *,
        query: str | None = None,
        args: Sequence[Any] = (),
        progress: bool | None = None,
        **scan_args,
    ) -> Any:
        """A table (arguments as in :meth:`scan`), or the result of ``query``, as a
        ``pyarrow.Table``. ``progress``: a bar of rows read (None: only when stderr is a terminal)."""
        from .arrow import to_table

        if (table is None) == (query is None):
            raise InvalidArgumentError("give a table or a query=")
        if table is not None:
            batches = self.scan(table, format="arrow", **scan_args)
        else:
            batches = self.sql(str(query), args, format="arrow", **scan_args)
        out = []
        with rows_bar(progress, f"reading {table or 'query'}") as bar:
            for batch in batches:
                out.append(batch)
                bar.update(batch.num_rows)
        return to_table(out)

    def to_pandas(self, table: str | None = None, /, *, progress: bool | None = None, **arrow_args: Any) -> Any:
        """As :meth:`to_arrow`, as a ``pandas.DataFrame``."""
        return self.to_arrow(table, progress=progress, **arrow_args).to_pandas()

    def raw_pages(
        self, table: str, page_size: int | None = None, *, parallel: int | None = None
    ) -> Iterator[tuple[int, int]]:
        """Fetches every page of ``SELECT * FROM table`` and discards it undecoded, yielding
        ``(rows, bytes)``: the server-and-wire limit that benchmarks compare decoding against.
        ``parallel=N`` fetches the partitions' pages as ``scan(parallel=N)`` does."""
        page_size = DEFAULT_PAGE_ROWS if page_size is None else check_int("page_size", page_size, 1)
        select = self._select(table, None)

        def pages(native: Any, query: str, args: list) -> Iterator[tuple[int, int]]:
            cursor = native.sql(query, args, "PUBLIC", page_size, False)
            try:
                while (page := cursor.next_raw_page()) is not None:
                    yield page
            finally:
                cursor.close()

        if parallel is None:
            yield from pages(self._native, select, [])
            return
        parallel = check_int("parallel", parallel, 1)
        chosen = list(range(self.partitions(table)))
        tasks = _read_tasks(chosen, self._primary_clients(table, chosen), parallel, False)
        yield from _PartitionReads(
            list(range(len(tasks))),
            [t[0] for t in tasks],
            lambda native, task: pages(native, _in_partitions(select, tasks[task][1]), tasks[task][1]),
            parallel,
            False,
        )

    def _select(self, table: str, columns: Sequence[str] | None) -> str:
        _check_table(table)
        if columns is None:
            return f"SELECT * FROM {table}"
        if isinstance(columns, str) or not columns:
            raise InvalidArgumentError("columns must be a non-empty list of column names")
        return f"SELECT {', '.join(_quoted(str(c)) for c in columns)} FROM {table}"

    # -- per-node connections --------------------------------------------------------------------

    def node_clients(self) -> dict[str, _native.Ignite3Client]:
        """One native client per node this client was given, by the node's name (made once)."""
        return {name: native for name, (native, _) in self._node_connections().items()}

    def node_addresses(self) -> dict[str, str]:
        """The address (``"host:port"``) of each node this client was given, by node name (the
        names :meth:`primaries` gives)."""
        return {name: address for name, (_, address) in self._node_connections().items()}

    def _node_connections(self) -> dict[str, tuple[_native.Ignite3Client, str]]:
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
        check_int("workers", workers, 1)
        if balance not in ("rows", "partitions"):
            raise InvalidArgumentError(f"balance must be 'rows' or 'partitions', got {balance!r}")
        if homes is not None and len(homes) != workers:
            raise InvalidArgumentError(f"homes names {len(homes)} workers' nodes, but there are {workers} workers")
        table = _check_table(table)
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
        return self._native.primary_replicas(_check_table(table))

    def topology(self) -> None:
        """None: Ignite 3's client protocol tells no topology version, so there is none to watch
        (the source protocol's ``topology``)."""
        return None


def _type_text(type_name: str, nullable: bool, scale: int, precision: int) -> str:
    if type_name == "DECIMAL":
        text = f"DECIMAL({precision}, {scale})"
    elif type_name in ("VARCHAR", "VARBINARY") and precision > 0:
        text = f"{type_name}({precision})"
    elif type_name.startswith(("TIME", "TIMESTAMP")) and precision >= 0:
        text = (
            type_name.replace("TIMESTAMP", f"TIMESTAMP({precision})", 1)
            if "TIMESTAMP" in type_name
            else f"TIME({precision})"
        )
    else:
        text = type_name
    return f"{text} NULL" if nullable else text


def _read_tasks(partitions: list[int], clients: list[Any], parallel: int, ordered: bool) -> list[tuple[Any, list[int]]]:
    """The queries of a partition-parallel read: ``(native client, partitions)`` each. Ignite 3.1
    does not prune partitions by ``__part`` (each query scans the whole table and filters), so
    partitions are read a node's share at a time, ``WHERE __part IN (...)``: at least one query
    per node, about ``parallel`` in all, each on its node's connection. ``ordered`` reads
    partition by partition instead (one full scan each: slower)."""
    if ordered:
        return [(client, [p]) for p, client in zip(partitions, clients)]
    by_node: dict[int, tuple[Any, list[int]]] = {}
    for p, client in zip(partitions, clients):
        by_node.setdefault(id(client), (client, []))[1].append(p)
    tasks: list[tuple[Any, list[int]]] = []
    for client, parts in by_node.values():
        pieces = max(1, min(len(parts), round(parallel * len(parts) / len(partitions))))
        tasks.extend((client, parts[i::pieces]) for i in range(pieces))
    return tasks


def _in_partitions(select: str, partitions: list[int]) -> str:
    return f"{select} WHERE __part IN ({', '.join('?' * len(partitions))})"


def _checked_partitions(table: str, partitions: Sequence[int], count: int) -> list[int]:
    out = []
    for p in partitions:
        if isinstance(p, bool) or not hasattr(p, "__index__"):
            raise InvalidArgumentError(f"partitions must be partition numbers, got {p!r}")
        p = p.__index__()
        if not 0 <= p < count:
            raise InvalidArgumentError(f"partition {p} is out of range: table {table!r} has {count} partitions")
        out.append(p)
    if len(set(out)) != len(out):
        raise InvalidArgumentError("partitions name a partition more than once")
    return out


def _batches_of(cursor: Any, batch_size: int, *, typed_empty: bool = True) -> Iterator[dict[str, Column]]:
    """A native cursor's batches as named columns; closes the cursor when the loop ends early.
    A result without rows gives one empty batch, with its columns' types, unless not
    ``typed_empty`` (one partition of many)."""
    try:
        while (batch := cursor.next_batch(batch_size)) is not None:
            if batch[0] or typed_empty:
                yield batch_from_native(batch[1])
    finally:
        cursor.close()


class _PartitionReads:
    """Partitions read ``parallel`` at a time by worker threads (the native calls release the
    GIL), each from its primary's connection where the client has one. Batches come back through
    a bounded queue, so a slow consumer holds back the readers; with ``ordered``, partition by
    partition in the order given."""

    _DONE = object()

    def __init__(
        self,
        partitions: list[int],
        natives: list[Any],
        read: Callable[[Any, int], Iterator[Any]],
        parallel: int,
        ordered: bool,
    ):
        self._partitions = partitions
        self._natives = natives  # the native client that reads each partition
        self._read = read  # (native client, partition) -> the partition's items
        self._parallel = min(parallel, max(1, len(partitions)))
        self._ordered = ordered

    def __iter__(self) -> Iterator[Any]:
        stop = threading.Event()
        # Ordered: one queue per partition, drained in turn; else one queue for all.
        queues: dict[int, queue.Queue] | None = (
            {p: queue.Queue(maxsize=4) for p in self._partitions} if self._ordered else None
        )
        shared: queue.Queue = queue.Queue(maxsize=2 * self._parallel)
        todo = iter(zip(self._partitions, self._natives))
        todo_lock = threading.Lock()

        def put(q: queue.Queue, item: Any) -> bool:
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def work() -> None:
            while not stop.is_set():
                with todo_lock:
                    task = next(todo, None)
                if task is None:
                    break
                partition, native = task
                q = queues[partition] if queues is not None else shared
                try:
                    for item in self._read(native, partition):
                        if not put(q, item):
                            return
                    put(q, (self._DONE, partition))
                except BaseException as error:  # handed to the consumer, which raises it
                    put(q, error)
                    return
            if queues is None:
                put(shared, (self._DONE, None))

        threads = [threading.Thread(target=work, daemon=True, name=f"ignite3-scan-{i}") for i in range(self._parallel)]
        for thread in threads:
            thread.start()
        try:
            if queues is not None:
                for partition in self._partitions:
                    while (item := queues[partition].get()) is not None:
                        if isinstance(item, BaseException):
                            raise item
                        if isinstance(item, tuple) and item[0] is self._DONE:
                            break
                        yield item
            else:
                finished = 0
                while finished < len(threads):
                    item = shared.get()
                    if isinstance(item, BaseException):
                        raise item
                    if isinstance(item, tuple) and item and item[0] is self._DONE:
                        finished += item[1] is None
                        continue
                    yield item
        finally:
            stop.set()
            for thread in threads:
                thread.join()


# SQL types (as schema() names them, without length, zone or NULL) that put_batches writes, with
# the numpy dtype kinds each takes: b bool, i/u integers, f floats, U/S/O strings, M datetime64,
# m timedelta64; "bytes": 2-D bytes; "uuid": 16 bytes a row or uuid.UUID objects.
_PUT_KINDS = {
    "BOOLEAN": "b",
    "TINYINT": "iu",
    "SMALLINT": "iu",
    "INTEGER": "iu",
    "BIGINT": "iu",
    "REAL": "f",
    "DOUBLE": "f",
    "DECIMAL": "iufUSO",
    "DATE": "M",
    "TIME": "m",
    "TIMESTAMP": "M",
    "UUID": "uuid",
    "VARCHAR": "USO",
    "VARBINARY": "bytes",
}

# datetime64 units that divide a second, as units per second.
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _seconds_and_nanos(array: np.ndarray) -> np.ndarray:
    """A datetime64 array as ``(rows, 2)`` int64: seconds since the epoch and nanoseconds."""
    unit = np.datetime_data(array.dtype)[0]
    if unit not in _PER_SECOND:  # coarser than a second (or generic): whole seconds; finer: ns
        array = array.astype("datetime64[ns]" if unit in ("ps", "fs", "as") else "datetime64[s]")
        unit = np.datetime_data(array.dtype)[0]
    per_second = _PER_SECOND[unit]
    ticks = array.view(np.int64)
    seconds = np.floor_divide(ticks, per_second)
    nanos = (ticks - seconds * per_second) * (10**9 // per_second)
    return np.ascontiguousarray(np.stack([seconds, nanos], axis=1))


def _carrier(name: str, sql_type: str, array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """What carries a DATE, TIME, TIMESTAMP, UUID or DECIMAL column to the native writer, which
    makes the SQL values from it: days (int64), nanoseconds since midnight (int64), (seconds,
    nanoseconds) pairs, 16 bytes, or numbers and decimal strings as they are; and the rows that
    are NULL (NaT, None), or None."""
    values: np.ndarray
    if sql_type in ("DATE", "TIME", "TIMESTAMP"):
        missing = np.isnat(array)
        nulls = missing if missing.any() else None
        if sql_type == "DATE":
            days = array.astype("datetime64[D]")
            if (days != array)[~missing].any():
                raise InvalidArgumentError(
                    f"column '{name}' is DATE: a value has a time of day (.astype('datetime64[D]') drops it)"
                )
            values = days.view(np.int64)
        elif sql_type == "TIME":
            values = array.astype("timedelta64[ns]").view(np.int64)
        else:
            values = _seconds_and_nanos(array)
        if nulls is not None:
            values = values.copy()
            values[missing] = 0  # NULL rows: any valid value, never read
        return values, nulls
    if array.dtype == object:  # uuid.UUID or decimal.Decimal objects, None for NULL
        missing = np.fromiter((v is None for v in array.ravel()), bool, array.size)
        if sql_type == "UUID":
            try:
                values = np.frombuffer(
                    b"".join(bytes(16) if v is None else v.bytes for v in array.ravel()), np.uint8
                ).reshape(-1, 16)
            except AttributeError:
                raise InvalidArgumentError(f"column '{name}' is UUID: objects must be uuid.UUID or None") from None
        else:
            values = np.array(["0" if v is None else str(v) for v in array.ravel()])
        return values, (missing if missing.any() else None)
    return array, None


@dataclasses.dataclass(frozen=True)
class _PutColumn:
    """A column checked against its SQL type and made ready for the native writer: its values
    (read in place where possible) and its NULL mask (one byte per row, or None)."""

    name: str
    values: WriteColumn
    nulls: np.ndarray | None

    @classmethod
    def of(cls, name: str, column: Any, types: dict[str, str]) -> _PutColumn:
        if name not in types:
            raise InvalidArgumentError(f"table has no column '{name}' (its columns: {', '.join(types)})")
        sql_type = types[name].removesuffix(" NULL").split("(")[0]
        nulls = None
        if np.ma.isMaskedArray(column):
            mask = np.ma.getmaskarray(column)
            if mask.ndim == 2:
                if (mask.any(axis=1) != mask.all(axis=1)).any():
                    raise InvalidArgumentError(f"column '{name}': a row is NULL when all of it is masked, not part")
                mask = np.asarray(mask.all(axis=1) if mask.shape[1] else np.zeros(len(mask), bool))
            nulls = mask if mask.any() else None
            column = np.ma.getdata(column)
        array = np.asarray(column)
        accepts = _PUT_KINDS.get(sql_type)
        if accepts is None:
            raise InvalidArgumentError(f"column '{name}' is {types[name]}: put_batches cannot write that type")
        if accepts == "bytes":
            fits = array.ndim == 2 and array.dtype in (np.uint8, np.int8)
        elif accepts == "uuid":
            fits = (array.ndim == 2 and array.shape[1] == 16 and array.dtype in (np.uint8, np.int8)) or (
                array.ndim == 1 and array.dtype == object
            )
        else:
            fits = array.ndim == 1 and array.dtype.kind in accepts
            if sql_type == "REAL" and array.dtype == np.float64:
                fits = False  # would round: refused rather than changed
        if not fits:
            shape = "x".join(map(str, array.shape))
            raise InvalidArgumentError(
                f"column '{name}' is {types[name]}: cannot write a {shape} array of {array.dtype} to it"
            )
        if sql_type in ("DATE", "TIME", "TIMESTAMP", "UUID", "DECIMAL"):
            array, missing = _carrier(name, sql_type, array)
            if missing is not None:
                nulls = missing if nulls is None else nulls | missing
        if array.dtype.kind == "u" and sql_type not in ("VARBINARY", "UUID"):
            # The writer reads uint8 as Java's signed byte: widen unsigned integers first.
            if array.dtype == np.uint64 and array.size and array.max() > np.iinfo(np.int64).max:
                raise InvalidArgumentError(f"column '{name}': a value does not fit {sql_type}")
            array = array.astype({1: np.int16, 2: np.int32}.get(array.dtype.itemsize, np.int64))
        elif array.dtype == np.float16:
            array = array.astype(np.float32)
        if nulls is not None:
            nulls = np.ascontiguousarray(nulls).view(np.uint8)
        return cls(name, WriteColumn.of(array, name), nulls)

    def spec(self, start: int, stop: int) -> tuple:
        """The native writer's ``(name, (kind, bytes, width), nulls)`` of rows ``start..stop``."""
        nulls = None if self.nulls is None else self.nulls[start:stop]
        return (self.name, self.values.rows_spec(start, stop), nulls)
