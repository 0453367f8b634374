"""Credentials and TLS settings reaching the TensorFlow faces: IgniteDataset against the
authenticating node and the mutual-TLS node, and the igfs:// gfile plugin taking the same
settings from the environment (the nodes: tests/node_fixtures.py and tests/tls_fixtures.py)."""

from __future__ import annotations

import pytest

import ignite_fast
from ignite_fast import TlsOptions
from node_fixtures import AUTH_PORT
from node_fixtures import WRONG_PASSWORD as SECRET
from tls_fixtures import KEY_PASSWORD, MTLS_PORT


def test_credentials_reach_the_tf_dataset(secured):
    from ignite_fast import IgniteDataset

    client = ignite_fast.Client(secured.addresses[0], username="ignite", password="ignite")
    list(client.sql("CREATE TABLE IF NOT EXISTS TFSECRETS (ID INT PRIMARY KEY, V INT)"))
    list(client.sql("MERGE INTO TFSECRETS (ID, V) VALUES (1, 10), (2, 20)"))
    ds = IgniteDataset("SQL_PUBLIC_TFSECRETS", port=AUTH_PORT, username="ignite", password="ignite")
    assert sorted(int(e["val"]["V"]) for e in ds.as_numpy_iterator()) == [10, 20]
    with pytest.raises(ignite_fast.AuthenticationError):
        IgniteDataset("SQL_PUBLIC_TFSECRETS", port=AUTH_PORT, username="ignite", password=SECRET)
    assert "password" not in repr(client)
    assert "ignite'" in repr(client)


def test_igfs_with_credentials(secured, monkeypatch):
    from ignite_fast import igfs

    fs = igfs.IgniteFileSystem("127.0.0.1", secured.port, username="ignite", password="ignite")
    fs.write_bytes("/model.bin", b"weights")
    with pytest.raises(ignite_fast.AuthenticationError):
        igfs.IgniteFileSystem("127.0.0.1", secured.port, username="ignite", password=SECRET)
    monkeypatch.setenv("IGFS_USERNAME", "ignite")
    monkeypatch.setenv("IGFS_PASSWORD", "ignite")
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()

    assert tf.io.gfile.GFile(f"igfs://127.0.0.1:{secured.port}/model.bin", "rb").read() == b"weights"
    monkeypatch.setenv("IGFS_PASSWORD", SECRET)
    with pytest.raises(tf.errors.UnauthenticatedError) as caught:
        tf.io.gfile.exists(f"igfs://127.0.0.1:{secured.port}/model.bin")
    assert SECRET not in str(caught.value)


def test_drop_in_tls_arguments_reach_the_reader(pki, mtls_node):
    from ignite_fast import IgniteDataset

    client = ignite_fast.Client(
        "localhost",
        MTLS_PORT,
        tls=TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"]),
    )
    list(client.sql("CREATE TABLE IF NOT EXISTS TLSDATA (ID INT PRIMARY KEY, V INT)"))
    list(client.sql("MERGE INTO TLSDATA (ID, V) VALUES (1, 10), (2, 20)"))
    dataset = IgniteDataset(
        "SQL_PUBLIC_TLSDATA",
        host="localhost",
        port=MTLS_PORT,
        certfile=str(pki["client_cert"]),
        keyfile=str(pki["client_encrypted_key"]),
        cert_password=KEY_PASSWORD,
        ca_file=str(pki["ca"]),
    )
    assert sorted(int(e["val"]["V"]) for e in dataset.as_numpy_iterator()) == [10, 20]


def test_igfs_over_mutual_tls_in_python_and_tensorflow(pki, mtls_node, monkeypatch):
    from ignite_fast import igfs

    options = TlsOptions(
        ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_encrypted_key"], key_password=KEY_PASSWORD
    )
    fs = igfs.IgniteFileSystem("localhost", MTLS_PORT, name="tls", tls=options)
    fs.write_bytes("/secret.bin", b"over TLS" * 1000)
    # The TensorFlow plugin takes the same settings from the environment, whose client
    # certificate goes only to the host IGFS_HOST names.
    monkeypatch.setenv("IGFS_HOST", "localhost")
    monkeypatch.setenv("IGFS_FS_NAME", "tls")
    monkeypatch.setenv("IGFS_CA_FILE", str(pki["ca"]))
    monkeypatch.setenv("IGFS_CERT_FILE", str(pki["client_cert"]))
    monkeypatch.setenv("IGFS_KEY_FILE", str(pki["client_encrypted_key"]))
    monkeypatch.setenv("IGFS_KEY_PASSWORD", KEY_PASSWORD)
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()

    assert tf.io.gfile.GFile(f"igfs://localhost:{MTLS_PORT}/secret.bin", "rb").read() == b"over TLS" * 1000
    monkeypatch.setenv("IGFS_CA_FILE", str(pki["other_ca"]))  # a CA that did not sign the node
    with pytest.raises(tf.errors.UnavailableError, match=r"(?i)certificate|issuer"):
        tf.io.gfile.exists(f"igfs://localhost:{MTLS_PORT}/secret.bin")
    with pytest.raises(ignite_fast.TlsError):
        igfs.IgniteFileSystem("localhost", MTLS_PORT, name="tls", tls=TlsOptions(ca_file=pki["other_ca"]))
