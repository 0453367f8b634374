"""How an Ignite 3 table is read: the ``SELECT`` of its columns, and partition-parallel reads as
``WHERE __part IN (...)`` queries on the partitions' primaries' connections, run on the shared
fan-out (``parallel.FanOut``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from ignite_fast.errors import InvalidArgumentError
from ignite_fast.parallel import FanOut
from ignite_fast.reading import split_by_primary

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
    jobs = [lambda native=native, parts=parts: read(native, parts) for native, parts in tasks]
    return iter(FanOut(jobs, parallel, ordered=ordered, name="ignite3-scan"))
