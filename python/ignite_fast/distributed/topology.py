"""The topology watch: a plan's shards hold while the cluster's nodes stay; a worker ends when a
node joins or leaves (exit status :data:`TOPOLOGY_CHANGED_EXIT_CODE`) and the engine restarts
the job with a fresh plan."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator

from ignite_fast.errors import IgniteConnectionError, TopologyChangedError
from ignite_fast.source import Source

#: The exit status of a worker that ends on a topology change (:func:`exit_on_topology_change`).
#: Any non-zero status makes torchrun (``--max-restarts``) restart the job; 128 and above is
#: what Kubeflow's ``restartPolicy: ExitCode`` retries (lower ones are permanent failures).
TOPOLOGY_CHANGED_EXIT_CODE = 200


class TopologyWatch:
    """Raises :class:`~ignite_fast.errors.TopologyChangedError` from :meth:`check` once the
    cluster's affinity topology major version differs from ``planned``'s (a node joined or
    left). It asks the cluster at most every ``every`` seconds (one small request: the client's
    ``topology()``); a plan without a topology (None), or a client that tells none (Ignite 3),
    is never stale."""

    def __init__(self, client: Source, planned: tuple[int, int] | None, every: float = 1.0, what: str = "the plan"):
        self.client, self.planned, self.every, self.what = client, planned, every, what
        self._next = 0.0

    def check(self, now: bool = False) -> None:
        """Asks the cluster if ``every`` seconds have passed since the last question (or ``now``)."""
        if self.planned is None or (not now and time.monotonic() < self._next):
            return
        self._next = time.monotonic() + self.every
        try:
            current = self.client.topology()
        except IgniteConnectionError:
            return  # the node asked may be the one that left: the next check asks another
        if current is not None and current[0] != self.planned[0]:
            raise TopologyChangedError(
                f"the cluster's topology changed (version {self.planned[0]} -> {current[0]}: a node joined or "
                f"left) since {self.what} was made; restart every worker to make a fresh plan",
                self.planned,
                current,
            )


@contextlib.contextmanager
def exit_on_topology_change() -> Iterator[None]:
    """Ends the process with :data:`TOPOLOGY_CHANGED_EXIT_CODE` when the block raises
    :class:`~ignite_fast.errors.TopologyChangedError`, after saying why on stderr::

        with exit_on_topology_change():
            train()
    """
    try:
        yield
    except TopologyChangedError as e:
        print(f"ignite_fast: exit status {TOPOLOGY_CHANGED_EXIT_CODE}: {e}", file=sys.stderr, flush=True)
        sys.exit(TOPOLOGY_CHANGED_EXIT_CODE)
