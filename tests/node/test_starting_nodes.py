"""Starting real Ignite nodes (ignite_fast.server, the node starter): the session node answers,
`status` from the command line, a two-node cluster started and stopped, a start interrupted by
Ctrl-C, and a keystore password that needs quoting in the node's XML."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ignite_fast
from ignite_fast.server import IgniteCluster, handshake_ok
from tls_fixtures import STORE_PASSWORD


def test_session_node_answers_handshake(cluster):
    assert handshake_ok("127.0.0.1", cluster.port)
    [row] = cluster.status()
    assert row["alive"]
    assert row["answers"]
    assert "Ignite" in cluster.log_path(0).read_text(errors="replace")


def test_cli_status_reports_the_running_node(cluster):
    out = subprocess.run(
        [sys.executable, "-m", "ignite_fast.server", "status", "--name", "pytest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"port={cluster.port}" in out.stdout
    assert "answers=True" in out.stdout


def test_cli_starts_the_release_it_is_given():
    """`start --version` starts that release (its jars fetched by `install --version`, which
    make setup runs for the compatibility tier's releases) and records it for `status` and `stop`."""
    older = "2.16.0"  # one of the Makefile's COMPAT_VERSIONS

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "ignite_fast.server", *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=240)

    ports = ["--port", "10875", "--discovery-port", "27575", "--communication-port", "27175"]
    started = cli(
        "start", "--version", older, "--name", "pytest-older", *ports, "--region-mb", "128", "--heap-mb", "512"
    )
    try:
        assert started.returncode == 0, started.stderr
        assert f"Ignite {older} is up" in started.stdout
        assert handshake_ok("127.0.0.1", 10875)
        cluster = IgniteCluster.load("pytest-older")
        assert cluster.version == older
        [spec] = cluster.node_specs()
        command_line = Path(f"/proc/{cluster.node_pid(spec)}/cmdline").read_bytes()
        assert f"/ignite-{older}/libs/".encode() in command_line  # the JVM runs that release's jars
    finally:
        assert cli("stop", "--name", "pytest-older").returncode == 0


def test_two_node_cluster_serves_every_entry_from_either_node(cluster):
    """Two nodes on loopback form one cluster; data put through one node is read in full
    through the other, and the partitions of a scan add up to the whole."""
    from pyignite import Client as PyIgniteClient

    pair = IgniteCluster(
        nodes=2,
        port=10870,
        discovery_port=27570,
        communication_port=27170,
        name="pytest-pair",
        region_mb=256,
        heap_mb=512,
    )
    with pair:
        assert all(row["answers"] for row in pair.status())
        writer = PyIgniteClient()
        writer.connect("127.0.0.1", 10870)
        try:
            writer.get_or_create_cache("spread").put_all({i: i * 10 for i in range(500)})
        finally:
            writer.close()
        reader = ignite_fast.Client("127.0.0.1:10871")
        keys = np.concatenate([b["key"] for b in reader.scan("spread", batch_size=128)])
        assert sorted(keys.tolist()) == list(range(500))
        # Each node holds only part of the data: local scans split the rows between them.
        local_counts = [
            sum(len(b["key"]) for b in ignite_fast.Client(addr).scan("spread", local=True)) for addr in pair.addresses
        ]
        assert sum(local_counts) == 500
        assert all(0 < n < 500 for n in local_counts)
    assert not any(row["alive"] for row in pair.status())


def _processes_with(argument: str) -> list[int]:
    """Pids of the processes whose command line has ``argument`` (a node's config file)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.fsencode(argument) in (entry / "cmdline").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:  # ended since the listing
            continue
    return found


def test_ctrl_c_during_start_stops_the_nodes_it_had_started(monkeypatch):
    """KeyboardInterrupt while the nodes come up (here, as the first readiness wait begins): the
    JVMs already started are stopped, and the interrupt goes on. The files start wrote, which
    may hold passwords, are the owner's alone."""
    cluster = IgniteCluster(
        nodes=2,
        port=10874,
        discovery_port=27574,
        communication_port=27174,
        name="pytest-interrupted",
        region_mb=128,
        heap_mb=256,
    )

    def interrupted(self, spec):
        assert all(_processes_with(str(self.config_path(s))) for s in self.node_specs())  # both JVMs run
        raise KeyboardInterrupt

    monkeypatch.setattr(IgniteCluster, "_wait_ready", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cluster.start()
    for spec in cluster.node_specs():
        assert _processes_with(str(cluster.config_path(spec))) == [], "a JVM of the interrupted start is still running"
        assert stat.S_IMODE(cluster.config_path(spec).stat().st_mode) == 0o600
    assert stat.S_IMODE((cluster.cluster_dir / "cluster.json").stat().st_mode) == 0o600
    assert not any(row["alive"] for row in cluster.status())


def test_a_node_takes_a_keystore_password_with_quotes_and_ampersands(pki, tmp_path):
    """The Spring XML quotes every attribute: a keystore password with `"`, `'`, `&`, `<` and
    `${...}` reaches the node as it is, and TLS works with it."""
    password = "q\"u'o&t<e>s ${HOME} %s"
    store = tmp_path / "server.p12"
    directory = Path(pki["server_store"]).parent
    subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-in",
            str(directory / "server.pem"),
            "-inkey",
            str(directory / "server.key"),
            "-out",
            str(store),
            "-passout",
            f"pass:{password}",
            "-name",
            "server",
        ],
        check=True,
        capture_output=True,
    )
    ssl = {
        "keystore": str(store),
        "keystore_password": password,
        "truststore": str(pki["truststore"]),
        "truststore_password": STORE_PASSWORD,
    }
    node = IgniteCluster(
        nodes=1,
        port=10876,
        discovery_port=27576,
        communication_port=27176,
        name="pytest-quoted",
        region_mb=128,
        heap_mb=256,
        ssl=ssl,
    )
    with node:
        client = ignite_fast.Client("localhost", 10876, tls=ignite_fast.TlsOptions(ca_file=pki["ca"]))
        assert client.protocol_version >= (1, 7, 0)
        assert isinstance(client.cache_names(), list)
        assert password not in repr(node)
