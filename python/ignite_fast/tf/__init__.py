"""TensorFlow faces of ignite_fast: :class:`IgniteDataset` (a drop-in for the original
``tf.contrib.ignite.IgniteDataset``) and ``igfs://`` for ``tf.io.gfile``
(:func:`register_igfs_filesystem`; importing this package does not load the plugin)."""

from ignite_fast.errors import IgfsPluginError

from .dataset import IgniteDataset, SqlDataset
from .gfile import igfs_plugin_path, register_igfs_filesystem

__all__ = ["IgniteDataset", "SqlDataset", "IgfsPluginError", "igfs_plugin_path", "register_igfs_filesystem"]
