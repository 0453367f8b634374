"""Partition reading both generations share: a cursor's batches and raw pages, the check of
``partitions=`` and the split of partitions into read tasks by primary node. How a selection is
read is each generation's own choice (``ignite2/reading.py``, ``ignite3/reading.py``); both run
their parallel reads on ``parallel.FanOut``.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from ._options import check_int
from ._progress import rows_bar
from .columns import Column, batch_from_native
from .errors import InvalidArgumentError

#: What a cursor's reader yields: ``(rows, {column name: column})``.
Batch = tuple[int, dict[str, Column]]

Node = TypeVar("Node", bound=Hashable)


class Cursor(Protocol):
    """A native cursor of either generation (a scan or an SQL query)."""

    def next_batch(self, max_rows: int) -> tuple[int, dict[str, Any]] | None: ...
    def next_raw_page(self) -> tuple[int, int] | None: ...
    def close(self) -> None: ...


def batches_of(cursor: Cursor, batch_size: int, *, typed_empty: bool = True) -> Iterator[Batch]:
    """A cursor's batches as named columns. A generator, so that leaving the loop early (or
    dropping the iterator) closes the cursor on the server. A result without rows gives one empty
    batch, with its columns' types, unless not ``typed_empty`` (one partition of many)."""
    try:
        while (batch := cursor.next_batch(batch_size)) is not None:
            if batch[0] or typed_empty:
                yield batch[0], batch_from_native(batch[1])
    finally:
        cursor.close()


def raw_pages(cursor: Cursor) -> Iterator[tuple[int, int]]:
    """``(rows, bytes)`` of each page of a cursor, fetched and discarded undecoded."""
    try:
        while (page := cursor.next_raw_page()) is not None:
            yield page
    finally:
        cursor.close()


def arrow_table(batches: Iterable[Any], progress: bool | None, label: str) -> Any:
    """Arrow record batches gathered into one ``pyarrow.Table``, with a bar of rows read, moved
    per batch (``progress`` None: only when stderr is a terminal)."""
    from .arrow import to_table

    gathered = []
    with rows_bar(progress, f"reading {label}") as bar:
        for batch in batches:
            gathered.append(batch)
            bar.update(batch.num_rows)
    return to_table(gathered)


def checked_partitions(name: str, partitions: Sequence[int], count: int) -> list[int]:
    """Partition numbers as given, in order, each in range of ``name``'s ``count`` and named once."""
    out = []
    for p in partitions:
        try:
            if isinstance(p, bool):
                raise TypeError
            p = operator.index(p)  # ints and numpy integers, not floats or strings
        except TypeError:
            raise InvalidArgumentError(f"partitions must be partition numbers, got {p!r}") from None
        if not 0 <= p < count:
            raise InvalidArgumentError(
                f"partition {p} is out of range: {name!r} has {count} partitions (0-{count - 1})"
            )
        out.append(p)
    if len(set(out)) != len(out):
        raise InvalidArgumentError("partitions names a partition more than once")
    return out


def split_by_primary(partitions: Sequence[int], primaries: Sequence[Node], tasks: int) -> list[list[int]]:
    """``partitions`` cut into about ``tasks`` groups, each of partitions with the same primary
    (``primaries[i]`` is partition ``partitions[i]``'s): every primary gets at least one group and
    a share of the others in proportion to its partitions, its partitions dealt out evenly."""
    check_int("tasks", tasks, 1)
    by_node: dict[Node, list[int]] = defaultdict(list)
    for partition, primary in zip(partitions, primaries):
        by_node[primary].append(partition)
    total = len(partitions)
    groups: list[list[int]] = []
    for node in sorted(by_node, key=repr):  # one generation's keys: a fixed order
        mine = by_node[node]
        count = min(len(mine), max(1, round(tasks * len(mine) / total)))
        groups.extend(mine[i::count] for i in range(count))
    return groups
