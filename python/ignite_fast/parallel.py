"""The one fan-out both generations' partition-parallel reads run on, and the merging of small
batches that follows it.

:class:`FanOut` runs jobs on a few threads (the native calls release the GIL, so they overlap) and
hands what they produce to the consumer through bounded queues, so a slow consumer holds the
readers back and memory stays flat. Ignite 2's jobs are its per-node partition scans
(``ignite2/partition_scan.py``), Ignite 3's its ``WHERE __part IN (...)`` queries
(``ignite3/reading.py``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .columns import Column, concat_batches, nbytes

T = TypeVar("T")

#: Seconds the consumer waits for each thread once it is done: a thread blocked in a native call
#: on a dead node's connection is left to that connection's read timeout (the threads are daemons).
JOIN_TIMEOUT = 5.0


@dataclass(frozen=True)
class _Finished:
    """A job's (ordered) or a thread's (unordered) end."""


@dataclass(frozen=True)
class _Failed:
    """A job's error, raised in the consumer."""

    error: BaseException


class FanOut(Generic[T]):
    """Runs ``jobs`` on up to ``threads`` threads, each thread taking the next job when it is
    done with one, and yields what the jobs produce: as it comes, or job by job in the order
    given with ``ordered``. A job's error is raised in the consumer. Leaving the loop sets
    :attr:`stop` (jobs that run long between items check it), closes the jobs' iterators at
    their next item and waits for the threads (up to :data:`JOIN_TIMEOUT` each)."""

    def __init__(
        self, jobs: Sequence[Callable[[], Iterable[T]]], threads: int, *, ordered: bool = False, name: str
    ) -> None:
        self.stop = threading.Event()
        self._jobs = list(jobs)
        self._threads = min(max(1, threads), len(self._jobs))  # no jobs: no threads
        self._ordered = ordered
        self._name = name
        # Ordered: one queue per job, drained in turn; else one for all.
        self._queues: list[queue.Queue[T | _Finished | _Failed]] = (
            [queue.Queue(maxsize=4) for _ in self._jobs]
            if ordered
            else [queue.Queue(maxsize=2 * max(1, self._threads))]
        )
        self._next_job = iter(range(len(self._jobs)))
        self._next_job_lock = threading.Lock()

    def _put(self, into: queue.Queue[T | _Finished | _Failed], item: T | _Finished | _Failed) -> bool:
        """Queues ``item`` unless the consumer has gone (False then)."""
        while not self.stop.is_set():
            try:
                into.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        while not self.stop.is_set():
            with self._next_job_lock:
                job = next(self._next_job, None)
            if job is None:
                break
            into = self._queues[job if self._ordered else 0]
            items: Iterable[T] = ()
            try:
                items = self._jobs[job]()  # may raise too (a query opened at once)
                for item in items:
                    if not self._put(into, item):
                        return
                if self._ordered:
                    self._put(into, _Finished())
            except BaseException as error:  # handed to the consumer, which raises it
                self._put(into, _Failed(error))
                return
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()  # a generator's finally (closing its cursors) runs now, on this thread
        if not self._ordered:
            self._put(self._queues[0], _Finished())

    def __iter__(self) -> Generator[T]:
        threads = [
            threading.Thread(target=self._work, daemon=True, name=f"{self._name}-{i}") for i in range(self._threads)
        ]
        for thread in threads:
            thread.start()
        try:
            if self._ordered:
                for into in self._queues:
                    while not isinstance(item := into.get(), _Finished):
                        if isinstance(item, _Failed):
                            raise item.error
                        yield item
            else:
                finished = 0
                while finished < len(threads):
                    item = self._queues[0].get()
                    if isinstance(item, _Failed):
                        raise item.error
                    if isinstance(item, _Finished):
                        finished += 1
                        continue
                    yield item
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=JOIN_TIMEOUT)


# Batches smaller than this (and than batch_size) are merged with their neighbours: a partition of
# a few dozen small entries would otherwise be a batch of its own, and every batch costs its
# consumer (TensorFlow most) a fixed price. Merging copies, so large batches are left alone.
SMALL_BATCH_BYTES = 1 << 20


def coalesce(
    batches: Iterable[tuple[int, dict[str, Column]]], batch_size: int
) -> Iterator[tuple[int, dict[str, Column]]]:
    """Yields ``(rows, columns)`` batches as they come, but runs of small ones merged into
    batches of up to ``batch_size`` rows (in the same order)."""
    pending: list[tuple[int, dict[str, Column]]] = []
    pending_rows = 0

    def flush() -> Iterator[tuple[int, dict[str, Column]]]:
        nonlocal pending, pending_rows
        if len(pending) == 1:
            yield pending[0]
        elif pending:
            merged = concat_batches([columns for _, columns in pending])
            yield from [(pending_rows, merged)] if merged is not None else pending
        pending, pending_rows = [], 0

    for rows, columns in batches:
        small = rows < batch_size and nbytes(columns) < SMALL_BATCH_BYTES
        if not small or pending_rows + rows > batch_size:
            yield from flush()
        if not small:
            yield rows, columns
            continue
        pending.append((rows, columns))
        pending_rows += rows
    yield from flush()
