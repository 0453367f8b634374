"""The ``ignite-fast`` command: ``ignite-fast server start|stop|status|install`` and
``ignite-fast fs ls|cat|put|get|rm|mv|mkdir|stat|gc`` and ``ignite-fast tensorboard --logdir igfs://...``
(TensorBoard on event files in igfs). (``ignite-fast train`` is retired:
torchrun, Ray or Kubernetes start and restart the workers; see :mod:`ignite_fast.distributed`.)"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            "usage: ignite-fast server {install,start,stop,status} [options]\n"
            "       ignite-fast fs {ls,cat,put,get,rm,mv,mkdir,stat,gc} [options]\n"
            "       ignite-fast tensorboard --logdir igfs://host:port/logs [tensorboard options]"
        )
        return 0 if argv else 2
    if argv[0] == "server":
        from . import server

        return server.main(argv[1:])
    if argv[0] == "fs":
        from . import fs_cli

        return fs_cli.main(argv[1:])
    if argv[0] == "tensorboard":
        try:
            from .tf import tensorboard_cli
        except ModuleNotFoundError as e:
            if e.name not in ("tensorflow", "tensorboard"):
                raise
            print(f"ignite-fast tensorboard needs {e.name}: pip install ignite_fast[tf]", file=sys.stderr)
            return 2
        return tensorboard_cli.main(argv[1:])
    if argv[0] == "train":
        print(
            "ignite-fast train is retired: start the workers with torchrun (or Ray, or Kubernetes), e.g.\n"
            "  TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 torchrun --standalone --nproc-per-node=2 --max-restarts=3 "
            "script.py ...\n"
            "ignite_fast.distributed gives each worker its home node, the agreed shard plan and "
            "TopologyChangedError (see the README, 'Running on many machines').",
            file=sys.stderr,
        )
        return 2
    print(f"ignite-fast: unknown command {argv[0]!r} (try: ignite-fast --help)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
