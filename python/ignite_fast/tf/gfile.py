"""``igfs://`` for TensorFlow: ``tf.io.gfile``, checkpoints, SavedModels and summaries.

The plugin is the Rust core behind :mod:`ignite_fast.igfs`, so both see the same files; its settings
come from the ``IGFS_*`` environment variables and the URL's ``host:port``. It lives in the
extension module itself (``ignite_fast._native`` also exports TensorFlow's ``TF_InitPlugin``), so
every install that can import ``ignite_fast`` has it. Nothing registers it as a side effect of an
import: call :func:`register_igfs_filesystem` once before using ``igfs://`` paths.
"""

from __future__ import annotations

import os

import tensorflow as tf

from ignite_fast import _native
from ignite_fast.errors import IgfsPluginError


def igfs_plugin_path() -> str:
    """The shared object TensorFlow loads for ``igfs://``: the extension module's own file
    (``IGNITE_FAST_TF_PLUGIN`` overrides it)."""
    return os.environ.get("IGNITE_FAST_TF_PLUGIN") or _native.__file__


def register_igfs_filesystem() -> None:
    """Registers ``igfs://`` with TensorFlow (idempotent)."""
    if "igfs" in tf.io.gfile.get_registered_schemes():
        return
    path = igfs_plugin_path()
    if not os.path.exists(path):
        raise IgfsPluginError(f"the igfs:// plugin for TensorFlow is missing: IGNITE_FAST_TF_PLUGIN names {path}")
    try:
        tf.experimental.register_filesystem_plugin(path)
    except tf.errors.OpError as e:
        raise IgfsPluginError(
            f"TensorFlow could not load the igfs:// plugin from {path} ({e.message}); in a checkout, "
            "`make setup` rebuilds the extension"
        ) from e
    if "igfs" not in tf.io.gfile.get_registered_schemes():
        raise IgfsPluginError(f"TensorFlow did not register igfs:// from {path}")
