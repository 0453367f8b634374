"""Progress bars for long work (tqdm), and the one rule for when they show.

Every long operation takes ``progress=None|True|False``: ``None`` (the default) shows a bar when
standard error is a terminal and nothing otherwise (logs, CI, pipes); ``True`` always shows one,
``False`` never. Callers update a bar once per request, batch, chunk or partition, never per row,
so a bar costs nothing measurable on the hot path; tqdm also redraws at most a few times a second.

>>> with rows_bar(progress, "writing digits", total=len(keys)) as bar:  # doctest: +SKIP
...     bar.update(rows_in_this_request)
"""

from __future__ import annotations

import sys
from typing import Any

from .errors import InvalidArgumentError

#: Work between two updates where the caller cuts the work itself to report on it (put_batches,
#: when it shows a bar, cuts its columns into pieces this large): each cut drains the native
#: writer's requests in flight (on one local node, 32 MB pieces cost about 8% of put_batches'
#: throughput, 64 MB ones 2 to 6%), and a bar still moves about once a second at 64 MB/s.
STEP_BYTES = 64 << 20

# Redraw at most this often (seconds): a bar is for people, not a hot loop.
_REDRAW_SECONDS = 0.25


def check_progress(progress: object) -> bool | None:
    if progress is not None and not isinstance(progress, bool):
        raise InvalidArgumentError(f"progress must be None, True or False, got {progress!r}")
    return progress


def rows_bar(progress: bool | None, desc: str, total: int | None = None, unit: str = "rows") -> Any:
    """A bar counting ``unit`` (rows, partitions, ...) towards ``total`` (None: a counter with a rate)."""
    return _bar(progress, desc=desc, total=total, unit=unit, unit_scale=False)


def bytes_bar(progress: bool | None, desc: str, total: int | None = None) -> Any:
    """A bar counting bytes (shown as KB/MB/GB) towards ``total`` (None: a counter with a rate)."""
    return _bar(progress, desc=desc, total=total, unit="B", unit_scale=True, unit_divisor=1024)


def _bar(progress: bool | None, **settings: Any) -> Any:
    # Imported here: tqdm takes tens of milliseconds to import, which only long work should pay.
    from tqdm import tqdm  # type: ignore[import-untyped]

    check_progress(progress)
    # tqdm's own rule for disable=None is the one we want: off unless the stream is a terminal.
    # The stream is looked up now, not at import, so a redirected sys.stderr is honoured.
    return tqdm(
        file=sys.stderr,
        disable=None if progress is None else not progress,
        mininterval=_REDRAW_SECONDS,
        dynamic_ncols=True,
        **settings,
    )
