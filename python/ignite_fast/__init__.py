"""ignite_fast: read Apache Ignite caches into numpy and TensorFlow, fast.

- :class:`Client` scans caches into columnar numpy batches (no Python object per row);
  ``Client(..., ignite=3)`` gives an :class:`Ignite3Client`, which reads Ignite 3 tables alike.
- ``client.resumable_scan(...)`` reads the same batches and keeps a :class:`ScanPosition`, to resume
  an epoch where it stopped (``ignite_fast.resumable``).
- :class:`IgniteDataset` (needs TensorFlow, ``pip install ignite_fast[tf]``) is a drop-in for the
  original ``tf.contrib.ignite.IgniteDataset``.
- :mod:`ignite_fast.server` runs real Ignite nodes on loopback for tests, demos and development.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .client import Client, Ignite3Client, TlsOptions
from .columns import Ragged
from .errors import (
    AuthenticationError,
    CacheNotFoundError,
    DataLostError,
    IgniteConnectionError,
    IgniteError,
    IgniteTimeoutError,
    InvalidArgumentError,
    PositionError,
    PositionMismatchError,
    ProtocolError,
    SchemaError,
    ServerError,
    TlsError,
    TopologyChangedError,
    UnsupportedTypeError,
)
from .position import ScanPosition
from .resumable import ResumableScan

__version__ = "0.1.0"

__all__ = [
    "Client",
    "Ignite3Client",
    "TlsOptions",
    "IgniteDataset",
    "Ragged",
    "ScanPosition",
    "ResumableScan",
    "errors",
    "IgniteError",
    "IgniteConnectionError",
    "IgniteTimeoutError",
    "AuthenticationError",
    "TlsError",
    "DataLostError",
    "TopologyChangedError",
    "ProtocolError",
    "ServerError",
    "CacheNotFoundError",
    "SchemaError",
    "UnsupportedTypeError",
    "InvalidArgumentError",
    "PositionError",
    "PositionMismatchError",
]


def __getattr__(name: str) -> Any:
    # TensorFlow is optional and slow to import: load the tf.data adaptor only when asked for.
    if name == "IgniteDataset":
        try:
            from .tf import IgniteDataset
        except ModuleNotFoundError as e:
            if e.name != "tensorflow":
                raise
            raise ImportError("IgniteDataset needs TensorFlow: pip install 'ignite_fast[tf]'") from e
        return IgniteDataset
    raise AttributeError(f"module 'ignite_fast' has no attribute {name!r}")
