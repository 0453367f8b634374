"""Real Ignite nodes for the tests (a pytest plugin that tests/conftest.py loads; benches/conftest.py
reuses `started` and `session_cluster` with its own ports and sizes).

Every test tier meets the same nodes: one session node (client port 10850, never the 10800 of
`make demo`), one three-node cluster, and one node with authentication. Ignite 3 has its own: one
session node (`ignite3`, client port 10942), a two-node cluster (`ignite3_pair`, 10944-10945) and
a node with authentication and TLS (`ignite3_secure`, 10948).
If a node cannot start, every test that needs it fails with the node's log: nothing skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import TypeVar

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ignite_fast.server import IGNITE_VERSION, JAVA_MODULE_FLAGS, IgniteCluster, libs_dir
from ignite_fast.server_ignite3 import Ignite3Cluster

_Cluster = TypeVar("_Cluster", IgniteCluster, Ignite3Cluster)

SESSION_PORT = 10850
TRIO_PORT = 10910
AUTH_PORT = 10880
# Ignite 3: client ports (network 3344+, REST 10300+: Ignite 3's own defaults, unused by 2.x).
IGNITE3_PORT = 10942
IGNITE3_PAIR_PORT = 10944
IGNITE3_SECURE_PORT = 10948
# The one user of the secure Ignite 3 node (WRONG_PASSWORD is refused there too).
IGNITE3_USER, IGNITE3_PASSWORD = "trainer", "Tr41n-Pa55"
# A password the authenticating node refuses (the right one is ignite/ignite).
WRONG_PASSWORD = "s3cr3t-Pa55"
# Rows of the Java-written cache of every type (tests/java/AllTypesFixture.java).
JAVA_ROWS = 12
# The Ignite 2.x version of the session nodes: the launcher's pin, or an older version that the
# compatibility tier of `make test` runs part of the suite against (Makefile: test-compat).
IGNITE2_VERSION = os.environ.get("IGNITE_FAST_TEST_IGNITE_VERSION", IGNITE_VERSION)
# Apart from the pin's nodes: a node's work directory is kept by name, and its format by version.
NAME_SUFFIX = "" if IGNITE2_VERSION == IGNITE_VERSION else f"-{IGNITE2_VERSION}"


def started(cluster: _Cluster) -> _Cluster:
    """Starts a cluster (Ignite 2.x or 3.x) for a fixture; if it cannot start, the test fails with
    the node's log (never skips)."""
    try:
        return cluster.start()
    except Exception as e:
        pytest.fail(f"could not start Ignite cluster '{cluster.name}': {e}", pytrace=False)


def session_cluster(kind: type[IgniteCluster] | type[Ignite3Cluster] = IgniteCluster, **settings):
    """A session fixture that starts `kind(**settings)` on first use and stops it at the end of the
    session. Assign it to the fixture's name: `cluster = session_cluster(port=...)`."""

    def nodes():
        cluster = started(kind(**settings))
        yield cluster
        cluster.stop()

    return pytest.fixture(scope="session")(nodes)


cluster = session_cluster(
    nodes=1,
    port=SESSION_PORT,
    discovery_port=27550,
    communication_port=27150,
    name=f"pytest{NAME_SUFFIX}",
    version=IGNITE2_VERSION,
    # Every cache takes a few MB of the region for its 1024 partitions, empty or not, and a
    # session makes a few hundred: 1.5 GB ran out (IgniteOutOfMemoryException on a cache's
    # creation). Tests that make a file system a test drop its caches (`igfs_name`).
    region_mb=3072,
    heap_mb=1024,
)

trio_nodes = session_cluster(
    nodes=3,
    port=TRIO_PORT,
    discovery_port=27610,
    communication_port=27210,
    name=f"pytest-trio{NAME_SUFFIX}",
    version=IGNITE2_VERSION,
    region_mb=256,
    heap_mb=512,
)

secured = session_cluster(
    nodes=1,
    port=AUTH_PORT,
    discovery_port=27580,
    communication_port=27180,
    name=f"pytest-auth{NAME_SUFFIX}",
    version=IGNITE2_VERSION,
    region_mb=256,
    heap_mb=512,
    persistence=True,
    authentication=True,
)


@pytest.fixture(scope="module")
def trio(trio_nodes: IgniteCluster) -> IgniteCluster:
    """The three-node cluster, every node up. A module that kills a node does it in its last
    test; the next module that asks for the trio gets it started again (empty: no persistence)."""
    if not all(node["alive"] for node in trio_nodes.status()):
        trio_nodes.stop()
        started(trio_nodes)
    return trio_nodes


