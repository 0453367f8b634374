"""The exceptions ignite_fast raises. Every one is an :class:`IgniteError`; the connection ones are
also Python's own ``ConnectionError`` / ``TimeoutError`` so generic handlers catch them too."""

from __future__ import annotations


class IgniteError(Exception):
    """Base class of every ignite_fast error."""


class IgniteConnectionError(IgniteError, ConnectionError):
    """No node could be reached, or a connection broke."""


class IgniteTimeoutError(IgniteConnectionError, TimeoutError):
    """A connect or a read did not finish within its timeout."""


class AuthenticationError(IgniteError):
    """The cluster refused the credentials. The message names the user, never the password."""


class TlsError(IgniteConnectionError):
    """A TLS handshake or certificate check failed."""


class DataLostError(IgniteError):
    """Nodes left the cluster during a read, more of them than the cache keeps backups: the
    partitions they held are gone (Ignite hands them to other nodes empty), so the read stops
    rather than return part of the data as if it were all."""


class TopologyChangedError(IgniteError):
    """The cluster's affinity topology changed its major version (a server node joined or left)
    since the shard plan being read was made: partitions have moved, so the plan no longer says
    which worker reads what, nor which reads are local. The worker should end (non-zero: see
    :data:`ignite_fast.distributed.TOPOLOGY_CHANGED_EXIT_CODE`) so that its engine restarts
    every worker, and the next attempt makes a fresh plan and resumes from its checkpoint.
    ``planned`` and ``current`` are the two versions ``(major, minor)`` when known."""

    def __init__(self, message: str, planned: tuple[int, int] | None = None, current: tuple[int, int] | None = None):
        super().__init__(message)  # one argument, so that a DataLoader worker's re-raise keeps the type
        self.planned = planned
        self.current = current


class ProtocolError(IgniteError):
    """The server sent bytes that do not follow the thin-client protocol."""


class ServerError(IgniteError):
    """The server answered with an error status (``.status`` holds it)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class CacheNotFoundError(ServerError, KeyError):
    """The named cache does not exist."""

    def __init__(self, message: str, status: int | None = 1000):
        super().__init__(message, status)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SchemaError(IgniteError):
    """Data whose structure cannot be mapped to columns (e.g. two value types in one column)."""


class UnsupportedTypeError(SchemaError):
    """A binary type this version does not decode yet."""


class InvalidArgumentError(IgniteError, ValueError):
    """A bad argument, caught before anything is sent."""


class PositionError(InvalidArgumentError):
    """A scan position refused before any row is read: malformed or changed bytes, an unknown
    format version, or a position of another generation, cache or table, columns, partitions,
    plan or shard (the message names the field that differs)."""


class PositionMismatchError(IgniteError):
    """A resumed scan found that the data changed where it cannot stay exact: the rows it skips
    in a partition begun before are not the rows read before (their count or their keys'
    fingerprint differ), or the partition ended before that many rows. Raised before any row of
    the resumed scan is given."""


class IgfsError(IgniteError, OSError):
    """An IGFS file system operation failed; the subclasses are also Python's own OSError kinds."""


class IgfsNotFoundError(IgfsError, FileNotFoundError):
    """No such file or directory."""


class IgfsExistsError(IgfsError, FileExistsError):
    """The path exists (exclusive create, mkdir)."""


class IgfsNotADirectoryError(IgfsError, NotADirectoryError):
    """A path component, or the target of a directory operation, is a file."""


class IgfsIsADirectoryError(IgfsError, IsADirectoryError):
    """A file operation on a directory."""


class IgfsDirectoryNotEmptyError(IgfsError):
    """Removing (or renaming over) a directory that has entries, without ``recursive``."""


class IgfsConflictError(IgfsError):
    """Another writer holds or changed the file; this operation lost and changed nothing."""


class IgfsCorruptError(IgfsError):
    """Stored IGFS records or blocks are not what the metadata promises."""


__all__ = [
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
    "IgfsError",
    "IgfsNotFoundError",
    "IgfsExistsError",
    "IgfsNotADirectoryError",
    "IgfsIsADirectoryError",
    "IgfsDirectoryNotEmptyError",
    "IgfsConflictError",
    "IgfsCorruptError",
]


class IgfsPluginError(IgniteError, ImportError):
    """The TensorFlow plugin for ``igfs://`` is missing, or TensorFlow would not load it."""
