"""``ignite-fast fs ls|cat|put|get|rm|mv|mkdir|stat|gc``: IGFS from the shell.

Paths are ``igfs://host:port/path`` URLs or plain paths on the cluster the ``IGFS_*``
environment names (``--host``/``--port`` override it). ``put`` and ``get`` show a bar of bytes
copied on stderr when it is a terminal (``--progress``/``--no-progress`` decide otherwise)."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import sys
import time
from typing import Any, BinaryIO

from ._progress import bytes_bar
from .errors import IgniteError
from .igfs import IgfsStat, IgniteFileSystem, split_url


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ignite-fast fs", description="Files on an Ignite cluster (IGFS).")
    parser.add_argument("--host", help="node address (default: IGFS_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="thin-client port (default: IGFS_PORT or 10800)")
    parser.add_argument("--name", help="file system name (default: IGFS_FS_NAME)")
    sub = parser.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("ls", help="list a directory")
    ls.add_argument("path", nargs="?", default="/")
    ls.add_argument("-R", "--recursive", action="store_true")
    ls.add_argument("-l", "--long", action="store_true", help="kind, size and time too")
    sub.add_parser("cat", help="write a file to stdout").add_argument("path")
    sub.add_parser("stat", help="describe a path").add_argument("path")
    put = sub.add_parser("put", help="copy a local file in ('-' reads stdin)")
    put.add_argument("local")
    put.add_argument("path")
    get = sub.add_parser("get", help="copy a file out ('-' writes stdout)")
    get.add_argument("path")
    get.add_argument("local")
    for copy in (put, get):
        copy.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="a bar of bytes copied on stderr (default: when stderr is a terminal)",
        )
    rm = sub.add_parser("rm", help="remove files or directories")
    rm.add_argument("paths", nargs="+")
    rm.add_argument("-r", "--recursive", action="store_true")
    mv = sub.add_parser("mv", help="rename (replaces an existing file atomically)")
    mv.add_argument("src")
    mv.add_argument("dst")
    mkdir = sub.add_parser("mkdir", help="create directories")
    mkdir.add_argument("paths", nargs="+")
    mkdir.add_argument("-p", "--parents", action="store_true")
    gc = sub.add_parser("gc", help="delete blocks left by crashed writers and interrupted deletes")
    gc.add_argument("--older-than", type=float, default=3600.0, help="seconds without progress (default 3600)")
    gc.add_argument(
        "--orphans",
        action="store_true",
        help="also delete blocks that no file or record refers to (reads every block once)",
    )
    return parser


def _line(stat: IgfsStat, long: bool) -> str:
    if not long:
        return stat.path + ("/" if stat.is_dir else "")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stat.modified))
    return f"{'d' if stat.is_dir else '-'} {stat.size:>14} {when} {stat.path}"


def _copy(src: Any, dst: Any, chunk: int, bar: Any) -> None:
    """``shutil.copyfileobj`` that moves ``bar`` once per chunk."""
    while data := src.read(chunk):
        dst.write(data)
        bar.update(len(data))


def _local_size(file: BinaryIO) -> int | None:
    """The size of a regular local file, None for a pipe or a terminal (the bar then counts up)."""
    try:
        info = os.fstat(file.fileno())
    except (OSError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _put(fs: IgniteFileSystem, src: BinaryIO, path: str, progress: bool | None) -> None:
    with fs.open(path, "wb") as dst, bytes_bar(progress, "put", _local_size(src)) as bar:
        _copy(src, dst, fs.block_size, bar)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    first = getattr(args, "path", None) or getattr(args, "src", None) or (getattr(args, "paths", None) or [None])[0]
    url_host, url_port, _ = split_url(first) if first and "://" in first else (None, None, None)
    try:
        fs = IgniteFileSystem(args.host or url_host, args.port or url_port, name=args.name)
        if args.command == "ls":
            for stat in fs.ls(args.path, recursive=args.recursive, detail=True):
                print(_line(stat, args.long))
        elif args.command == "stat":
            print(_line(fs.stat(args.path), True))
        elif args.command == "cat":
            with fs.open(args.path, "rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer, length=fs.block_size)
            sys.stdout.buffer.flush()
        elif args.command == "put":
            if args.local == "-":
                _put(fs, sys.stdin.buffer, args.path, args.progress)
            else:
                with open(args.local, "rb") as src:
                    _put(fs, src, args.path, args.progress)
        elif args.command == "get":
            size = fs.stat(args.path).size
            with fs.open(args.path, "rb") as src, bytes_bar(args.progress, "get", size) as bar:
                if args.local == "-":
                    _copy(src, sys.stdout.buffer, fs.block_size, bar)
                    sys.stdout.buffer.flush()
                else:
                    with open(args.local, "wb") as dst:
                        _copy(src, dst, fs.block_size, bar)
        elif args.command == "rm":
            for path in args.paths:
                fs.rm(path, recursive=args.recursive)
        elif args.command == "mv":
            fs.rename(args.src, args.dst)
        elif args.command == "mkdir":
            for path in args.paths:
                fs.mkdir(path, parents=args.parents, exist_ok=args.parents)
        elif args.command == "gc":
            report = fs.gc(args.older_than, orphans=args.orphans)
            print(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in report.items()))
    except (IgniteError, OSError) as e:
        print(f"ignite-fast fs {args.command}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
