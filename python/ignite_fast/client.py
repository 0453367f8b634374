"""The numpy face of ignite_fast: a client that scans caches into columnar batches."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from . import _native
from .columns import describe, from_native
from .errors import IgniteError, InvalidArgumentError
from .sharding import check_selection

if TYPE_CHECKING:
    from .parallel import NodeClients
    from .sharding import ShardPlan


# Batches and pages are sized in bytes unless the caller gives a row count.
TARGET_BATCH_BYTES = 16 << 20
PROBE_ROWS = 16
# Entries smaller than this are measured on PROBE_ROWS of them rather than one.
PROBE_SAMPLE_BYTES = 64 << 10
DEFAULT_BATCH_ROWS = 1024
MAX_BATCH_ROWS = 1 << 16


@dataclass(frozen=True)
class TlsOptions:
    """TLS settings for every connection of a client (TLS 1.2 or 1.3).

    The server's certificate is verified against ``ca_file`` (PEM), or the system's trusted roots
    when it is None, and must name the host connected to unless ``check_hostname=False``.
    ``cert_file`` (PEM chain) and ``key_file`` (PEM key; PKCS#8 encrypted with ``key_password``
    works too) present a client certificate to clusters that require one.
    """

    ca_file: str | os.PathLike | None = None
    cert_file: str | os.PathLike | None = None
    key_file: str | os.PathLike | None = None
    key_password: str | None = None
    check_hostname: bool = True

    def __repr__(self) -> str:
        password = ", key_password='***'" if self.key_password else ""
        return (f"TlsOptions(ca_file={self.ca_file!r}, cert_file={self.cert_file!r}, key_file={self.key_file!r}"
                f"{password}, check_hostname={self.check_hostname})")


def _addresses(host: str | Sequence[str], port: int) -> list[str]:
    hosts = [host] if isinstance(host, str) else list(host)
    if not hosts:
        raise InvalidArgumentError("no server address given")
    out = []
    for h in hosts:
        if not isinstance(h, str) or not h:
            raise InvalidArgumentError(f"a server address must be a non-empty string, got {h!r}")
        # "host:port" keeps its port; a bare host (or an IPv6 address in brackets) takes `port`.
        if h.startswith("[") and "]:" in h or (h.count(":") == 1):
            out.append(h)
        elif h.startswith("["):
            out.append(f"{h}:{port}")
        elif ":" in h:
            out.append(f"[{h}]:{port}")
        else:
            out.append(f"{h}:{port}")
    return out


def _tls_setting(tls: bool | TlsOptions | None) -> TlsOptions | None:
    """``True`` -> default options (system roots), ``None``/``False`` -> no TLS; checks the type."""
    if tls is True:
        return TlsOptions()
    if tls not in (None, False) and not isinstance(tls, TlsOptions):
        raise InvalidArgumentError(f"tls must be True, False, None or TlsOptions, got {tls!r}")
    return tls or None


def _connection_spec(addresses: list[str], username: str | None, password: str | None, connect_timeout: float,
                     read_timeout: float | None, tls: TlsOptions | None,
                     protocol_version: tuple[int, int, int] = (1, 7, 0)) -> "_native.ConnectionSpec":
    """The native connection settings shared by the client and the file system."""
    def path(p):
        return None if p is None else os.fspath(p)

    tls_args = dict(tls=False) if tls is None else dict(
        tls=True, ca_file=path(tls.ca_file), cert_file=path(tls.cert_file), key_file=path(tls.key_file),
        key_password=tls.key_password, verify_hostname=bool(tls.check_hostname))
    return _native.ConnectionSpec(addresses, username, password, float(connect_timeout),
                                  None if read_timeout is None else float(read_timeout), tuple(protocol_version),
                                  **tls_args)


# Partition cursors in flight on each connection of a partition-parallel scan: the server prepares
# their pages while the client decodes, which matters most for small partitions (one round trip
# each). Each in-flight partition is held in memory until it is read whole.
DEFAULT_CURSORS = 4
# Page bytes in flight on one connection of a partition-parallel scan. The server serializes each
# page into a buffer on its Java heap (rounded up to a power of two) and keeps such buffers pooled
# per thread afterwards (up to 32 each): many or large pages in flight fill a node's heap for
# good, and 32 MB per connection brought 1 GB-heap nodes down. 8 MB keeps the pipeline as full
# (measured: 2-8 MB in flight scan as fast as 32 MB). Pages are sized to fit; a larger
# ``page_size`` is cut down to it.
IN_FLIGHT_BYTES = 8 << 20


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise InvalidArgumentError(f"{name} must be >= {minimum}, got {value}")
    return value


class Client:
    """A connection to an Ignite cluster.

    ``host`` is a host name, a ``"host:port"`` string, or a list of them (tried in order).

    >>> client = Client("127.0.0.1", 10800)                       # doctest: +SKIP
    >>> for batch in client.scan("digits", batch_size=4096):     # doctest: +SKIP
    ...     pixels, labels = batch["val"]["pixels"], batch["val"]["label"]
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
        protocol_version: tuple[int, int, int] = (1, 7, 0),
        tls: bool | TlsOptions | None = None,
    ):
        """``protocol_version`` is where the handshake starts; an older server names its own
        version and the client falls back to it (down to 1.1.0). ``tls=True`` connects with TLS,
        verified against the system's roots; pass :class:`TlsOptions` for a CA file, client
        certificates or to turn the host-name check off."""
        _check_int("port", port, 1)
        self._addresses = _addresses(host, port)
        self._username = username
        options = _tls_setting(tls)
        self._tls = options
        # cache -> (partitions or None, nodes holding primaries), asked for once
        self._layouts: dict[str, tuple[int | None, int]] = {}
        self._nodes: "NodeClients | None" = None
        self._nodes_lock = threading.Lock()
        self._entry_bytes: dict[str, int] = {}
        self._connect_args = dict(username=username, password=password, connect_timeout=connect_timeout,
                                  read_timeout=read_timeout, protocol_version=protocol_version, tls=options)
        self._native = _native.NativeClient(
            _connection_spec(self._addresses, username, password, connect_timeout, read_timeout, options,
                             protocol_version))

    def __repr__(self) -> str:
        user = f", username={self._username!r}" if self._username else ""
        tls = f", tls={self._tls!r}" if self._tls else ""
        return f"Client({self._addresses!r}{user}{tls})"

    @property
    def addresses(self) -> list[str]:
        return list(self._addresses)

    def _entry_size(self, cache: str, part: int = -1) -> int | None:
        """Bytes per entry of ``cache`` on the wire, from one small page (measured once per cache
        and kept); None while the cache is empty."""
        if cache not in self._entry_bytes:
            # One entry first: a page of a distributed scan gathers that many from every node,
            # which with large values would be a heavy probe. Small entries get a larger sample.
            page = self._probe_page(cache, 1, part)
            if page is not None and page[1] // page[0] < PROBE_SAMPLE_BYTES:
                page = self._probe_page(cache, PROBE_ROWS, part) or page
            if page is None:
                return None  # nothing to measure (yet)
            self._entry_bytes[cache] = max(1, page[1] // page[0])
        return self._entry_bytes[cache]

    def _probe_page(self, cache: str, rows: int, part: int) -> tuple[int, int] | None:
        """``(entries, bytes)`` of the first page of a scan of ``rows`` entries per page."""
        probe = self._native.scan(cache, page_size=rows, part=part)
        try:
            page = probe.next_raw_page()
        finally:
            probe.close()
        return None if page is None or page[0] == 0 else page

    def _rows_for_bytes(self, cache: str, target_bytes: int, part: int = -1) -> int:
        """How many entries of ``cache`` make about ``target_bytes``."""
        entry = self._entry_size(cache, part)
        if entry is None:
            return DEFAULT_BATCH_ROWS
        return int(min(MAX_BATCH_ROWS, max(1, target_bytes // entry)))

    def _partition_count(self, cache: str) -> int | None:
        """Partitions of a cache (cached: it never changes), or None when the map does not say."""
        return self._layout(cache)[0]

    def _layout(self, cache: str) -> tuple[int | None, int]:
        """``(partitions or None, nodes holding primaries)`` of ``cache``, asked for once."""
        if cache not in self._layouts:
            try:
                primaries = self.partition_map(cache)
            except IgniteError:
                return None, 1  # an unknown cache: the scan itself says so
            self._layouts[cache] = (None, 1) if primaries is None else (len(primaries), max(1, len(set(primaries))))
        return self._layouts[cache]

    def _page_rows(self, cache: str, part: int = -1, local: bool = False) -> int:
        """Entries per page of a one-cursor scan: about 16 MB, a little under the server's
        power-of-two page buffer. A scan of the whole cache gathers a page from every node on
        the node it talks to, so there the pages are smaller by the number of nodes (16 MB
        pages of 1 MB values from three nodes brought a 1 GB-heap node down)."""
        nodes = 1 if part >= 0 or local else self._layout(cache)[1]
        return self._rows_for_bytes(cache, TARGET_BATCH_BYTES * 15 // 16 // nodes, part)

    def _node_clients(self, primaries: Sequence[bytes] = ()) -> "NodeClients":
        """A client per node (see :class:`~ignite_fast.parallel.NodeClients`), made on first use
        and kept, so that scans after the first reuse its connections (setting them up took
        10-35 ms per scan on three local nodes); ``primaries`` naming nodes it has not met
        (nodes that joined) makes it look for them."""
        from .parallel import NodeClients

        with self._nodes_lock:
            if self._nodes is None:
                self._nodes = NodeClients(self)
            nodes = self._nodes
        nodes.look_for(primaries)
        return nodes

    def _sibling(self, address: str, **overrides) -> "Client":
        """A client of the same settings (but ``overrides``) for one address only."""
        return Client(address, **{**self._connect_args, **overrides})

    def partition_map(self, cache: str) -> list[bytes] | None:
        """The primary node id (16 bytes) of every partition of ``cache``, by partition number,
        or None where partition awareness does not apply (replicated caches, custom affinity)."""
        partition_map = self._native.partition_map(cache)
        return None if partition_map is None else [bytes(node) for node in partition_map[2]]

    def topology_version(self) -> tuple[int, int]:
        """The cluster's affinity topology version ``(major, minor)``: the major number changes
        when a server node joins or leaves, the minor one on cache changes and rebalancing."""
        return tuple(self._native.topology_version())

    def partition_sizes(self, cache: str, parallel: int = 4) -> list[int]:
        """Entries in each partition of ``cache`` (counted by one pass over the data, read from the
        primaries and discarded undecoded: the protocol has no per-partition size request)."""
        from .sharding import partition_sizes

        return partition_sizes(self, cache, parallel)

    def plan_shards(self, cache: str, workers: int, *, homes: Sequence[str | None] | None = None,
                    balance: str = "entries", parallel: int = 4) -> "ShardPlan":
        """Splits ``cache``'s partitions among ``workers``: disjoint shards covering every
        partition, balanced by entry count (``balance="entries"``, one counting pass) or by
        partition count (``"partitions"``), each worker preferring the partitions whose primary
        is its ``homes[i]`` node (``"host:port"`` or ``"host"``). Compute it once and hand it to
        the workers (``scan(cache, shard=(i, n), plan=plan)`` or ``partitions=plan[i]``); see
        :mod:`ignite_fast.sharding`."""
        from .sharding import plan_shards

        return plan_shards(self, cache, workers, homes=homes, balance=balance, parallel=parallel)

    @property
    def protocol_version(self) -> tuple[int, int, int]:
        """The thin-client protocol version agreed with the server."""
        return self._native.protocol_version()

    def cache_names(self) -> list[str]:
        """Names of all caches in the cluster."""
        return self._native.cache_names()

    def scan(
        self,
        cache: str,
        batch_size: int | None = None,
        *,
        page_size: int | None = None,
        part: int = -1,
        local: bool = False,
        decimal_as_string: bool | None = None,
        columns: Sequence[str] | None = None,
        value_type: str | int | None = None,
        format: str = "numpy",
        parallel: int | None = None,
        ordered: bool = False,
        failover_timeout: float = 60.0,
        shard: tuple[int, int] | None = None,
        partitions: Sequence[int] | None = None,
        plan: "ShardPlan | None" = None,
        cursors: int = DEFAULT_CURSORS,
    ) -> Iterator[Any]:
        """Scans ``cache`` and yields batches ``{"key": column, "val": column}`` of up to
        ``batch_size`` rows (see :mod:`ignite_fast.columns` for how columns look). Without
        ``batch_size``, batches and pages hold about 16 MB, whatever the size of an entry: a first
        small page measures it.

        ``page_size`` is the number of entries per network page (default: ``batch_size``);
        ``part`` reads one partition (``-1``: all); ``local`` reads only the entries of the node
        this client is connected to; ``decimal_as_string`` gives decimals as exact strings instead
        of float64. ``columns`` names the value fields to decode (dotted paths reach nested
        fields: ``["label", "metadata.width"]``); the others are skipped undecoded.
        ``value_type`` (a type name or id) keeps only entries whose value is of that type, for
        caches that hold several; ``value_type="*"`` reads them all as one union: fields merge
        by name (null where a type lacks them) and a ``_type`` column names each row's type. ``format="arrow"`` yields ``pyarrow.RecordBatch`` es instead
        (see :mod:`ignite_fast.arrow`).

        ``parallel=N`` reads the partitions N at a time, each from its primary node (give the
        client the addresses of all nodes), in no particular order, or in partition order with
        ``ordered=True``. If a node dies, its partitions are read again from the backups that take
        over (within ``failover_timeout`` seconds), with no duplicates and no gaps; if more nodes
        left than the cache keeps backups while some of their partitions were unread, the scan
        raises :class:`DataLostError` (Ignite gives such partitions to others empty). Each of the N
        connections keeps ``cursors`` partitions in flight, so the server prepares their next
        pages while the client decodes (a partition is held in memory until it is read whole).
        ``shard=(i, n)`` reads only worker ``i``'s share of ``n``: disjoint sets of partitions
        that together cover the cache, taken from ``plan`` (see :meth:`plan_shards`), from the
        plan ``ignite-fast train`` put in the environment, or else contiguous ranges that every
        worker computes alike (see :mod:`ignite_fast.sharding`). ``partitions=[...]`` reads just
        those partitions (e.g. ``plan[i]``). Both read in parallel like ``parallel=``.
        Leaving the loop early closes the server-side cursors.
        """
        convert = _converter(format)
        exact = format == "arrow" if decimal_as_string is None else decimal_as_string
        partitions = check_selection(shard, partitions, plan)
        if shard is not None or partitions is not None:
            parallel = parallel or 1
        if parallel is None:
            source = self.scan_native(cache, batch_size, page_size=page_size, part=part, local=local,
                                      decimal_as_string=exact, columns=columns, value_type=value_type)
        else:
            from .parallel import parallel_scan

            _check_int("parallel", parallel, 1)
            if part != -1 or local:
                raise InvalidArgumentError("parallel= and shard= choose the partitions themselves: "
                                           "they do not combine with part= or local=")
            if batch_size is None:
                batch_size = self._rows_for_bytes(cache, TARGET_BATCH_BYTES)
            _check_int("batch_size", batch_size, 1)
            _check_int("cursors", cursors, 1)
            source = parallel_scan(self, cache, workers=parallel, batch_size=batch_size, cursors=cursors,
                                   page_size=page_size, ordered=ordered,
                                   failover_timeout=failover_timeout, shard=shard, plan=plan,
                                   partitions=partitions,
                                   scan_args=dict(decimal_as_string=exact, columns=columns, value_type=value_type))
        for _, cols in source:
            yield convert(cols)

    def to_arrow(self, cache: str, **scan_args) -> Any:
        """The whole cache as a ``pyarrow.Table`` (arguments as in :meth:`scan`)."""
        from . import arrow

        return arrow.table(list(self.scan(cache, format="arrow", **scan_args)))

    def to_pandas(self, cache: str, **scan_args) -> Any:
        """The whole cache as a ``pandas.DataFrame``, value fields as columns (by way of Arrow)."""
        return self.to_arrow(cache, **scan_args).to_pandas()

    def scan_native(self, cache: str, batch_size: int | None = None, *, page_size: int | None = None,
                    part: int = -1, local: bool = False, decimal_as_string: bool = False,
                    columns: Sequence[str] | None = None, value_type: str | int | None = None) -> Iterator[tuple]:
        """Like :meth:`scan` but yields ``(rows, {"key": ..., "val": ...})`` with columns as native
        tagged tuples (see ``_native.pyi``)."""
        if not isinstance(cache, str) or not cache:
            raise InvalidArgumentError(f"cache must be a non-empty string, got {cache!r}")
        _check_int("part", part, -1)
        if part >= 0:
            count = self._partition_count(cache)
            if count is not None and part >= count:
                raise InvalidArgumentError(f"part={part} is out of range: cache {cache!r} has {count} partitions (0-{count - 1})")
        if batch_size is None:
            batch_size = self._rows_for_bytes(cache, TARGET_BATCH_BYTES, part)
        _check_int("batch_size", batch_size, 1)
        if page_size is None:  # the batch, but no more than about 16 MB a page (the server's heap)
            page_size = min(batch_size, self._page_rows(cache, part, local))
        _check_int("page_size", page_size, 1)
        scan = self._native.scan(cache, page_size=min(page_size, 2**31 - 1), part=part, local=bool(local),
                                 **native_decode_args(decimal_as_string, columns, value_type))
        return _iterate(scan, batch_size)

    def schema(self, cache: str, value_type: str | int | None = None) -> dict:
        """The structure of the cache's entries: ``{"key": "long", "val": {"NAME": "string", ...}}``.

        It comes from the first entry and the binary type metadata (every field the type has ever
        had, also those the first object leaves out). For an empty cache, name the value type and
        the structure comes from the metadata alone (nested objects show as ``"object"``, the key
        as ``"unknown"``); without it an empty cache gives ``{}``.
        """
        for _, columns in self.scan_native(cache, batch_size=1, value_type=value_type):
            return {name: describe(col, self._type_name) for name, col in columns.items()}
        if value_type is None:
            return {}
        type_id = _native.type_id(value_type) if isinstance(value_type, str) else value_type
        _name, fields, _enum = self._native.binary_type(type_id)
        return {"key": "unknown", "val": {name: _native.type_code_name(code) for name, code in sorted(fields)}}

    def _type_name(self, type_id: int) -> str:
        return self._native.binary_type(type_id)[0]

    def enum_values(self, enum_type: str | int) -> dict[int, str]:
        """``{ordinal: name}`` of an enum type, by type name (e.g. ``"com.example.Color"``) or id."""
        type_id = enum_type if isinstance(enum_type, int) else _native.type_id(enum_type)
        name, _fields, values = self._native.binary_type(type_id)
        if not values:
            raise InvalidArgumentError(f"binary type {name!r} is not an enum")
        return {ordinal: constant for constant, ordinal in values}

    def sql(
        self,
        query: str,
        args: Sequence[Any] = (),
        *,
        batch_size: int = 1024,
        page_size: int | None = None,
        schema: str = "PUBLIC",
        max_rows: int = 0,
        distributed_joins: bool = False,
        local: bool = False,
        lazy: bool = False,
        timeout: float = 0.0,
        decimal_as_string: bool | None = None,
        format: str = "numpy",
    ) -> Iterator[Any]:
        """Runs an SQL fields query and yields batches ``{column name: column}`` of up to
        ``batch_size`` rows, columns as in :meth:`scan`.

        ``args`` fill the query's ``?`` placeholders (None, bool, int, float, str or bytes);
        filtering and projecting on the server sends only what you need over the wire.

        >>> for batch in client.sql("SELECT ID, NAME FROM KITTEN_CACHE WHERE ID > ?", [1]):  # doctest: +SKIP
        ...     print(batch["ID"], batch["NAME"])
        """
        convert = _converter(format)
        exact = format == "arrow" if decimal_as_string is None else decimal_as_string
        for _, columns in self.sql_native(query, args, batch_size=batch_size, page_size=page_size, schema=schema,
                                          max_rows=max_rows, distributed_joins=distributed_joins, local=local,
                                          lazy=lazy, timeout=timeout, decimal_as_string=exact):
            yield convert(columns)

    def sql_native(self, query: str, args: Sequence[Any] = (), *, batch_size: int = 1024,
                   page_size: int | None = None, schema: str = "PUBLIC", max_rows: int = 0,
                   distributed_joins: bool = False, local: bool = False, lazy: bool = False,
                   timeout: float = 0.0, decimal_as_string: bool = False) -> Iterator[tuple]:
        """Like :meth:`sql` but yields ``(rows, {name: native column})``."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidArgumentError(f"query must be a non-empty string, got {query!r}")
        _check_int("batch_size", batch_size, 1)
        page_size = batch_size if page_size is None else _check_int("page_size", page_size, 1)
        _check_int("max_rows", max_rows, 0)
        cursor = self._native.sql(query, list(args), schema=schema, page_size=min(page_size, 2**31 - 1),
                                  max_rows=max_rows, distributed_joins=bool(distributed_joins), local=bool(local),
                                  lazy=bool(lazy), timeout_ms=int(timeout * 1000),
                                  decimal_as_string=bool(decimal_as_string))
        return _iterate(cursor, batch_size)

    def put_batches(self, cache: str, batch: dict, *, type_name: str | None = None, create: bool = True) -> int:
        """Writes numpy columns: ``{"key": keys, "val": values}`` where ``values`` is one column
        (e.g. a 2-D ``uint8`` array of byte[] values) or a dict of named columns, written as binary
        objects of ``type_name`` (default ``"<cache>Value"``) with compact footers, readable by
        every Ignite client. Columns: 1-D arrays of ``uint8``/``int8`` (byte), ``int16``,
        ``int32``, ``int64``, ``float32``, ``float64``, ``uint16`` (char), ``bool``; 2-D arrays
        of those (fixed-length arrays); strings (``str``/``bytes`` arrays, UTF-8). No Python
        object per row: the arrays are read in place. The cache is created if ``create``.

        Rows go out in put-all requests of a few MB, several in flight; a failure part-way
        leaves the rows before it written (put-all is not a transaction): the error says how
        many. Returns the number of rows written.

        >>> client.put_batches("digits", {"key": np.arange(3), "val": {"label": labels, "pixels": pixels}})  # doctest: +SKIP
        """
        if not isinstance(batch, dict) or set(batch) != {"key", "val"}:
            raise InvalidArgumentError('batch must be a dict {"key": keys, "val": values}')
        keys = _write_spec(batch["key"], "key")
        val = batch["val"]
        if isinstance(val, dict):
            if not val:
                raise InvalidArgumentError("an object value needs at least one field")
            values: tuple = ("object", type_name or f"{cache}Value",
                             [(str(name), _write_spec(column, str(name))) for name, column in val.items()])
        else:
            values = ("plain", _write_spec(val, "val"))
        return self._native.put_all(cache, keys, values, create=bool(create))

    def raw_pages(self, cache: str, page_size: int | None = None, part: int = -1, *, parallel: int | None = None,
                  cursors: int = DEFAULT_CURSORS) -> Iterator[tuple[int, int]]:
        """Fetches every page of a scan (of one partition with ``part``) and discards it undecoded,
        yielding ``(entries, bytes)``: the server-and-wire limit that benchmarks compare decoding
        against. ``page_size`` (entries), ``parallel`` and ``cursors`` as in :meth:`scan`."""
        if page_size is not None:
            _check_int("page_size", page_size, 1)
        if parallel is not None:
            from .parallel import parallel_scan

            yield from parallel_scan(self, cache, workers=_check_int("parallel", parallel, 1), batch_size=1,
                                     page_size=page_size, ordered=False, failover_timeout=0.0, scan_args={},
                                     cursors=_check_int("cursors", cursors, 1), raw=True)
            return
        if page_size is None:
            page_size = self._page_rows(cache, part)
        scan = self._native.scan(cache, page_size=page_size, part=_check_int("part", part, -1))
        try:
            while (page := scan.next_raw_page()) is not None:
                yield page
        finally:
            scan.close()


_WRITE_KINDS = {"uint8": "byte", "int8": "byte", "int16": "short", "int32": "int", "int64": "long",
                "float32": "float", "float64": "double", "uint16": "char", "bool": "bool"}


def _write_spec(column: Any, name: str) -> tuple:
    """A column for the writer: ``(kind, uint8 view of the data, width)``, without copying
    contiguous little-endian arrays."""
    array = np.asarray(column)
    if array.dtype.kind in "UO":
        array = np.char.encode(array.astype(str), "utf-8")
    if array.dtype.kind == "S":
        array = np.ascontiguousarray(array)
        if array.ndim != 1:
            raise InvalidArgumentError(f"column '{name}': strings must be a 1-D array")
        return ("string", array.view(np.uint8).reshape(-1), array.dtype.itemsize)
    kind = _WRITE_KINDS.get(array.dtype.name)
    if kind is None:
        raise InvalidArgumentError(f"column '{name}': cannot write values of dtype {array.dtype}")
    array = np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"), copy=False))
    if array.ndim == 1:
        return (kind, array.view(np.uint8).reshape(-1), 1)
    if array.ndim == 2:
        return (kind + "[]", array.view(np.uint8).reshape(-1), array.shape[1])
    raise InvalidArgumentError(f"column '{name}': arrays of {array.ndim} dimensions cannot be written")


def native_decode_args(decimal_as_string: bool = False, columns: Sequence[str] | None = None,
                       value_type: str | int | None = None) -> dict:
    """What to decode, checked and in the native scans' terms."""
    if isinstance(columns, str):
        raise InvalidArgumentError("columns must be a list of field names, not a string")
    if value_type is not None and not isinstance(value_type, (str, int)):
        raise InvalidArgumentError(f"value_type must be a type name or id, got {value_type!r}")
    union = value_type == "*"
    type_id = None if union else _native.type_id(value_type) if isinstance(value_type, str) else value_type
    return dict(decimal_as_string=bool(decimal_as_string), fields=None if columns is None else list(columns),
                value_type=type_id, union_types=union)


def _numpy_batch(columns: dict) -> dict:
    return {name: from_native(col) for name, col in columns.items()}


def _converter(format: str):
    if format == "numpy":
        return _numpy_batch
    if format == "arrow":
        from . import arrow

        return arrow.record_batch
    raise InvalidArgumentError(f"format must be 'numpy' or 'arrow', got {format!r}")


def _iterate(scan: "_native.NativeCursor", batch_size: int) -> Iterator[tuple]:
    # A generator so that leaving the loop early (or dropping the iterator) closes the cursor.
    try:
        while (batch := scan.next_batch(batch_size)) is not None:
            yield batch
    finally:
        scan.close()
