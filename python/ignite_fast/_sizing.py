"""How many entries make a page and a batch: the one place that sizes them, for both generations.

Batches and pages are sized in bytes unless the caller gives a row count; the bytes per entry are
measured once per cache from a first small page. Two limits shape every size:

- the node serializes each page into a buffer on its Java heap rounded up to a power of two, and keeps
  such buffers pooled per thread afterwards, so pages are made a little under a power of two
  (:data:`SERVER_BUFFER_SHARE`), and a one-cursor scan of a whole multi-node cache, which the node
  gathers from every node, gets pages smaller by the node count (16 MB pages of 1 MB values from three
  nodes brought a 1 GB-heap node down);
- a partition-parallel connection keeps at most :data:`IN_FLIGHT_BYTES` of pages asked for at once
  (32 MB per connection brought 1 GB-heap nodes down; 2-8 MB scan as fast as 32 MB).
"""

from __future__ import annotations

import threading

from . import _native
from .errors import IgniteError

#: Bytes a batch (and a one-cursor page) holds when the caller gives no row count.
TARGET_BATCH_BYTES = 16 << 20
#: Rows of a batch when nothing is known yet (an empty cache), and at most.
DEFAULT_BATCH_ROWS = 1024
MAX_BATCH_ROWS = 1 << 16
#: Entries smaller than PROBE_SAMPLE_BYTES are measured on PROBE_ROWS of them rather than one.
PROBE_ROWS = 16
PROBE_SAMPLE_BYTES = 64 << 10
#: Pages are made a little under the server's power-of-two page buffer.
SERVER_BUFFER_SHARE = 15 / 16

#: Rows per page and per batch of an Ignite 3 read unless told: pages of a few MB for rows of a
#: few hundred bytes (Ignite 3 pages count rows; no size is measured).
TABLE_PAGE_ROWS = 4096

#: Partition cursors in flight on each connection of a partition-parallel scan: the server prepares
#: their pages while the client decodes, which matters most for small partitions (one round trip
#: each). Each in-flight partition is held in memory until it is read whole.
DEFAULT_CURSORS = 4
#: Page bytes asked for at once on one connection of a partition-parallel scan.
IN_FLIGHT_BYTES = 8 << 20
#: Entries a page holds at least when they are large (if two such pages fit in flight).
MIN_PAGE_ROWS = 3
#: Pages of the counting pass that balances shard plans.
COUNT_PAGE_BYTES = 4 << 20


class Sizer:
    """Page and batch sizes for the caches one native client reads, from measured entry sizes and
    the caches' layouts (both asked for once per cache and kept)."""

    def __init__(self, native: _native.NativeClient):
        self._native = native
        self._lock = threading.Lock()
        self._entry_bytes: dict[str, int] = {}
        # cache -> (partitions or None, nodes holding primaries)
        self._layouts: dict[str, tuple[int | None, int]] = {}

    def entry_size(self, cache: str, part: int = -1) -> int | None:
        """Bytes per entry of ``cache`` on the wire, from one small page (measured once per cache);
        None while the cache is empty."""
        with self._lock:
            known = self._entry_bytes.get(cache)
        if known is not None:
            return known
        # One entry first: a page of a distributed scan gathers that many from every node, which
        # with large values would be a heavy probe. Small entries get a larger sample.
        page = self._probe_page(cache, 1, part)
        if page is not None and page[1] // page[0] < PROBE_SAMPLE_BYTES:
            page = self._probe_page(cache, PROBE_ROWS, part) or page
        if page is None:
            return None  # nothing to measure (yet)
        size = max(1, page[1] // page[0])
        with self._lock:
            self._entry_bytes[cache] = size
        return size

    def _probe_page(self, cache: str, rows: int, part: int) -> tuple[int, int] | None:
        """``(entries, bytes)`` of the first page of a scan of ``rows`` entries per page."""
        probe = self._native.scan(cache, page_size=rows, part=part)
        try:
            page = probe.next_raw_page()
        finally:
            probe.close()
        return None if page is None or page[0] == 0 else page

    def rows_for_bytes(self, cache: str, target_bytes: int, part: int = -1) -> int:
        """How many entries of ``cache`` make about ``target_bytes``."""
        entry = self.entry_size(cache, part)
        if entry is None:
            return DEFAULT_BATCH_ROWS
        return int(min(MAX_BATCH_ROWS, max(1, target_bytes // entry)))

    def batch_rows(self, cache: str, part: int = -1) -> int:
        """Rows of a batch of about :data:`TARGET_BATCH_BYTES`."""
        return self.rows_for_bytes(cache, TARGET_BATCH_BYTES, part)

    def layout(self, cache: str) -> tuple[int | None, int]:
        """``(partitions or None, nodes holding primaries)`` of ``cache``, asked for once."""
        with self._lock:
            known = self._layouts.get(cache)
        if known is not None:
            return known
        try:
            partition_map = self._native.partition_map(cache)
        except IgniteError:
            return None, 1  # an unknown cache: the scan itself says so
        if partition_map is None:
            layout: tuple[int | None, int] = (None, 1)
        else:
            primaries = [bytes(node) for node in partition_map[2]]
            layout = (len(primaries), max(1, len(set(primaries))))
        with self._lock:
            self._layouts[cache] = layout
        return layout

    def partition_count(self, cache: str) -> int | None:
        """Partitions of a cache (it never changes), or None when the map does not say."""
        return self.layout(cache)[0]

    def cursor_page_rows(self, cache: str, part: int = -1, local: bool = False) -> int:
        """Entries per page of a one-cursor scan: about 16 MB, smaller by the node count when the
        node talked to gathers the page from every node."""
        nodes = 1 if part >= 0 or local else self.layout(cache)[1]
        return self.rows_for_bytes(cache, int(TARGET_BATCH_BYTES * SERVER_BUFFER_SHARE) // nodes, part)

    def pages_in_flight(self, cache: str, page_size: int | None, cursors: int) -> tuple[int, int]:
        """Entries per page and cursors per connection of a partition-parallel scan, such that the
        pages asked for at once hold about :data:`IN_FLIGHT_BYTES` at most: pages of
        ``IN_FLIGHT_BYTES / cursors`` unless ``page_size`` is given, and then no more than
        ``IN_FLIGHT_BYTES`` (fewer cursors)."""
        entry = self.entry_size(cache)
        if entry is None:  # empty (for now): nothing to size by
            return page_size or DEFAULT_BATCH_ROWS, cursors
        if page_size is None:
            # Large entries get a few per page (fewer cursors) so partitions come in fewer pieces.
            page_size = max(
                self.rows_for_bytes(cache, int(IN_FLIGHT_BYTES * SERVER_BUFFER_SHARE) // cursors),
                min(MIN_PAGE_ROWS, self.rows_for_bytes(cache, IN_FLIGHT_BYTES // 2)),
            )
        page_size = min(page_size, self.rows_for_bytes(cache, IN_FLIGHT_BYTES))
        return page_size, max(1, min(cursors, IN_FLIGHT_BYTES // (page_size * entry)))

    def count_page_rows(self, cache: str) -> int:
        """Entries per page of the pass that counts partitions' entries."""
        return self.rows_for_bytes(cache, COUNT_PAGE_BYTES)
