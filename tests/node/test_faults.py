"""Faults that must end in a typed error, promptly: a node killed mid-scan, and many scans at once
leaking nothing. (Faults with no node at all: tests/unit/test_connect_faults.py.)"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import ignite_fast


def test_credentials_never_appear_in_repr(cluster):
    client = ignite_fast.Client(cluster.addresses[0])
    assert "password" not in repr(client)


def test_node_killed_in_the_middle_of_a_scan_then_restarted(pyignite_client):
    """SIGKILL the node between pages: the iterator raises a connection error within its read
    timeout instead of hanging or returning a short result as if complete. Once the node is
    back, the same client carries on: the idle connections it kept to the dead node are
    noticed and replaced, not handed to the next request."""
    from pyignite import Client as PyIgniteClient

    from ignite_fast.server import IgniteCluster
    from node_fixtures import started

    victim = started(
        IgniteCluster(
            nodes=1,
            port=10890,
            discovery_port=27590,
            communication_port=27190,
            name="pytest-victim",
            region_mb=256,
            heap_mb=512,
        )
    )
    try:
        writer = PyIgniteClient()
        writer.connect("127.0.0.1", 10890)
        writer.get_or_create_cache("doomed").put_all({i: i for i in range(5000)})
        writer.close()
        client = ignite_fast.Client(victim.addresses[0], read_timeout=3)
        # Two scans at once leave two connections idle in the client's pool afterwards.
        both = [client.scan("doomed", batch_size=1000), client.scan("doomed", batch_size=1000)]
        firsts = [len(next(batches)["key"]) for batches in both]
        assert [first + sum(len(batch["key"]) for batch in batches) for first, batches in zip(firsts, both)] == [
            5000,
            5000,
        ]
        batches = client.scan("doomed", batch_size=10, page_size=10)
        next(batches)
        victim.kill_node(0)
        start = time.monotonic()
        with pytest.raises(ignite_fast.IgniteConnectionError):
            for _ in batches:
                pass
        assert time.monotonic() - start < 30

        victim.stop()
        started(victim)
        assert client.put_batches("doomed", {"key": np.arange(300), "val": np.arange(300) * 2}) == 300
        keys = np.concatenate([batch["key"] for batch in client.scan("doomed", batch_size=64)])
        assert sorted(keys.tolist()) == list(range(300))
    finally:
        victim.stop()


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def test_concurrent_scans_and_a_soak_leak_nothing(cluster, pyignite_client):
    pyignite_client.get_or_create_cache("soak").put_all({i: bytes(512) for i in range(2000)})
    client = ignite_fast.Client(cluster.addresses[0])
    threads_before = threading.active_count()
    results: list[int] = []
    errors: list[BaseException] = []

    def scan_all():
        try:
            results.append(sum(len(b["key"]) for b in client.scan("soak", batch_size=128, page_size=64)))
        except BaseException as e:  # reported below
            errors.append(e)

    workers = [threading.Thread(target=scan_all) for _ in range(32)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors[:3]
    assert results == [2000] * 32
    assert threading.active_count() == threads_before, "no stray threads"
    assert client._native.idle_connections <= 8, "the pool keeps a bounded number of connections"

    for _ in range(20):
        for _ in client.scan("soak", batch_size=256):
            pass
    rss_warm = _rss_mb()
    for _ in range(200):
        for _ in client.scan("soak", batch_size=256):
            pass
    assert _rss_mb() - rss_warm < 32, f"RSS grew from {rss_warm:.0f} MB to {_rss_mb():.0f} MB over 200 scans"
    # No cursor left open: a connection that served all of this still opens new scans freely.
    assert sum(len(b["key"]) for b in client.scan("soak")) == 2000
