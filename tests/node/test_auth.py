"""Authentication against a real node with persistence and authentication on (started by the
project's launcher; the default user is ignite/ignite)."""

from __future__ import annotations

import pytest

import ignite_fast
from conftest import started
from ignite_fast.server import IgniteCluster

SECRET = "s3cr3t-Pa55"


@pytest.fixture(scope="module")
def secured():
    node = started(IgniteCluster(nodes=1, port=10880, discovery_port=27580, communication_port=27180,
                                 name="pytest-auth", region_mb=256, heap_mb=512, persistence=True, authentication=True))
    yield node
    node.stop()


def test_right_credentials_read_data(secured):
    client = ignite_fast.Client(secured.addresses[0], username="ignite", password="ignite")
    list(client.sql("CREATE TABLE IF NOT EXISTS SECRETS (ID INT PRIMARY KEY, V VARCHAR)"))
    list(client.sql("MERGE INTO SECRETS (ID, V) VALUES (1, 'a'), (2, 'b')"))
    rows = [b for b in client.scan("SQL_PUBLIC_SECRETS")]
    assert sorted(rows[0]["key"].tolist()) == [1, 2]


def test_wrong_password_names_the_user_never_the_password(secured):
    with pytest.raises(ignite_fast.AuthenticationError) as caught:
        ignite_fast.Client(secured.addresses[0], username="ignite", password=SECRET)
    message = str(caught.value)
    assert "ignite" in message and SECRET not in message
    assert SECRET not in repr(caught.value)


def test_missing_credentials_are_refused(secured):
    with pytest.raises(ignite_fast.AuthenticationError):
        ignite_fast.Client(secured.addresses[0])


def test_credentials_reach_the_tf_dataset(secured):
    from ignite_fast import IgniteDataset

    client = ignite_fast.Client(secured.addresses[0], username="ignite", password="ignite")
    list(client.sql("CREATE TABLE IF NOT EXISTS TFSECRETS (ID INT PRIMARY KEY, V INT)"))
    list(client.sql("MERGE INTO TFSECRETS (ID, V) VALUES (1, 10), (2, 20)"))
    ds = IgniteDataset("SQL_PUBLIC_TFSECRETS", port=10880, username="ignite", password="ignite")
    assert sorted(int(e["val"]["V"]) for e in ds.as_numpy_iterator()) == [10, 20]
    with pytest.raises(ignite_fast.AuthenticationError):
        IgniteDataset("SQL_PUBLIC_TFSECRETS", port=10880, username="ignite", password=SECRET)
    assert "password" not in repr(client) and "ignite'" in repr(client)


def test_igfs_with_credentials(secured, monkeypatch):
    from ignite_fast import igfs

    fs = igfs.IgniteFileSystem("127.0.0.1", secured.port, username="ignite", password="ignite")
    fs.write_bytes("/model.bin", b"weights")
    with pytest.raises(ignite_fast.AuthenticationError):
        igfs.IgniteFileSystem("127.0.0.1", secured.port, username="ignite", password=SECRET)
    monkeypatch.setenv("IGFS_USERNAME", "ignite")
    monkeypatch.setenv("IGFS_PASSWORD", "ignite")
    import importlib

    import tensorflow as tf

    importlib.import_module("ignite_fast.tf")  # registers igfs:// (a plain import would shadow ignite_fast)

    assert tf.io.gfile.GFile(f"igfs://127.0.0.1:{secured.port}/model.bin", "rb").read() == b"weights"
    monkeypatch.setenv("IGFS_PASSWORD", SECRET)
    with pytest.raises(tf.errors.UnauthenticatedError) as caught:
        tf.io.gfile.exists(f"igfs://127.0.0.1:{secured.port}/model.bin")
    assert SECRET not in str(caught.value)
