"""The smoke suite's node, started by the installed package, never by the checkout's fixtures.

The suite tests what ``pip install`` gives a user, so it imports nothing from a checkout: no
``tests/`` fixtures, no ``python/`` on ``sys.path`` (``test_installed.py`` checks where
``ignite_fast`` comes from). ``tests/smoke/run.sh`` copies it out of the checkout, starts one node
with the installed package (``python -m ignite_fast.server install`` and ``start``) and gives its
port in ``IGNITE_FAST_SMOKE_PORT``; without that variable the suite starts and stops a node the
same way itself (``pytest`` in a venv holding the wheel).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

PORT = 10960
NODE = ["--name", "smoke"]
NODE_PORTS = ["--port", str(PORT), "--discovery-port", "27660", "--communication-port", "27260"]


def server(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ignite_fast.server", *args], check=True)


@pytest.fixture(scope="session")
def port():
    if "IGNITE_FAST_SMOKE_PORT" in os.environ:
        yield int(os.environ["IGNITE_FAST_SMOKE_PORT"])
        return
    server("install")
    server("start", *NODE, *NODE_PORTS)
    try:
        yield PORT
    finally:
        server("stop", *NODE)


@pytest.fixture(scope="session", autouse=True)
def fs_name() -> str:
    """A file system of this run's own: runs on several Python versions share one node. The TF
    plugin, fsspec and the CLI (a subprocess, which inherits it) find it through IGFS_FS_NAME."""
    name = f"smoke{uuid.uuid4().hex[:10]}"
    os.environ["IGFS_FS_NAME"] = name
    return name


@pytest.fixture
def cache() -> str:
    """A fresh cache name."""
    return f"smoke_{uuid.uuid4().hex[:10]}"


PORT3 = 10966
NODE3 = ["--ignite", "3", "--name", "smoke3"]
NODE3_PORTS = ["--port", str(PORT3), "--network-port", "3366", "--rest-port", "10316", "--heap-mb", "768"]


@pytest.fixture(scope="session")
def port3():
    """The Ignite 3 node's client port (``IGNITE_FAST_SMOKE3_PORT``, else one started here)."""
    if "IGNITE_FAST_SMOKE3_PORT" in os.environ:
        yield int(os.environ["IGNITE_FAST_SMOKE3_PORT"])
        return
    server("install", "--ignite", "3")
    server("start", *NODE3, *NODE3_PORTS)
    try:
        yield PORT3
    finally:
        server("stop", *NODE3)
