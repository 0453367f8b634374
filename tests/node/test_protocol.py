"""Handshake versions against the real node: fallback from a version the server does not speak,
and scans at old versions whose responses use the pre-1.4 header (status instead of flags)."""

from __future__ import annotations

import pytest

import ignite_fast


@pytest.fixture(scope="module")
def numbers(pyignite_client):
    name = "protocol_numbers"
    pyignite_client.get_or_create_cache(name).put_all({i: i * i for i in range(300)})
    return name


def test_falls_back_to_the_servers_version(cluster):
    client = ignite_fast.Client(cluster.addresses[0], protocol_version=(1, 8, 0))
    assert client.protocol_version == (1, 7, 0)


@pytest.mark.parametrize("version", [(1, 1, 0), (1, 2, 0), (1, 4, 0), (1, 7, 0)])
def test_scans_and_errors_at_each_version(cluster, numbers, version):
    client = ignite_fast.Client(cluster.addresses[0], protocol_version=version)
    assert client.protocol_version == version
    rows = {
        k: v
        for b in client.scan(numbers, batch_size=64, page_size=32)
        for k, v in zip(b["key"].tolist(), b["val"].tolist())
    }
    assert rows == {i: i * i for i in range(300)}
    with pytest.raises(ignite_fast.CacheNotFoundError):
        next(client.scan("no_such_cache"))


def test_versions_older_than_1_1_are_refused(cluster):
    with pytest.raises(ignite_fast.InvalidArgumentError, match="oldest supported"):
        ignite_fast.Client(cluster.addresses[0], protocol_version=(1, 0, 0))
