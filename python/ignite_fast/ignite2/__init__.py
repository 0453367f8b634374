"""Ignite 2: caches of binary objects over the thin-client protocol. The client
(:class:`Ignite2Client`, public as ``ignite_fast.Client``), how a selection of a cache is read
(``reading``), its partition-parallel scans (``partition_scan``), per-node connections (``nodes``)
and shard plans (``plans``). Nothing here imports ``ignite_fast.ignite3``."""

from .client import Ignite2Client

__all__ = ["Ignite2Client"]
