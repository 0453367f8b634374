"""Starting real Ignite nodes (ignite_fast.server, the node starter): the session node answers,
`status` from the command line, and a two-node cluster started and stopped."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

import ignite_fast
from ignite_fast.server import IgniteCluster, handshake_ok


def test_session_node_answers_handshake(cluster):
    assert handshake_ok("127.0.0.1", cluster.port)
    [row] = cluster.status()
    assert row["alive"] and row["answers"]
    assert "Ignite" in cluster.log_path(0).read_text(errors="replace")


def test_cli_status_reports_the_running_node(cluster):
    out = subprocess.run(
        [sys.executable, "-m", "ignite_fast.server", "status", "--name", "pytest"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert f"port={cluster.port}" in out.stdout and "answers=True" in out.stdout


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
        assert sum(local_counts) == 500 and all(0 < n < 500 for n in local_counts)
    assert not any(row["alive"] for row in pair.status())
