"""``ignite-fast tensorboard --logdir igfs://host:port/logs [tensorboard options]``: TensorBoard on
event files in igfs.

Plain ``tensorboard`` stops at "Unsupported filename scheme 'igfs'": its process never registered
the plugin. This command registers it, then runs TensorBoard's own main in the same process, with
two defaults the user may override:

- ``--load_fast false``: the fast loader (TensorBoard's Rust data server) reads only local and
  ``gs://`` paths; the Python loader reads through ``tf.io.gfile``, so through the plugin.
- ``--detect_file_replacement true``: an igfs reader reads the file version it opened, and a
  running writer's flush publishes a longer one. TensorBoard otherwise keeps its reader at the end
  of the first version and never shows a live run's later steps; with this it stats the file at
  each reload and, when it grew, reopens it at the offset it had reached.
"""

from __future__ import annotations

import sys

from tensorboard import main as tensorboard_main  # type: ignore[import-untyped]

from ignite_fast.errors import IgfsPluginError

from .gfile import register_igfs_filesystem


def _given(argv: list[str], flag: str) -> str | None:
    """The value `argv` gives `flag` (``--flag value`` or ``--flag=value``), or None."""
    for i, arg in enumerate(argv):
        if arg == flag:
            return argv[i + 1] if i + 1 < len(argv) else ""
        if arg.startswith(flag + "="):
            return arg.partition("=")[2]
    return None


def tensorboard_args(argv: list[str]) -> list[str]:
    """TensorBoard's arguments: the user's, then the module's defaults for the flags they left out
    (TensorBoard refuses ``--detect_file_replacement`` with ``--load_fast true``)."""
    args = list(argv)
    load_fast = _given(argv, "--load_fast")
    if load_fast is None:
        args += ["--load_fast", "false"]
    if _given(argv, "--detect_file_replacement") is None and load_fast != "true":
        args += ["--detect_file_replacement", "true"]
    return args


def main(argv: list[str]) -> int:
    try:
        register_igfs_filesystem()
    except IgfsPluginError as e:
        print(f"ignite-fast tensorboard: {e}", file=sys.stderr)
        return 1
    # TensorBoard's main parses sys.argv (absl's app.run), and exits with TensorBoard's status.
    sys.argv = ["tensorboard", *tensorboard_args(argv)]
    tensorboard_main.run_main()
    return 0
