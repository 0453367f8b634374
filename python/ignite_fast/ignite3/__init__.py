"""Ignite 3: tables over Ignite 3's client protocol. The client (:class:`Ignite3Client`, made by
``ignite_fast.Client(..., ignite=3)``), its partition reads (``reading``), the preparation of
columns for its writer (``writing``) and the text of SQL types (``types``). Nothing here imports
``ignite_fast.ignite2``."""

from .client import Ignite3Client

__all__ = ["Ignite3Client"]