# Ignite 3.1.0 nodes: about 15 s to start and initialise, about 350 MB resident each when idle.
ignite3 = session_cluster(
    Ignite3Cluster,
    nodes=1,
    port=IGNITE3_PORT,
    network_port=3344,
    rest_port=10300,
    name="pytest-ignite3",
    heap_mb=1536,  # every Ignite 3 module's tables live here for the whole session
    storage_mb=512,
)

ignite3_pair_nodes = session_cluster(
    Ignite3Cluster,
    nodes=2,
    port=IGNITE3_PAIR_PORT,
    network_port=3346,
    rest_port=10302,
    name="pytest-ignite3-pair",
    heap_mb=768,
    storage_mb=256,
)


@pytest.fixture(scope="module")
def ignite3_pair(ignite3_pair_nodes: Ignite3Cluster) -> Ignite3Cluster:
    """The two-node Ignite 3 cluster, both nodes up (for partition-parallel reads). A module that
    kills a node (`kill_node(1)`: node 0 holds the meta storage) does it in its last test; the
    next module that asks for the pair gets a new, empty cluster."""
    if not all(node["alive"] for node in ignite3_pair_nodes.status()):
        ignite3_pair_nodes.stop()
        started(ignite3_pair_nodes)
    return ignite3_pair_nodes


@pytest.fixture(scope="session")
def ignite3_secure(pki):
    """An Ignite 3 node with basic authentication (IGNITE3_USER / IGNITE3_PASSWORD) and TLS on its
    client port: the certificate of tests/tls_fixtures.py's `pki`, which names "localhost" only."""
    from tls_fixtures import STORE_PASSWORD  # imported here: tls_fixtures imports this module

    ssl = {"keystore": str(pki["server_store"]), "keystore_password": STORE_PASSWORD}
    cluster = started(
        Ignite3Cluster(
            nodes=1,
            port=IGNITE3_SECURE_PORT,
            network_port=3350,
            rest_port=10306,
            name="pytest-ignite3-secure",
            heap_mb=512,
            storage_mb=128,
            username=IGNITE3_USER,
            password=IGNITE3_PASSWORD,
            ssl=ssl,
        )
    )
    yield cluster
    cluster.stop()


def ignite3_connect(cluster: Ignite3Cluster, *, autocommit: bool = True):
    """A `pyignite_dbapi` connection (Ignite 3's own DB-API driver, the independent writer and
    oracle) to every node of `cluster`.

    For a transaction pass `autocommit=False` here; never set `conn.autocommit` afterwards: in
    pyignite_dbapi 3.1.0 that setter lets a connection error escape its C++ code, which calls
    std::terminate and aborts the whole test process (seen in CI), where `connect` and the
    cursor's calls raise a Python exception."""
    import pyignite_dbapi

    return pyignite_dbapi.connect(address=cluster.addresses, timeout=60, autocommit=autocommit)


def read3(cluster: Ignite3Cluster, query: str, args: tuple = ()) -> list[tuple]:
    """The oracle's read, in a read-write transaction: it sees every committed write. (An
    implicit read-only query of another client reads slightly in the past, as of its own
    observable timestamp, and may miss writes acknowledged a moment ago.)

    A connection the driver loses is tried once more on a new one: the oracle's own transport
    is not what the tests check (one CI run lost it once, right after connecting)."""
    import pyignite_dbapi

    try:
        return _read3_once(cluster, query, args)
    except pyignite_dbapi.Error as error:
        if "connection" not in str(error).lower():
            raise
    return _read3_once(cluster, query, args)


def _read3_once(cluster: Ignite3Cluster, query: str, args: tuple) -> list[tuple]:
    with ignite3_connect(cluster, autocommit=False) as conn:
        with conn.cursor() as cur:
            cur.execute(query, args)
            rows = [tuple(r) for r in cur.fetchall()]
        conn.rollback()
        return rows


def put_numbers(port: int, cache_name: str, rows: int, backups: int, value=lambda key: key) -> None:
    """Creates `cache_name` with `backups` backup copies and puts keys 0..rows-1 with
    `value(key)`, written by pyignite (Python ints: Java longs)."""
    from pyignite import Client as PyIgniteClient
    from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_NAME

    writer = PyIgniteClient()
    writer.connect("127.0.0.1", port)
    cache = writer.get_or_create_cache({PROP_NAME: cache_name, PROP_BACKUPS_NUMBER: backups})
    for start in range(0, rows, 5000):
        cache.put_all({i: value(i) for i in range(start, min(start + 5000, rows))})
    writer.close()


