"""IGFS: files and directories on any Ignite 2.x cluster, kept in two ordinary caches.

Ignite removed its own IGFS in 2.9; this brings the capability back through the thin client. The
metadata cache (transactional) maps paths to entries, the data cache holds the blocks (1 MiB by
default). The same Rust core serves this module, the fsspec ``igfs://`` file system
(:mod:`ignite_fast.igfs_fsspec`) and TensorFlow's ``tf.io.gfile`` (:mod:`ignite_fast.tf`).

    >>> from ignite_fast import igfs
    >>> fs = igfs.IgniteFileSystem("127.0.0.1", 10800)      # doctest: +SKIP
    >>> fs.makedirs("/models/run1")                          # doctest: +SKIP
    >>> with fs.open("/models/run1/weights.bin", "wb") as f:  # doctest: +SKIP
    ...     f.write(b"...")

Guarantees:

- A file being written is invisible (or readers see its previous version) until ``close()``; a
  writer that fails, raises inside ``with`` (binary or text), is closed while an exception raised
  after it was opened propagates (fsspec, pandas and pyarrow close files that way), is dropped
  without ``close()``, or whose process dies publishes nothing. ``commit()`` publishes anyway.
- Two writers of one path never mix their bytes: the last to close wins (``"xb"`` fails instead if
  the file exists). An appender (``"ab"``) holds a lease on the file until it closes; a second
  appender, or a writer replacing the file meanwhile, gets :class:`IgfsConflictError`.
- ``rename`` over an existing file is atomic, and renames/deletes of directories change every
  entry in one transaction. A reader that has a file open when it is replaced or deleted gets
  :class:`IgfsConflictError` at the first block that is gone, never the other version's bytes.
- Deleting leaves no orphan blocks; :meth:`IgniteFileSystem.gc` removes what crashed writers left.

Connection settings not passed explicitly come from the environment, as with the original
TensorFlow IGFS plugin: ``IGFS_HOST`` (127.0.0.1), ``IGFS_PORT`` (10800), ``IGFS_FS_NAME`` (names
the caches: ``igfs_<name>_meta`` / ``igfs_<name>_data``; default ``igfs_meta`` / ``igfs_data``),
``IGFS_USERNAME``, ``IGFS_PASSWORD``, ``IGFS_TLS`` (``1`` for TLS), ``IGFS_CA_FILE``,
``IGFS_CERT_FILE``, ``IGFS_KEY_FILE``, ``IGFS_KEY_PASSWORD``, ``IGFS_CHECK_HOSTNAME`` (``0`` turns
the host-name check off) and ``IGFS_BLOCK_SIZE``. ``IGFS_HOST`` may list several addresses
(``node1,node2:10801``).

The environment's credentials (user, password, client certificate and key) go only to the cluster
it names: to a host ``IGFS_HOST`` lists (compared by name), on the port it gives (``IGFS_PORT`` or
``host:port``; any port when it gives none). A URL or ``host`` naming another host connects without
them (a node that wants a login then refuses it with :class:`~ignite_fast.errors.AuthenticationError`)
or with credentials passed for it explicitly. TLS trust (the CA file, the host-name check) applies
to every host. The TensorFlow plugin applies the same rule, through the same code.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, cast, overload
from urllib.parse import urlsplit

from . import _native
from ._options import ConnectionSettings, TlsOptions, parse_addresses
from .errors import (
    AuthenticationError,
    IgfsConflictError,
    IgfsCorruptError,
    IgfsDirectoryNotEmptyError,
    IgfsError,
    IgfsExistsError,
    IgfsIsADirectoryError,
    IgfsNotADirectoryError,
    IgfsNotFoundError,
    InvalidArgumentError,
)

__all__ = [
    "IgniteFileSystem",
    "IgfsStat",
    "connect",
    "open",
    "split_url",
    "IgfsError",
    "IgfsNotFoundError",
    "IgfsExistsError",
    "IgfsNotADirectoryError",
    "IgfsIsADirectoryError",
    "IgfsDirectoryNotEmptyError",
    "IgfsConflictError",
    "IgfsCorruptError",
]

DEFAULT_PORT = 10800


@dataclass(frozen=True)
class IgfsStat:
    """What :meth:`IgniteFileSystem.stat` returns."""

    path: str
    kind: str  # "file" or "directory"
    size: int
    block_size: int
    modified: float  # seconds since the epoch

    @property
    def is_dir(self) -> bool:
        return self.kind == "directory"

    @property
    def is_file(self) -> bool:
        return self.kind == "file"


def _stat(t: tuple[str, str, int, int, int]) -> IgfsStat:
    path, kind, size, block_size, modified_ms = t
    return IgfsStat(path, kind, size, block_size, modified_ms / 1000.0)


def split_url(url: str) -> tuple[str | None, int | None, str]:
    """``igfs://host:port/a/b`` -> ``("host", port, "/a/b")``; host and port are None when the URL
    does not name them (``igfs:///a/b``), and a plain path passes through."""
    if "://" not in url:
        return None, None, url or "/"
    parts = urlsplit(url)
    if parts.scheme != "igfs":
        raise InvalidArgumentError(f"not an igfs URL: {url!r}")
    return parts.hostname or None, parts.port, parts.path or "/"


class IgniteFileSystem:
    """A file system on an Ignite cluster. Thread-safe; keep one per cluster and share it."""

    def __init__(
        self,
        host: str | None = None,
        port: int | None = None,
        *,
        name: str | None = None,
        meta_cache: str | None = None,
        data_cache: str | None = None,
        username: str | None = None,
        password: str | None = None,
        tls: bool | TlsOptions | None = None,
        block_size: int | None = None,
        backups: int = 0,
        read_ahead: int = 4,
        connect_timeout: float = 10.0,
        read_timeout: float | None = 60.0,
        lease: float | None = None,
    ):
        """Connects and creates the two caches (and the root directory) if they do not exist.
        Unset arguments come from the ``IGFS_*`` environment variables (see the module docs).
        ``meta_cache``/``data_cache`` name the two caches outright (default: from ``name``);
        caches that exist already (say, configured in the nodes' XML with backups or persistence)
        are used as they are, provided the metadata cache is TRANSACTIONAL.
        ``block_size`` applies to files created from here on; ``backups`` only when this call
        creates the caches. ``lease``: seconds an appender's claim on a file lasts unrenewed.
        Credentials from the environment are used only when ``host`` is the environment's
        cluster (see the module docs)."""
        # The IGFS_* variables, read by the TF plugin's own code, which also decides what of
        # them may go to these addresses.
        env = _native.igfs_env()
        port = int(port or env["port"])
        addresses = parse_addresses(host or env["hosts"], port)
        env = _native.igfs_env(addresses)
        name = name if name is not None else env["name"]
        explicit = username is not None or password is not None
        username = username if username is not None else env["username"]
        password = password if password is not None else env["password"]
        if tls is None and env["tls"] is not None:
            tls = TlsOptions(**env["tls"])
        block_size = int(block_size or env["block_size"])  # range checked natively
        self.host, self.port, self.name = host or addresses[0].rsplit(":", 1)[0], port, name
        options: dict[str, Any] = {} if lease is None else {"lease": float(lease)}
        settings = ConnectionSettings.make(
            addresses,
            port,
            username=username,
            password=password,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tls=tls,
        )
        try:
            self._native = _native.NativeIgfs(
                settings.native_spec(),
                name,
                block_size=block_size,
                backups=int(backups),
                read_ahead=int(read_ahead),
                meta_cache=meta_cache,
                data_cache=data_cache,
                **options,
            )
        except AuthenticationError as e:
            if env["withheld"] and not explicit:
                raise AuthenticationError(
                    f"{e} (the IGFS_* credentials go only to the cluster IGFS_HOST names, "
                    f"{', '.join(env['hosts'])}; pass username= and password= for this host)"
                ) from e
            raise
        self.meta_cache, self.data_cache, self.block_size = self._native.layout()

    def __repr__(self) -> str:
        return f"IgniteFileSystem({self.host!r}, {self.port}, caches={self.meta_cache!r}/{self.data_cache!r})"

    # ---- files ----

    @overload
    def open(
        self,
        path: str,
        mode: Literal["rb"] = "rb",
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> io.BufferedReader[Any]: ...
    @overload
    def open(
        self,
        path: str,
        mode: Literal["wb", "xb", "ab"],
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> IgfsWriter: ...
    @overload
    def open(
        self,
        path: str,
        mode: Literal["r", "rt"],
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> io.TextIOWrapper: ...
    @overload
    def open(
        self,
        path: str,
        mode: Literal["w", "x", "a", "wt", "xt", "at"],
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> IgfsTextWriter: ...
    @overload
    def open(
        self,
        path: str,
        mode: str,
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> io.BufferedReader[Any] | io.TextIOWrapper | IgfsWriter | IgfsTextWriter: ...
    def open(
        self,
        path: str,
        mode: str = "rb",
        *,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        buffering: int = -1,
        makedirs: bool = False,
        autocommit: bool = True,
    ) -> io.BufferedReader[Any] | io.TextIOWrapper | IgfsWriter | IgfsTextWriter:
        """Opens a file like the built-in :func:`open`. Modes: ``rb``/``r`` (read, seekable),
        ``wb``/``w`` (create or replace on close), ``xb``/``x`` (create, fail if it exists),
        ``ab``/``a`` (append). Text modes wrap the binary file in :class:`io.TextIOWrapper`
        (:class:`IgfsTextWriter` for writing). With ``makedirs``, writing creates the missing
        directories above ``path``. With ``autocommit=False`` (fsspec's transactions), ``close()``
        stores the blocks but publishes nothing: :meth:`IgfsWriter.commit` publishes,
        :meth:`IgfsWriter.discard` drops them."""
        path = self._path(path)
        kind = mode.replace("b", "").replace("t", "")
        if kind not in ("r", "w", "x", "a") or ("b" in mode and "t" in mode) or "+" in mode:
            raise InvalidArgumentError(f"unsupported mode {mode!r}: use r, w, x or a, with b for binary")
        if kind == "r":
            raw = _RawReader(self._native.open(path), path)
            size = buffering if buffering > 0 else min(self.block_size, 1 << 20)
            reader = io.BufferedReader(raw, buffer_size=max(size, io.DEFAULT_BUFFER_SIZE))
            if "b" in mode:
                return reader
            return io.TextIOWrapper(reader, encoding=encoding or "utf-8", errors=errors, newline=newline)
        writer = IgfsWriter(self._native.create(path, kind, makedirs), path, autocommit=autocommit)
        if "b" in mode:
            return writer
        return IgfsTextWriter(writer, encoding=encoding or "utf-8", errors=errors, newline=newline)

    def read_bytes(self, path: str) -> bytes:
        with self.open(path, "rb") as f:
            return f.read()

    def write_bytes(self, path: str, data: bytes) -> None:
        with self.open(path, "wb") as f:
            f.write(data)

    def put(self, local_path: str | os.PathLike[str], path: str) -> None:
        """Copies a local file to ``path``."""
        with builtin_open(local_path, "rb") as src, self.open(path, "wb") as dst:
            shutil.copyfileobj(src, dst, length=self.block_size)

    def get(self, path: str, local_path: str | os.PathLike[str]) -> None:
        """Copies ``path`` to a local file."""
        with self.open(path, "rb") as src, builtin_open(local_path, "wb") as dst:
            shutil.copyfileobj(src, dst, length=self.block_size)

    # ---- metadata ----

    def stat(self, path: str) -> IgfsStat:
        return _stat(self._native.stat(self._path(path)))

    def exists(self, path: str) -> bool:
        return self._native.exists(self._path(path))

    def isdir(self, path: str) -> bool:
        try:
            return self.stat(path).is_dir
        except IgfsNotFoundError:
            return False

    def isfile(self, path: str) -> bool:
        try:
            return self.stat(path).is_file
        except IgfsNotFoundError:
            return False

    @overload
    def ls(self, path: str = "/", *, recursive: bool = False, detail: Literal[False] = False) -> list[str]: ...
    @overload
    def ls(self, path: str = "/", *, recursive: bool = False, detail: Literal[True]) -> list[IgfsStat]: ...
    def ls(self, path: str = "/", *, recursive: bool = False, detail: bool = False) -> list[IgfsStat] | list[str]:
        """Entries of directory ``path`` (full paths, sorted by name within a directory), or
        :class:`IgfsStat` records with ``detail=True``. ``recursive`` lists the whole subtree,
        parents before children."""
        entries = [_stat(t) for t in self._native.list(self._path(path), recursive)]
        return entries if detail else [e.path for e in entries]

    def walk(self, path: str = "/") -> Iterator[tuple[str, list[str], list[str]]]:
        """Like :func:`os.walk`: ``(directory, subdirectory names, file names)``, top down."""
        top = self.stat(path)
        if not top.is_dir:
            raise IgfsNotADirectoryError(f"not a directory: '{top.path}'")
        pending = [top.path]
        while pending:
            directory = pending.pop(0)
            try:
                children = self.ls(directory, detail=True)
            except IgfsNotFoundError:
                continue  # removed meanwhile
            dirs = [os.path.basename(c.path) for c in children if c.is_dir]
            files = [os.path.basename(c.path) for c in children if c.is_file]
            yield directory, dirs, files
            pending.extend(c.path for c in children if c.is_dir)

    def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False) -> None:
        self._native.mkdir(self._path(path), parents, exist_ok)

    def makedirs(self, path: str, exist_ok: bool = True) -> None:
        self._native.mkdir(self._path(path), True, exist_ok)

    def rm(self, path: str, *, recursive: bool = False) -> None:
        """Removes a file or empty directory; ``recursive`` removes a directory with everything
        in it, in one transaction."""
        self._native.delete(self._path(path), recursive)

    def rmdir(self, path: str) -> None:
        if not self.stat(path).is_dir:
            raise IgfsNotADirectoryError(f"not a directory: '{path}'")
        self._native.delete(self._path(path), False)

    def rename(self, src: str, dst: str) -> None:
        """Moves a file or directory; an existing file at ``dst`` is replaced atomically."""
        self._native.rename(self._path(src), self._path(dst))

    mv = rename

    def gc(self, older_than: float = 3600.0, orphans: bool = False) -> dict[str, int]:
        """Deletes blocks no file uses any more: trash left by interrupted deletes, and blocks of
        writers that made no progress for ``older_than`` seconds without closing (crashed
        processes). A file that a rename interrupted while the server committed it left under no
        name gets back the name it was moving to (``restored``). With ``orphans``, it also deletes
        the blocks of versions nothing refers to, which an overwrite or delete the server applied
        in part can leave (``orphan_blocks``); that reads every block in the data cache once.
        Returns counts of what it did."""
        trash, writers, blocks, restored, orphan_blocks = self._native.gc(float(older_than), orphans)
        return {
            "trash_records": trash,
            "abandoned_writers": writers,
            "blocks_deleted": blocks,
            "restored": restored,
            "orphan_blocks": orphan_blocks,
        }

    @staticmethod
    def _path(path: str | os.PathLike[str]) -> str:
        path = os.fspath(path)
        if not isinstance(path, str):  # a bytes path from an untyped caller
            raise InvalidArgumentError(f"an igfs path must be a string, got {type(path).__name__}")
        return split_url(path)[2]


builtin_open = open


class _RawReader(io.RawIOBase):
    """The raw, seekable side of a file opened for reading; reads land in the caller's buffer."""

    def __init__(self, native: _native.NativeFileReader, path: str):
        self._native: _native.NativeFileReader | _ClosedFile = native
        self._position = 0
        self.name = path

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._checkClosed()
        n = self._native.read_into(self._position, buffer)
        self._position += n
        return n

    def readall(self) -> bytes:
        self._checkClosed()
        data = self._native.read_bytes(self._position, max(self._native.size - self._position, 0))
        self._position += len(data)
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._checkClosed()
        if whence == io.SEEK_SET:
            position = offset
        elif whence == io.SEEK_CUR:
            position = self._position + offset
        elif whence == io.SEEK_END:
            position = self._native.size + offset
        else:
            raise InvalidArgumentError(f"invalid whence {whence}")
        if position < 0:
            raise InvalidArgumentError(f"negative seek position {position}")
        self._position = position
        return position

    def tell(self) -> int:
        return self._position

    @property
    def size(self) -> int:
        return self._native.size

    def close(self) -> None:
        if not self.closed:
            self._native = _ClosedFile()
        super().close()


class _ClosedFile:
    size = 0

    def read_into(self, offset: int, buffer: Any) -> int:
        raise ValueError("I/O operation on closed file")

    def read_bytes(self, offset: int, n: int) -> bytes:
        raise ValueError("I/O operation on closed file")


class IgfsWriter(io.RawIOBase):
    """A file opened for writing. Bytes go to the cluster in blocks as they fill; ``close()``
    publishes the file atomically. Nothing is published, and readers keep seeing the previous
    version, when the file leaves a ``with`` block through an exception, when :meth:`abort` is
    called, when it is dropped without ``close()``, or when ``close()`` is called while an
    exception raised after the file was opened propagates: fsspec's ``OpenFile``, pandas and
    pyarrow close files that way, never telling the file why. :meth:`commit` publishes even then."""

    def __init__(self, native: _native.NativeFileWriter, path: str, *, autocommit: bool = True):
        self._native = native
        self._lock = threading.Lock()
        self._finished = False  # published or aborted; IOBase.close still calls flush after that
        self._autocommit = autocommit
        # The exception being handled when the file was opened (a file may be written inside an
        # ``except`` block): only a later one means that the writing failed.
        self._handling_at_open = id(sys.exc_info()[1])
        self.name = path

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._checkClosed()
        view = memoryview(data)
        if view.format != "B":  # any bytes-like object: pyarrow's Buffer is signed ('b'), arrays are wider
            view = view.cast("B")
        with self._lock:
            return self._native.write(view)

    def tell(self) -> int:
        self._checkClosed()
        return self._native.tell()

    def flush(self) -> None:
        """Waits until the blocks written so far are stored; they stay invisible until close."""
        if not self.closed and not self._finished:
            with self._lock:
                self._native.flush()

    def sync(self) -> None:
        """Publishes what was written so far (readers opening the file now see it) and goes on
        writing; the file stays leased to this writer until close."""
        self._checkClosed()
        with self._lock:
            self._native.sync()

    def close(self) -> None:
        """Publishes the file, unless an exception raised since it was opened is propagating
        (then it aborts), or it was opened with ``autocommit=False`` (then :meth:`commit` or
        :meth:`discard` decides)."""
        if self.closed:
            return
        exception = sys.exc_info()[1]
        if exception is not None and id(exception) != self._handling_at_open:
            self.abort()
        elif self._autocommit:
            self.commit()
        else:
            super().close()  # flushes: the blocks are stored, and wait for commit()

    def commit(self) -> None:
        """Publishes what was written and closes the file (also after a deferred ``close()``);
        nothing happens to a file already published or aborted."""
        try:
            with self._lock:
                if not self._finished:
                    self._finished = True
                    self._native.close()
        finally:
            super().close()

    def abort(self) -> None:
        """Drops everything written since the last publish and closes the file."""
        with self._lock:
            if not self._finished:
                self._finished = True
                self._native.abort()
        super().close()

    discard = abort  # fsspec's name, called when a transaction fails

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def __del__(self) -> None:
        # Garbage-collected without close(): publish nothing (the native writer aborts on drop).
        pass


class IgfsTextWriter(io.TextIOWrapper):
    """A text file opened for writing, over an :class:`IgfsWriter`: it publishes and aborts as the
    binary file does (an exception leaving ``with`` aborts, text still buffered included)."""

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()

    def abort(self) -> None:
        """Drops everything written since the last publish (buffered text too) and closes."""
        cast(IgfsWriter, self.buffer).abort()

    def commit(self) -> None:
        """Publishes what was written, buffered text included, and closes."""
        if not self.closed:
            self.flush()
        cast(IgfsWriter, self.buffer).commit()

    def __del__(self) -> None:
        # As the binary file: dropped without close(), it publishes nothing. (TextIOWrapper's
        # own finalizer would close, and so publish.)
        pass


_shared: dict[tuple[Any, ...], IgniteFileSystem] = {}
_shared_lock = threading.Lock()


def connect(url: str | None = None, **kwargs: Any) -> IgniteFileSystem:
    """The file system an ``igfs://host:port/...`` URL names (one shared instance per host, port
    and settings); without a URL, the one the ``IGFS_*`` environment describes."""
    host, port, _ = split_url(url or "igfs:///")
    env = _native.igfs_env()
    key = (host or env["host"], port or env["port"], env["name"], tuple(sorted(kwargs.items())))
    with _shared_lock:
        fs = _shared.get(key)
        if fs is None:
            fs = _shared[key] = IgniteFileSystem(host, port, **kwargs)
        return fs


# The file type follows the mode, as IgniteFileSystem.open says; this one mirrors the built-in on purpose.
def open(
    url: str, mode: str = "rb", **kwargs: Any
) -> io.BufferedReader[Any] | io.TextIOWrapper | IgfsWriter | IgfsTextWriter:
    """Opens ``igfs://host:port/path`` (or a bare path on the ``IGFS_*`` cluster)."""
    return connect(url).open(url, mode, **kwargs)
