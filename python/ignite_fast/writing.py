"""The put loop both generations' ``put_batches`` run once their columns are checked: all rows in
one native call, or pieces of about ``STEP_BYTES`` when a progress bar is shown, with the rows
stored by earlier pieces named in a later piece's error."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ._progress import STEP_BYTES, rows_bar
from ._write_columns import WriteColumn
from .errors import IgniteError


def put_in_pieces(
    name: str,
    rows: int,
    columns: Sequence[WriteColumn],
    put: Callable[[int, int], int],
    *,
    progress: bool | None,
    checks_utf8: bool,
) -> int:
    """Writes rows ``0..rows`` of ``columns`` into ``name`` through ``put(start, stop)`` (a native
    call that returns the rows it stored) and returns the rows written. ``checks_utf8``: the
    native writer refuses a string that is not UTF-8 among the rows of one call, so only a cut
    into pieces needs the strings checked first (here, before any row is sent)."""
    written = 0
    with rows_bar(progress, f"writing {name}", total=rows) as bar:
        # The native writer keeps several requests in flight over all the rows of one call.
        # Without a bar it gets every row at once; with one, pieces of about STEP_BYTES, and
        # the bar moves as each is acknowledged (every cut drains the requests in flight:
        # a few per cent of throughput, paid only when a bar is shown).
        step = max(rows, 1)
        if not bar.disable:
            step = max(1, STEP_BYTES // max(1, sum(c.row_bytes for c in columns)))
        if step < rows or not checks_utf8:
            for column in columns:
                column.check_utf8()
        for start in range(0, max(rows, 1), step):
            try:
                piece = put(start, min(start + step, rows))
            except IgniteError as e:
                if start > 0:
                    # Same type and attributes (status, ...): only the message learns of the
                    # pieces acknowledged before this one. Each error holds one argument.
                    e.args = (f"{e} (and rows 0..{start} were stored by the calls before)",)
                raise
            written += piece
            bar.update(piece)
    return written
