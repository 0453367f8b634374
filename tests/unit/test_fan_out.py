"""The one fan-out of both generations' parallel reads (``ignite_fast.parallel.FanOut``), on
plain jobs: order, errors (raised when a job starts or part-way), and leaving early."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from ignite_fast.parallel import FanOut


def counting(start: int, count: int) -> Callable[[], Iterator[int]]:
    def job() -> Iterator[int]:
        yield from range(start, start + count)

    return job


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_ordered_gives_job_by_job_in_the_order_given(threads: int) -> None:
    jobs = [counting(10 * i, 10) for i in range(7)]
    assert list(FanOut(jobs, threads, ordered=True, name="t")) == list(range(70))


@pytest.mark.parametrize("threads", [1, 3, 8])
def test_unordered_gives_every_item_once(threads: int) -> None:
    jobs = [counting(10 * i, 10) for i in range(7)]
    assert sorted(FanOut(jobs, threads, name="t")) == list(range(70))


def test_no_jobs_give_nothing() -> None:
    assert list(FanOut([], 4, name="t")) == []
    assert list(FanOut([], 4, ordered=True, name="t")) == []


@pytest.mark.parametrize("ordered", [False, True])
def test_a_job_that_fails_to_start_raises_in_the_consumer(ordered: bool) -> None:
    def broken() -> Iterator[int]:
        raise ConnectionError("no node")

    with pytest.raises(ConnectionError, match="no node"):
        list(FanOut([counting(0, 5), broken], 2, ordered=ordered, name="t"))


@pytest.mark.parametrize("ordered", [False, True])
def test_a_job_that_fails_part_way_raises_in_the_consumer(ordered: bool) -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("bad page")

    with pytest.raises(ValueError, match="bad page"):
        list(FanOut([failing], 2, ordered=ordered, name="t"))


def test_leaving_early_stops_the_threads_and_closes_the_jobs() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            while True:
                yield 1
        finally:
            closed.set()

    fan_out = FanOut([endless], 1, name="t")
    items = iter(fan_out)
    assert next(items) == 1
    items.close()
    assert fan_out.stop.is_set()
    assert closed.wait(10)  # the job's finally ran (on its thread)
