"""The ``ignite-fast`` command: ``ignite-fast server start|stop|status|install``,
``ignite-fast fs ls|cat|put|get|rm|mv|mkdir|stat|gc`` and ``ignite-fast train``."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: ignite-fast server {install,start,stop,status} [options]\n"
            "       ignite-fast fs {ls,cat,put,get,rm,mv,mkdir,stat,gc} [options]\n"
            "       ignite-fast train --workers N [--hosts H:P,...] [--cache NAME] script.py [args]"
        )
        return 0 if argv else 2
    if argv[0] == "server":
        from . import server

        return server.main(argv[1:])
    if argv[0] == "fs":
        from . import fs_cli

        return fs_cli.main(argv[1:])
    if argv[0] == "train":
        from . import launcher

        return launcher.main(argv[1:])
    print(f"ignite-fast: unknown command {argv[0]!r} (try: ignite-fast --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