def put_numbers3(cluster: Ignite3Cluster, table: str, rows: int) -> None:
    """(Re)creates Ignite 3 table `table (ID INT PRIMARY KEY, V BIGINT)` with IDs 0..rows-1 and
    V = 7 * ID, written by pyignite_dbapi: put_numbers' counterpart."""
    with ignite3_connect(cluster) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(f"CREATE TABLE {table} (ID INT PRIMARY KEY, V BIGINT)")
        cur.executemany(f"INSERT INTO {table} VALUES (?, ?)", [(i, i * 7) for i in range(rows)])


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
def igfs_name(pyignite_client):
    """A fresh igfs file system name for one test; its two caches are destroyed afterwards."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    for cache in (f"igfs_{name}_meta", f"igfs_{name}_data"):
        if cache in pyignite_client.get_cache_names():
            pyignite_client.get_cache(cache).destroy()


@pytest.fixture
def cache_name() -> str:
    """A fresh cache name per test."""
    return f"t_{uuid.uuid4().hex[:12]}"


def compiled_java(cluster, tmp_path_factory, program: str):
    """Compiles tests/java/<program>.java against the node's own Ignite jars and returns a function
    that runs it with arguments (the node's address first) and returns the JSON records it printed,
    per key. The programs write through Ignite's Java thin client: Ignite's own marshaller writes
    the objects."""
    source = Path(__file__).parent / "java" / f"{program}.java"
    classes = tmp_path_factory.mktemp(f"java-{program}")
    classpath = f"{libs_dir(cluster.version)}/*"
    compiled = subprocess.run(
        ["javac", "-cp", classpath, "-d", str(classes), str(source)], capture_output=True, text=True, timeout=300
    )
    assert compiled.returncode == 0, f"javac failed:\n{compiled.stderr}"

    def run(*args: str) -> dict[int, dict]:
        command = ["java", *JAVA_MODULE_FLAGS, "-cp", f"{classes}:{classpath}", program, cluster.addresses[0], *args]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, f"the Java fixture failed:\n{proc.stderr[-4000:]}"
        records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        assert records, f"the Java fixture printed nothing:\n{proc.stdout[-2000:]}"
        return {r["key"]: r for r in records}

    return run


@pytest.fixture(scope="session")
def java_fixture(cluster, tmp_path_factory):
    """A function `run(cache, rows)` that puts `rows` objects with a field of every type into
    `cache` (tests/java/AllTypesFixture.java) and returns what it wrote, per key."""
    program = compiled_java(cluster, tmp_path_factory, "AllTypesFixture")

    def run(cache: str, rows: int) -> dict[int, dict]:
        written = program(cache, str(rows))
        assert len(written) == rows
        return written

    return run


@pytest.fixture(scope="session")
def java_all_types(java_fixture) -> tuple[str, dict[int, dict]]:
    """The cache `java_all_types`: JAVA_ROWS objects of every type written by Java, and what the
    fixture says it wrote, per key."""
    return "java_all_types", java_fixture("java_all_types", JAVA_ROWS)


@pytest.fixture(scope="session")
def java_shared_graphs(cluster, tmp_path_factory):
    """A function `run(cache, shape)` that puts objects whose fields refer to the same child into
    `cache` (tests/java/SharedGraphFixture.java: its marshaller writes the handles) and returns
    what the fixture printed, per key: the expected tree for shape "shared", the levels for "deep"
    and "wide"."""
    return compiled_java(cluster, tmp_path_factory, "SharedGraphFixture")


@pytest.fixture(scope="session")
def readings(pyignite_client) -> str:
    """The SQL table READINGS: 250 rows of int, varchar, double, boolean, decimal (every tenth
    NULL) and timestamp columns."""
    pyignite_client.sql("DROP TABLE IF EXISTS READINGS")
    pyignite_client.sql(
        "CREATE TABLE READINGS (ID INT PRIMARY KEY, SENSOR VARCHAR, TEMP DOUBLE, OK BOOLEAN, "
        "AMOUNT DECIMAL(12, 3), AT TIMESTAMP)"
    )
    for i in range(250):
        amount = "NULL" if i % 10 == 0 else f"{i}.125"
        pyignite_client.sql(
            f"INSERT INTO READINGS (ID, SENSOR, TEMP, OK, AMOUNT, AT) VALUES ({i}, 's{i % 7}', "
            f"{i / 4}, {str(i % 3 == 0).upper()}, {amount}, "
            f"TIMESTAMP '2024-01-02 03:04:{i % 60:02d}.5')"
        )
    return "READINGS"
