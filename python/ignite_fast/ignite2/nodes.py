"""Ignite 2: one connection per node of a cluster, to send each partition's scan to its primary node.

The nodes are those at the client's own addresses and the others the cluster names through its node
endpoints (op 5102). An endpoint counts only if the node that answers there has the id the cluster
gave: a node's own list can name addresses (loopback, container bridges) that mean something else
from here. The set is made once per client and kept, so scans after the first reuse its connections
(setting them up took 10-35 ms per scan on three local nodes).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

from ignite_fast import _native
from ignite_fast._options import ConnectionSettings
from ignite_fast.errors import IgniteConnectionError, IgniteError

#: Seconds to wait on an address the cluster reported rather than one the caller gave.
DISCOVERED_CONNECT_TIMEOUT = 2.0


def node_key(node_id: bytes) -> str:
    """A node id as the source protocol names nodes: UUID text, as Ignite prints it."""
    return str(uuid.UUID(bytes=bytes(node_id)))


def primaries_of(native: _native.NativeClient, cache: str) -> list[bytes] | None:
    """The primary node id (16 bytes) of every partition of ``cache``, by partition number, or
    None where partition awareness does not apply (replicated caches, custom affinity)."""
    partition_map = native.partition_map(cache)
    return None if partition_map is None else [bytes(node) for node in partition_map[2]]


class NodeConnections:
    """A native client per reachable node, keyed by node id, beside the client's own one (``main``)."""

    def __init__(self, settings: ConnectionSettings, main: _native.NativeClient):
        self.main = main
        self._settings = settings
        self._lock = threading.Lock()
        self._by_id: dict[bytes, _native.NativeClient] = {}
        self._address: dict[bytes, str] = {}
        self._looked_for: set[bytes] = set()  # node ids discovery has tried
        for address in settings.addresses:
            try:
                native = settings.for_address(address).connect()
                node_id = native.node_id()
            except IgniteConnectionError:
                continue  # a node that is down now can still be routed around
            if node_id is not None:
                self._by_id[bytes(node_id)] = native
                self._address[bytes(node_id)] = address
        self._discover()

    def _discover(self) -> None:
        """Adds the nodes the client was not given, from the cluster's list of client endpoints."""
        try:
            endpoints = self.main.node_endpoints()
        except IgniteError:
            return
        for node_id, port, hosts in endpoints or []:
            node_id = bytes(node_id)
            with self._lock:
                if node_id in self._address or node_id in self._looked_for:
                    continue
                self._looked_for.add(node_id)
            for host in hosts:
                if "%" in host:
                    continue  # a link-local address with its interface: only meaningful there
                address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
                try:
                    native = self._connect_to(address, node_id)
                except IgniteError:
                    continue
                if native is not None:
                    with self._lock:
                        self._by_id[node_id] = native
                        self._address[node_id] = address
                    break

    def _connect_to(self, address: str, node_id: bytes) -> _native.NativeClient | None:
        """A client for ``address`` if the node answering there is ``node_id``; None if another
        node answers."""
        native = self._settings.for_address(address, connect_timeout=DISCOVERED_CONNECT_TIMEOUT).connect()
        answered = native.node_id()
        return native if answered is not None and bytes(answered) == node_id else None

    def look_for(self, node_ids: Iterable[bytes]) -> None:
        """Discovers again if ``node_ids`` (a partition map's primaries) name nodes not reached
        nor tried yet: nodes that joined since (a node that cannot be reached is tried once)."""
        with self._lock:
            unknown = {n for n in node_ids if n not in self._address and n not in self._looked_for}
        if unknown:
            self._discover()

    def for_node(self, node_id: bytes) -> _native.NativeClient:
        """The client connected to ``node_id``; a node whose connection was dropped is connected
        again at its address (raising IgniteConnectionError if it does not answer there, rather
        than routing through another node, which would read whatever now owns its partitions).
        Nodes never reached directly go through ``main``."""
        with self._lock:
            if (known := self._by_id.get(node_id)) is not None:
                return known
            address = self._address.get(node_id)
        if address is None:
            return self.main
        native = self._connect_to(address, node_id)
        if native is None:
            raise IgniteConnectionError(f"node {node_id.hex()} no longer answers at {address}")
        with self._lock:
            return self._by_id.setdefault(node_id, native)

    def reaches(self, node_id: bytes) -> bool:
        """Whether ``node_id`` is read over its own connection (not routed through another)."""
        with self._lock:
            return node_id in self._address

    def forget(self, node_id: bytes) -> None:
        """Drops the node's connection (after a failure); :meth:`for_node` reconnects."""
        with self._lock:
            self._by_id.pop(node_id, None)

    def live(self) -> list[_native.NativeClient]:
        """Every connected node's client, ``main`` last."""
        with self._lock:
            return [*self._by_id.values(), self.main]

    def addresses(self) -> dict[bytes, str]:
        """The address each node answered on, by node id."""
        with self._lock:
            return dict(self._address)
