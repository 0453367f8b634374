"""fsspec file system for ``igfs://`` URLs, registered through the ``fsspec.specs`` entry point.

    >>> import fsspec, pandas as pd                                  # doctest: +SKIP
    >>> with fsspec.open("igfs://127.0.0.1:10800/data/x.csv", "w") as f:
    ...     f.write("a,b\\n1,2\\n")
    >>> pd.read_csv("igfs://127.0.0.1:10800/data/x.csv")

pandas, dask and pyarrow (through ``pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(fs))``)
read and write igfs paths this way. The host and port come from the URL, else from the
``IGFS_*`` environment (see :mod:`ignite_fast.igfs`); the environment's credentials go only to
its own cluster, and storage options (``username=``, ``password=``, ``tls=``) give them for
another. Writes publish atomically on close; a write that raises publishes nothing.
"""

from __future__ import annotations

import datetime
import io
import posixpath
import shutil
from glob import has_magic
from typing import Any

from fsspec import AbstractFileSystem

from .errors import IgfsNotFoundError
from .igfs import IgfsStat, IgfsTextWriter, IgfsWriter, IgniteFileSystem, split_url


class IgfsFileSystem(AbstractFileSystem):  # type: ignore[misc]  # fsspec has no type hints: its base class is Any
    protocol = "igfs"
    root_marker = "/"

    def __init__(self, host: str | None = None, port: int | None = None, **kwargs: Any):
        """``kwargs`` are those of :class:`ignite_fast.igfs.IgniteFileSystem` (name, username,
        password, tls, block_size, ...), plus fsspec's own (``skip_instance_cache``...)."""
        fsspec_keys = {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths"}
        own = {k: v for k, v in kwargs.items() if k not in fsspec_keys}
        super().__init__(host=host, port=port, **kwargs)
        self.igfs = IgniteFileSystem(host, port, **own)

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        """A path, or a list of paths as fsspec sometimes hands over, without ``igfs://host:port``."""
        if isinstance(path, list):
            return [cls._strip_path(p) for p in path]
        return cls._strip_path(path)

    @staticmethod
    def _strip_path(url: object) -> str:
        path = split_url(str(url))[2]
        if not path.startswith("/"):
            path = "/" + path
        return path.rstrip("/") or "/"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        host, port, _ = split_url(path)
        out: dict[str, Any] = {}
        if host:
            out["host"] = host
        if port:
            out["port"] = port
        return out

    def unstrip_protocol(self, name: str) -> str:
        return f"igfs://{self.igfs.host}:{self.igfs.port}{name}"

    @staticmethod
    def _entry(stat: IgfsStat) -> dict[str, Any]:
        return {
            "name": stat.path,
            "size": stat.size,
            "type": stat.kind,
            "mtime": stat.modified,
            "block_size": stat.block_size,
        }

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self._entry(self.igfs.stat(self._strip_path(path)))

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[dict[str, Any]] | list[str]:
        path = self._strip_path(path)
        stat = self.igfs.stat(path)
        entries = [stat] if stat.is_file else self.igfs.ls(path, detail=True)
        return [self._entry(e) for e in entries] if detail else [e.path for e in entries]

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: int | None = None,
        autocommit: bool = True,
        cache_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> io.BufferedReader[Any] | io.TextIOWrapper | IgfsWriter | IgfsTextWriter:
        """A file of ``ignite_fast.igfs``. A writer publishes on close, unless an exception raised
        since it was opened propagates (fsspec's ``OpenFile.__exit__`` closes without saying
        why): then it aborts. In ``fs.transaction`` (``autocommit=False``) it publishes when the
        transaction ends without an exception, and drops its blocks otherwise."""
        path = self._strip_path(path)
        if "r" in mode:
            return self.igfs.open(path, mode)
        # fsspec writes create parents, as on object stores, so pandas and pyarrow can write to a
        # new prefix.
        return self.igfs.open(path, mode, makedirs=True, autocommit=autocommit)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        self.igfs.mkdir(self._strip_path(path), parents=create_parents, exist_ok=False)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        self.igfs.makedirs(self._strip_path(path), exist_ok=exist_ok)

    def rmdir(self, path: str) -> None:
        self.igfs.rmdir(self._strip_path(path))

    def _rm(self, path: str) -> None:
        self.igfs.rm(self._strip_path(path))

    def rm_file(self, path: str) -> None:
        self.igfs.rm(self._strip_path(path))

    def rm(self, path: str | list[str], recursive: bool = False, maxdepth: int | None = None) -> None:
        """Removes each path; ``recursive`` removes a directory tree in one transaction."""
        paths = path if isinstance(path, list) else [path]
        for p in paths:
            for match in self.expand_path(p) if any(c in p for c in "*?[") else [p]:
                try:
                    self.igfs.rm(self._strip_path(match), recursive=recursive)
                except IgfsNotFoundError:
                    if len(paths) == 1 and match == p:
                        raise

    def mv(
        self, path1: str | list[str], path2: str, recursive: bool = False, maxdepth: int | None = None, **kwargs: Any
    ) -> None:
        """Moves one file or directory by an atomic rename (replacing an existing file at
        ``path2``); into ``path2`` when that is an existing directory, as fsspec's other file
        systems do. Lists and globs go through fsspec's copy-then-delete."""
        if not isinstance(path1, str) or not isinstance(path2, str) or has_magic(path1):
            super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)
            return
        source, target = self._strip_path(path1), self._strip_path(path2)
        if target != source and (path2.endswith("/") or self.igfs.isdir(target)):
            target = posixpath.join(target, posixpath.basename(source))
        self.igfs.rename(source, target)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copies one file; a directory (fsspec lists them among the paths of a recursive copy)
        becomes a directory at ``path2``, so empty directories are copied too."""
        source = self.igfs.stat(self._strip_path(path1))
        if source.is_dir:
            self.igfs.makedirs(self._strip_path(path2), exist_ok=True)
            return
        target = self._strip_path(path2)
        with self.igfs.open(source.path, "rb") as src, self.igfs.open(target, "wb", makedirs=True) as dst:
            shutil.copyfileobj(src, dst, length=self.igfs.block_size)

    def created(self, path: str) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.info(path)["mtime"], tz=datetime.UTC)

    modified = created
