"""The node starter (ignite_fast.server) without starting a node: the configuration it writes
and the command line's dispatch to it."""

from __future__ import annotations

from ignite_fast.server import IgniteCluster


def test_cli_entry_point_dispatches_to_server():
    from ignite_fast.cli import main

    assert main(["server", "status", "--name", "no-such-cluster"]) == 1


def test_config_binds_loopback_only():
    xml = IgniteCluster(nodes=2).node_config(IgniteCluster(nodes=2).node_specs()[1])
    assert "127.0.0.1:27500" in xml
    assert "127.0.0.1:27501" in xml
    assert '"localHost" value="127.0.0.1"' in xml
    assert '"port" value="10801"' in xml
