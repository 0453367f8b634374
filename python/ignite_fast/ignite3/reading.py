"""How an Ignite 3 table is read: the ``SELECT`` of its columns, and partition-parallel reads as
``WHERE __part IN (...)`` queries on the partitions' primaries' connections, run on the shared
fan-out (``parallel.FanOut``)."""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, Generic, TypeVar

from ignite_fast.errors import InvalidArgumentError
from ignite_fast.parallel import JOIN_TIMEOUT, FanOut
from ignite_fast.position import row_hashes
from ignite_fast.reading import split_by_primary
from ignite_fast.resumable import Chunk

T = TypeVar("T")
Native = TypeVar("Native")

# A table name as SQL takes it: identifiers (quoted or not), optionally schema-qualified.
_NAME = r'(?:[A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")'
_TABLE_NAME = re.compile(rf"{_NAME}(?:\.{_NAME})?")


def check_table(table: Any) -> str:
    if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
        raise InvalidArgumentError(
            f"table must be an SQL table name (optionally schema.table; quote mixed case: '\"MyTable\"'), got {table!r}"
        )
    return table


def quoted(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def select(table: str, columns: Sequence[str] | None, also: str = "") -> str:
    """``SELECT`` of ``columns`` (all when None) from ``table``, names checked and quoted, and
    ``also`` (SQL of more columns) after them."""
    check_table(table)
    also = f", {also}" if also else ""
    if columns is None:
        return f"SELECT *{also} FROM {table}"
    if isinstance(columns, str) or not columns:
        raise InvalidArgumentError("columns must be a non-empty list of column names")
    return f"SELECT {', '.join(quoted(str(c)) for c in columns)}{also} FROM {table}"


#: The column a resumable scan reads each row's partition into (dropped before a batch is given).
PART_COLUMN = "__ignite_fast_part"


def key_columns_query(table: str) -> tuple[str, list[Any]]:
    """The query (and its arguments) of ``table``'s primary key columns, in key order, from the
    ``SYSTEM.TABLE_COLUMNS`` view: names as SQL takes them, unquoted ones in upper case."""
    names = [_identifier(name) for name in _split_name(check_table(table))]
    schema, name = names if len(names) == 2 else ["PUBLIC", names[0]]
    return (
        "SELECT COLUMN_NAME FROM SYSTEM.TABLE_COLUMNS WHERE SCHEMA_NAME = ? AND TABLE_NAME = ? "
        "AND PK_COLUMN_ORDINAL IS NOT NULL ORDER BY PK_COLUMN_ORDINAL",
        [schema, name],
    )


def _split_name(table: str) -> list[str]:
    return [match.group(0) for match in re.finditer(_NAME, table)]


def _identifier(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.upper()


def in_partitions(query: str, partitions: list[int]) -> str:
    return f"{query} WHERE __part IN ({', '.join('?' * len(partitions))})"


def read_tasks(
    partitions: list[int],
    primaries: Sequence[str | None],
    natives: dict[str, Native],
    main: Native,
    parallel: int,
    ordered: bool,
) -> list[tuple[Native, list[int]]]:
    """The queries of a partition-parallel read: ``(native client, partitions)`` each, on the
    partition's primary's client where there is one (``natives``, by node name, the names of
    ``primaries``; with none, ``primaries`` may be empty), else ``main``.
    Ignite 3.1 does not prune partitions by ``__part`` (each query scans the whole table and
    filters), so partitions are read a node's share at a time: at least one query per node, about
    ``parallel`` in all (``reading.split_by_primary``). ``ordered`` reads partition by partition
    instead (one full scan each: slower)."""

    def reader(partition: int) -> str | None:
        node = primaries[partition] if natives else None
        return node if node is not None and node in natives else None  # None: main's

    def native(node: str | None) -> Native:
        return main if node is None else natives[node]

    if ordered:
        return [(native(reader(p)), [p]) for p in partitions]
    groups = split_by_primary(partitions, [reader(p) for p in partitions], parallel)
    return [(native(reader(group[0])), group) for group in groups]


def partition_reads(
    tasks: list[tuple[Native, list[int]]],
    read: Callable[[Native, list[int]], Iterable[T]],
    parallel: int,
    ordered: bool,
) -> Iterator[T]:
    """What ``read(native, partitions)`` gives for each task, ``parallel`` tasks at a time; with
    ``ordered``, task by task in the order given."""
    return partition_jobs([(native, parts, read) for native, parts in tasks], parallel, ordered=ordered)


def partition_jobs(
    jobs: Sequence[tuple[Native, list[int], Callable[[Native, list[int]], Iterable[T]]]],
    threads: int,
    ordered: bool = False,
) -> Iterator[T]:
    """What each job ``(native, partitions, read)`` gives, ``threads`` jobs at a time, as it comes
    (with ``ordered``, job by job in the order given).

    Each job's query is sent a turn ahead: when job i starts, job ``i + threads`` (one of the next
    round) takes its first item on a thread of its own, so at most ``2 * threads`` queries are
    open. Ignite 3.1 holds every read-only query up to 250 ms before it maps it (until the meta
    storage's safe time, which an idle cluster moves on every 250 ms, passes the query's start),
    and queries sent together wait together: without this, a read of more queries than threads
    waits once per round of them."""
    ahead = [_Ahead(partial(read, native, parts)) for native, parts, read in jobs]
    threads = min(max(1, threads), len(ahead))

    def turn(i: int) -> Callable[[], Iterator[T]]:
        def start() -> Iterator[T]:
            if i + threads < len(ahead):
                ahead[i + threads].send()
            return ahead[i].items()

        return start

    try:
        yield from FanOut([turn(i) for i in range(len(ahead))], threads, ordered=ordered, name="ignite3-scan")
    finally:
        for job in ahead:
            job.drop()


class _Ahead(Generic[T]):
    """A job that can be started before its turn: :meth:`send` takes its first item (for a query:
    sends it, waits for its first page) on a thread of its own; :meth:`items` gives that item and
    the rest, on the caller's thread. :meth:`drop` closes a job sent but never given (its cursor)."""

    def __init__(self, start: Callable[[], Iterable[T]]) -> None:
        self._start = start
        self._lock = threading.Lock()
        self._sender: threading.Thread | None = None
        self._items: Iterator[T] = iter(())
        self._first: list[T] = []
        self._error: BaseException | None = None
        self._given = False
        self._dropped = False

    def send(self) -> None:
        with self._lock:
            if self._sender is None and not self._given and not self._dropped:
                self._sender = threading.Thread(target=self._take_first, daemon=True, name="ignite3-scan-ahead")
                self._sender.start()

    def _take_first(self) -> None:
        try:
            self._items = iter(self._start())
            self._first = [next(self._items)]
        except StopIteration:
            pass
        except BaseException as error:  # raised on the job's turn, in items()
            self._error = error

    def items(self) -> Iterator[T]:
        with self._lock:
            if self._dropped:
                return
            self._given = True
            sender = self._sender
        try:
            if sender is None:  # not sent ahead: started here
                self._take_first()
            else:
                sender.join()
            if self._error is not None:
                raise self._error
            yield from self._first
            yield from self._items
        finally:
            _close(self._items)

    def drop(self) -> None:
        with self._lock:
            if self._given:
                return  # closed by whoever iterated it
            self._dropped = True
            sender = self._sender
        if sender is not None:
            sender.join(timeout=JOIN_TIMEOUT)
            if not sender.is_alive():  # else left to its connection's read timeout, as FanOut leaves its threads
                _close(self._items)


def _close(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()  # a generator's finally (closing its cursor) runs now


# -- resumable reads -------------------------------------------------------------------------


def batch_chunk(
    rows: int, batch: dict[str, Any], keys: list[str], dropped: list[str] | None, finished: tuple[int, ...]
) -> Chunk:
    """A batch of a resumable read (with :data:`PART_COLUMN`) as a chunk: each row's partition and
    key hash, and the columns but ``dropped`` (those added for the keys); ``dropped=None``: the
    keys only, no columns."""
    partition = batch.pop(PART_COLUMN)
    hashes = row_hashes({key: batch[key] for key in keys})
    columns = None if dropped is None else {k: c for k, c in batch.items() if k not in dropped}
    return Chunk(columns, rows, partition.values, hashes, finished)


def read_whole(groups: list[list[int]], primaries: Sequence[str | None], begun: Collection[int]) -> set[int]:
    """The ``begun`` partitions that the read before read to their end, as the order of its queries
    tells: each query (one of ``groups``, the tasks of a read of all the reader's partitions) is
    scanned on each node partition after partition, in ascending order (Ignite 3.1's table scan
    concatenates its partitions' scans), so on each node of a query every begun partition but the
    last was read to its end. A guess (the read before may have been grouped otherwise), which
    the row counts of these partitions check."""
    whole: set[int] = set()
    for group in groups:
        by_node: dict[str | None, list[int]] = defaultdict(list)
        for p in sorted(group):
            if p in begun:
                by_node[primaries[p] if p < len(primaries) else None].append(p)
        for mine in by_node.values():
            whole.update(mine[:-1])
    return whole
