"""Test fixtures: one real Ignite node for the whole session, started by the project's launcher.

If the node cannot start, every test that needs it fails with the node's log: nothing skips.
The session node uses its own ports (client 10850) so that it never meets a node of `make demo`.
"""

from __future__ import annotations

import os
import uuid

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ignite_fast.server import IgniteCluster  # noqa: E402

SESSION_PORT = 10850


def started(cluster: IgniteCluster) -> IgniteCluster:
    """Starts a cluster for a fixture; if it cannot start, the test fails with the node's log
    (never skips)."""
    try:
        return cluster.start()
    except Exception as e:
        pytest.fail(f"could not start Ignite cluster '{cluster.name}': {e}", pytrace=False)


@pytest.fixture(scope="session")
def cluster():
    node = started(IgniteCluster(nodes=1, port=SESSION_PORT, discovery_port=27550, communication_port=27150,
                                 name="pytest", region_mb=1536, heap_mb=1024))
    yield node
    node.stop()


@pytest.fixture(scope="session")
def address(cluster) -> str:
    return cluster.addresses[0]


@pytest.fixture
def client(cluster):
    import ignite_fast

    return ignite_fast.Client("127.0.0.1", SESSION_PORT)


def _pyignite(compact_footer: bool):
    from pyignite import Client as PyIgniteClient

    c = PyIgniteClient(compact_footer=compact_footer)
    c.connect("127.0.0.1", SESSION_PORT)
    return c


@pytest.fixture(scope="session")
def pyignite_client(cluster):
    """pyignite 0.6.1: an independent writer, the oracle for what we decode."""
    c = _pyignite(compact_footer=True)
    yield c
    c.close()


@pytest.fixture(scope="session")
def pyignite_full_footer(cluster):
    c = _pyignite(compact_footer=False)
    yield c
    c.close()


@pytest.fixture
def cache_name() -> str:
    """A fresh cache name per test."""
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def java_fixture(cluster, tmp_path_factory):
    """Compiles tests/java/AllTypesFixture.java against the node's own Ignite jars and returns a
    function that runs it: it puts `rows` objects with a field of every type into `cache` through
    Ignite's Java thin client (Ignite's marshaller writes them) and returns what it wrote, per key."""
    import json
    import subprocess
    from pathlib import Path

    from ignite_fast.server import JAVA_MODULE_FLAGS, libs_dir

    source = Path(__file__).parent / "java" / "AllTypesFixture.java"
    classes = tmp_path_factory.mktemp("java-fixture")
    classpath = f"{libs_dir(cluster.version)}/*"
    compiled = subprocess.run(["javac", "-cp", classpath, "-d", str(classes), str(source)],
                              capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, f"javac failed:\n{compiled.stderr}"

    def run(cache: str, rows: int) -> dict[int, dict]:
        proc = subprocess.run(
            ["java", *JAVA_MODULE_FLAGS, "-cp", f"{classes}:{classpath}", "AllTypesFixture",
             cluster.addresses[0], cache, str(rows)],
            capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"the Java fixture failed:\n{proc.stderr[-4000:]}"
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        assert len(records) == rows
        return {r["key"]: r for r in records}

    return run
