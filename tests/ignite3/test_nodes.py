"""Real Apache Ignite 3 nodes from the project's launcher (`python -m ignite_fast.server --ignite 3`,
`ignite_fast.server_ignite3`): a node that Ignite 3's own driver, `pyignite_dbapi`, writes to and
reads from; a two-node cluster whose partitions are spread over both nodes; `status` and `stop`
from the command line; a second `start` of a running cluster is refused; a killed node; a start
interrupted by Ctrl-C."""

from __future__ import annotations

import datetime
import decimal
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from ignite_fast.server_ignite3 import Ignite3Cluster, handshake_ok
from node_fixtures import ignite3_connect

# A separate cluster for the command-line start/stop test (the session nodes stay up).
CLI_PORT, CLI_NETWORK_PORT, CLI_REST_PORT = 10946, 3348, 10304


def server_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ignite_fast.server", *args], capture_output=True, text=True, timeout=timeout
    )


def test_the_session_node_has_started_and_answers(ignite3: Ignite3Cluster):
    [row] = ignite3.status()
    assert row["alive"], row
    assert row["answers"], row
    assert row["state"] == "STARTED", row
    assert ignite3.addresses == ["127.0.0.1:10942"]
    assert handshake_ok("127.0.0.1", ignite3.port)


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """(IPv4 address, port) of every TCP socket process `pid` listens on, from /proc."""
    sockets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:  # closed since the listing
            continue
        if target.startswith("socket:["):
            sockets.add(target[len("socket:[") : -1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # state LISTEN
                address, port = fields[1].split(":")
                v4 = address[-8:]  # IPv4, or the tail of an IPv4-mapped IPv6 address (little-endian)
                mapped = len(address) == 8 or address[:24] == "0000000000000000FFFF0000"
                dotted = ".".join(str(int(v4[i : i + 2], 16)) for i in (6, 4, 2, 0))
                found.append((dotted if mapped else address, int(port, 16)))
    return found


def test_every_port_of_the_node_is_on_loopback(ignite3: Ignite3Cluster):
    """Client, cluster network and REST: the three ports, all bound to 127.0.0.1."""
    [row] = ignite3.status()
    listening = listening_addresses(row["pid"])
    assert sorted(port for _, port in listening) == [3344, 10300, 10942], listening
    assert {address for address, _ in listening} == {"127.0.0.1"}, listening


def test_pyignite_dbapi_writes_and_reads_back_a_table_of_several_types(ignite3: Ignite3Cluster):
    rows = [
        (
            1,
            7,
            "héllo",
            2.5,
            True,
            decimal.Decimal("12.34"),
            datetime.date(2024, 2, 29),
            datetime.datetime(2024, 1, 2, 3, 4, 5),
            b"\x00\x01\xff",
            uuid.UUID("12345678-1234-5678-1234-567812345678"),
        ),
        (2, -2147483648, "", -0.0, False, decimal.Decimal("-0.01"), datetime.date(1970, 1, 1), None, b"", None),
        (3, None, None, None, None, None, None, None, None, None),
    ]
    with ignite3_connect(ignite3) as conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS NODE_TYPES")
        cur.execute(
            "CREATE TABLE NODE_TYPES (ID BIGINT PRIMARY KEY, I INT, S VARCHAR, D DOUBLE, B BOOLEAN, "
            "DEC DECIMAL(10, 2), DT DATE, TS TIMESTAMP, BIN VARBINARY(16), U UUID)"
        )
        cur.executemany("INSERT INTO NODE_TYPES VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        cur.execute("SELECT * FROM NODE_TYPES ORDER BY ID")
        assert [tuple(r) for r in cur.fetchall()] == rows
        assert [d[0] for d in cur.description] == ["ID", "I", "S", "D", "B", "DEC", "DT", "TS", "BIN", "U"]


def test_both_nodes_of_the_pair_answer_and_hold_partitions(ignite3_pair: Ignite3Cluster):
    """A zone of 8 partitions and one copy each (REPLICAS 1: Ignite 3 counts copies, not
    backups): rows written through one node are read through the other, `__part` spreads them
    over all 8 partitions, and both nodes store some of the partitions."""
    rows = 400
    assert all(row["answers"] and row["state"] == "STARTED" for row in ignite3_pair.status())
    assert ignite3_pair.addresses == ["127.0.0.1:10944", "127.0.0.1:10945"]
    import pyignite_dbapi

    first, second = (pyignite_dbapi.connect(address=[a], timeout=60) for a in ignite3_pair.addresses)
    with first, second, first.cursor() as writer, second.cursor() as reader:
        writer.execute("DROP TABLE IF EXISTS PAIR_SPREAD")
        writer.execute("DROP ZONE IF EXISTS PAIR_ZONE")
        writer.execute("CREATE ZONE PAIR_ZONE (PARTITIONS 8, REPLICAS 1) STORAGE PROFILES ['default']")
        writer.execute("CREATE TABLE PAIR_SPREAD (ID INT PRIMARY KEY, V VARCHAR) ZONE PAIR_ZONE")
        writer.executemany("INSERT INTO PAIR_SPREAD VALUES (?, ?)", [(i, f"v{i}") for i in range(rows)])
        # A read-only query on a connection that has not seen the writes' timestamp reads at
        # now - 1.5 s (idleSafeTimePropagationPeriod 1 s + maxClockSkew 0.5 s, TxManagerImpl.
        # currentReadTimestamp): without this wait it sees some rows, or no table at all.
        time.sleep(2)

        reader.execute("SELECT __part, count(*) FROM PAIR_SPREAD GROUP BY __part ORDER BY 1")
        per_partition = dict(reader.fetchall())
        assert sorted(per_partition) == list(range(8))
        assert sum(per_partition.values()) == rows
        assert min(per_partition.values()) > 0

        # (SELECT DISTINCT on this system view fails in 3.1.0: "tbl is null".)
        reader.execute("SELECT NODE_NAME FROM SYSTEM.LOCAL_PARTITION_STATES WHERE TABLE_NAME = 'PAIR_SPREAD'")
        holders = {name for (name,) in reader.fetchall()}
        assert holders == {"pytest-ignite3-pair-node0", "pytest-ignite3-pair-node1"}


def test_cli_status_finds_the_generation_from_the_cluster_name(ignite3: Ignite3Cluster):
    for args in (["--name", "pytest-ignite3"], ["--ignite", "3", "--name", "pytest-ignite3"]):
        out = server_cli("status", *args, timeout=60)
        assert out.returncode == 0, out.stderr
        assert "port=10942 state=STARTED answers=True" in out.stdout, out.stdout


def test_a_second_start_of_a_running_cluster_is_refused(ignite3: Ignite3Cluster):
    """`start` does not reuse a running cluster: it refuses, and the running one keeps answering."""
    out = server_cli("start", "--ignite", "3", "--name", "pytest-ignite3", "--port", str(ignite3.port), timeout=60)
    assert out.returncode == 1
    assert "already has running nodes [0]; stop it first" in out.stderr
    [row] = ignite3.status()
    assert row["alive"]
    assert row["answers"]


def test_cli_start_status_stop(tmp_path):
    name = "pytest-ignite3-cli"
    start = server_cli(
        "start",
        "--ignite",
        "3",
        "--name",
        name,
        "--port",
        str(CLI_PORT),
        "--network-port",
        str(CLI_NETWORK_PORT),
        "--rest-port",
        str(CLI_REST_PORT),
        "--heap-mb",
        "512",
    )
    try:
        assert start.returncode == 0, start.stderr
        assert f"Ignite 3.1.0 is up: 127.0.0.1:{CLI_PORT}" in start.stdout
        assert handshake_ok("127.0.0.1", CLI_PORT)
        status = server_cli("status", "--name", name, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "answers=True" in status.stdout, status.stdout + status.stderr
    finally:
        stop = server_cli("stop", "--name", name, timeout=120)
    assert stop.returncode == 0, stop.stderr
    assert "stopped" in stop.stdout, stop.stderr
    assert not handshake_ok("127.0.0.1", CLI_PORT)
    after = server_cli("status", "--name", name, timeout=60)
    assert after.returncode == 1
    assert "alive=False" in after.stdout


def test_options_of_the_other_generation_are_refused():
    out = server_cli("start", "--ignite", "3", "--persistence", timeout=60)
    assert out.returncode == 2
    assert "--persistence is an option of Ignite 2.x only" in out.stderr
    out = server_cli("start", "--rest-port", "10399", timeout=60)
    assert out.returncode == 2
    assert "--rest-port is an option of Ignite 3.x only" in out.stderr


def test_killing_a_node_leaves_the_other_answering(ignite3_pair: Ignite3Cluster):
    """The last test that uses the pair in this module: the next module gets a new cluster."""
    ignite3_pair.kill_node(1)
    deadline = time.monotonic() + 10  # SIGKILL is sent; the process is gone a moment later
    while (status := ignite3_pair.status())[1]["alive"] and time.monotonic() < deadline:
        time.sleep(0.1)
    first, second = status
    assert not second["alive"]
    assert first["alive"]
    assert first["answers"]


def test_ctrl_c_during_start_stops_the_node_and_its_files_are_private(monkeypatch):
    """KeyboardInterrupt while the node comes up: its JVM is stopped and the interrupt goes on.
    The HOCON and the cluster record, which hold the passwords, are the owner's alone."""
    cluster = Ignite3Cluster(
        nodes=1,
        port=10952,
        network_port=3354,
        rest_port=10310,
        name="pytest-ignite3-interrupted",
        heap_mb=512,
        username="trainer",
        password="Tr41n-Pa55",
    )
    [spec] = cluster.node_specs()
    config = os.fsencode(str(cluster.config_path(spec)))

    def jvms() -> list[str]:
        return [p.name for p in Path("/proc").glob("[0-9]*") if config in _cmdline(p)]

    def interrupted(self, spec, deadline, what, ready):
        assert jvms(), "the node's JVM is running"
        raise KeyboardInterrupt

    monkeypatch.setattr(Ignite3Cluster, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cluster.start()
    assert jvms() == []
    assert not cluster.status()[0]["alive"]
    for path in (cluster.config_path(spec), cluster.cluster_dir / "cluster.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def _cmdline(process: Path) -> list[bytes]:
    try:
        return (process / "cmdline").read_bytes().split(b"\0")
    except OSError:  # ended since the listing
        return []
