"""The Ignite node on this worker's own machine (its home): the nodes the client reaches, matched
against this host's addresses; where several nodes share a host, the workers there are spread over
them. ``IGNITE_FAST_HOME_NODE=host:port`` overrides the search."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ignite_fast._options import split_address
from ignite_fast.errors import IgniteError
from ignite_fast.source import Source

from .context import WorkerContext, worker_context
from .hosts import is_loopback, is_this_host

#: ``host:port`` of the Ignite node this worker should treat as its own (overrides the search).
HOME_ENV = "IGNITE_FAST_HOME_NODE"


@dataclass(frozen=True)
class NodeEndpoint:
    """A server node: its id (Ignite 2's 16 bytes, Ignite 3's name), client port and addresses."""

    node_id: bytes | str
    port: int
    hosts: tuple[str, ...]

    @property
    def address(self) -> str:
        """``host:port``, preferring an address others can reach over a loopback one."""
        usable = [h for h in self.hosts if "%" not in h] or list(self.hosts)
        host = next((h for h in usable if not is_loopback(h)), usable[0] if usable else "127.0.0.1")
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"


def on_this_host(node: NodeEndpoint, is_local: Callable[[str], bool] = is_this_host) -> bool:
    """Whether ``node`` runs on this machine: one of its addresses others can reach is ours. A
    node that lists loopback addresses only can be reached from its own machine alone, so if we
    see it, it is here (every node of a cluster on one machine, as in the tests)."""
    usable = [h for h in node.hosts if "%" not in h]  # link-local with an interface: ambiguous
    outside = [h for h in usable if not is_loopback(h)]
    if outside:
        return any(is_local(h) for h in outside)
    return bool(usable)


def choose_home(
    nodes: Sequence[NodeEndpoint], slot: int, is_local: Callable[[str], bool] = is_this_host
) -> NodeEndpoint | None:
    """The node on this host for the worker in ``slot`` (see :attr:`WorkerContext.slot`): the
    host's nodes in a fixed order (port, addresses, id), dealt round-robin; None when no node
    runs here."""
    here = sorted((n for n in nodes if on_this_host(n, is_local)), key=lambda n: (n.port, n.hosts, n.node_id))
    return here[slot % len(here)] if here else None


def cluster_nodes(client: Source) -> list[NodeEndpoint]:
    """The cluster's server nodes that ``client`` (either generation's) reaches, each at the
    address it answered on (``node_addresses``)."""
    nodes = []
    for node, address in client.node_addresses().items():
        host, port = split_address(address)
        if port is not None:
            nodes.append(NodeEndpoint(node, port, (host,)))
    return nodes


def home_node(
    client: Source, context: WorkerContext | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """``host:port`` of this worker's home node: ``IGNITE_FAST_HOME_NODE`` if set, else the node
    on this machine (see :func:`choose_home`), else None (no node runs here: every read is
    remote, and the plan balances without preferring any node for this worker)."""
    env = os.environ if environ is None else environ
    override = (env.get(HOME_ENV) or "").strip()
    if override:
        return override
    context = worker_context(env) if context is None else context
    try:
        nodes = cluster_nodes(client)
    except IgniteError:
        return None
    home = choose_home(nodes, context.slot)
    return None if home is None else home.address
