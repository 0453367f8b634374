"""``igfs://`` for TensorFlow: ``tf.io.gfile``, checkpoints, SavedModels and summaries.

The plugin is the Rust core behind :mod:`ignite_fast.igfs`, so both see the same files; its settings
come from the ``IGFS_*`` environment variables and the URL's ``host:port``. Nothing registers it as a
side effect of an import: call :func:`register_igfs_filesystem` once before using ``igfs://`` paths.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ..errors import IgfsPluginError

_PLUGIN_FILE = "libignite_fast_tf_fs.so"


def igfs_plugin_path() -> str:
    """Where the TensorFlow file system plugin for ``igfs://`` is (``IGNITE_FAST_TF_PLUGIN``
    overrides; it ships next to this package's modules)."""
    return os.environ.get("IGNITE_FAST_TF_PLUGIN") or os.path.join(
        os.path.dirname(os.path.dirname(__file__)), _PLUGIN_FILE
    )


def register_igfs_filesystem() -> None:
    """Registers ``igfs://`` with TensorFlow (idempotent)."""
    if "igfs" in tf.io.gfile.get_registered_schemes():
        return
    path = igfs_plugin_path()
    if not os.path.exists(path):
        raise IgfsPluginError(
            f"the igfs:// plugin for TensorFlow is missing ({path}): reinstall ignite_fast from a wheel, or in a "
            "checkout run `make setup` (it builds it with cargo build --release -p ignite-tf-fs); "
            "IGNITE_FAST_TF_PLUGIN may point at a plugin built elsewhere"
        )
    tf.experimental.register_filesystem_plugin(path)
    if "igfs" not in tf.io.gfile.get_registered_schemes():
        raise IgfsPluginError(f"TensorFlow did not register igfs:// from {path}")
