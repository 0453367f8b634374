"""``import ignite_fast.tf.igfs_ops`` registers ``igfs://`` with TensorFlow, as importing the
original's igfs ops module did (``tensorflow.contrib.ignite.python.ops.igfs_ops`` in TensorFlow 1.x,
``tensorflow_io.ignite.python.ops.igfs_ops`` in tensorflow-io). Registering is this module's whole
purpose; nothing else imports it, so ``IgniteDataset`` still never loads the plugin. The same as
calling :func:`ignite_fast.tf.register_igfs_filesystem` once.
"""

from __future__ import annotations

from .gfile import register_igfs_filesystem

register_igfs_filesystem()
