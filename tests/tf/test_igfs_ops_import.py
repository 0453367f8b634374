"""``import ignite_fast.tf.igfs_ops`` registers ``igfs://``, as the original's
``import tensorflow.contrib.ignite.python.ops.igfs_ops`` (tensorflow-io:
``tensorflow_io.ignite.python.ops.igfs_ops``) did: a fresh process that imports only that module
uses ``tf.io.gfile`` on igfs paths of the session node. Importing ``ignite_fast.tf`` alone does not."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

from ignite_fast import igfs
from node_fixtures import SESSION_PORT


def _run(script: str, fs_name: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, IGFS_PORT=str(SESSION_PORT), IGFS_FS_NAME=fs_name, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=300
    )


def test_importing_igfs_ops_registers_igfs(cluster):
    fs_name = f"t{uuid.uuid4().hex[:10]}"
    # The original's own test pattern: igfs:/// paths, the node from IGFS_HOST/IGFS_PORT.
    done = _run(
        """
        import ignite_fast.tf.igfs_ops  # noqa: F401
        import tensorflow as tf

        with tf.io.gfile.GFile("igfs:///ops/1.txt", "w") as w:
            w.write("This is row\\n" * 100)
        tf.io.gfile.rename("igfs:///ops/1.txt", "igfs:///ops/2.txt")
        print(tf.io.gfile.listdir("igfs:///ops"), len(tf.io.gfile.GFile("igfs:///ops/2.txt").readlines()))
        """,
        fs_name,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "['2.txt'] 100"
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)
    assert fs.read_bytes("/ops/2.txt") == b"This is row\n" * 100
    fs.rm("/ops", recursive=True)


def test_importing_the_tf_package_does_not_register_igfs():
    done = _run(
        """
        import ignite_fast.tf
        import tensorflow as tf

        print("igfs" in tf.io.gfile.get_registered_schemes())
        """,
        "unused",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
