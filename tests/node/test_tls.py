"""TLS against real nodes with certificates and keystores made at test time: verification
against a CA, host-name checks (and the explicit opt-out), unknown CAs, expired certificates,
and mutual TLS with plain and password-encrypted client keys."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import ignite_fast
from ignite_fast import TlsOptions
from conftest import started
from ignite_fast.server import IgniteCluster

STORE_PASSWORD = "changeit"
KEY_PASSWORD = "key-pa55"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer_key, issuer: str, key, *, ca=False, dns=(), ips=(), days=(-1, 30)):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now + datetime.timedelta(days=days[0]))
               .not_valid_after(now + datetime.timedelta(days=days[1]))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pem(path: Path, *objects) -> Path:
    data = b""
    for obj in objects:
        if isinstance(obj, x509.Certificate):
            data += obj.public_bytes(serialization.Encoding.PEM)
        else:
            data += obj.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
    path.write_bytes(data)
    return path


def _keystore(directory: Path, name: str, cert, key, ca) -> Path:
    cert_pem = _write_pem(directory / f"{name}.pem", cert, ca)
    key_pem = _write_pem(directory / f"{name}.key", key)
    store = directory / f"{name}.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-in", str(cert_pem), "-inkey", str(key_pem),
                    "-out", str(store), "-passout", f"pass:{STORE_PASSWORD}", "-name", name],
                   check=True, capture_output=True)
    return store


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("ignite-fast test CA", ca_key, "ignite-fast test CA", ca_key, ca=True)
    other_ca = _cert("someone else's CA", other_key, "someone else's CA", other_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    # Named "localhost" only: connecting to 127.0.0.1 is a host-name mismatch.
    server = _cert("localhost", ca_key, "ignite-fast test CA", server_key, dns=["localhost"])
    expired = _cert("localhost", ca_key, "ignite-fast test CA", server_key, dns=["localhost"], ips=["127.0.0.1"],
                    days=(-30, -1))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("trainer", ca_key, "ignite-fast test CA", client_key)
    truststore = d / "trust.p12"
    subprocess.run(["keytool", "-importcert", "-noprompt", "-alias", "ca", "-file", str(_write_pem(d / "ca.pem", ca)),
                    "-keystore", str(truststore), "-storetype", "PKCS12", "-storepass", STORE_PASSWORD],
                   check=True, capture_output=True)
    encrypted_key = d / "client-encrypted.key"
    encrypted_key.write_bytes(client_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(KEY_PASSWORD.encode())))
    return {
        "ca": d / "ca.pem",
        "other_ca": _write_pem(d / "other-ca.pem", other_ca),
        "server_store": _keystore(d, "server", server, server_key, ca),
        "expired_store": _keystore(d, "expired", expired, server_key, ca),
        "truststore": truststore,
        "client_cert": _write_pem(d / "client.pem", client, ca),
        "client_key": _write_pem(d / "client.key", client_key),
        "client_encrypted_key": encrypted_key,
    }


def _node(name, port, offset, store, truststore, client_auth=False):
    ssl = {"keystore": str(store), "keystore_password": STORE_PASSWORD, "truststore": str(truststore),
           "truststore_password": STORE_PASSWORD, "client_auth": client_auth}
    return IgniteCluster(nodes=1, port=port, discovery_port=27600 + offset, communication_port=27200 + offset,
                         name=name, region_mb=128, heap_mb=512, ssl=ssl)


@pytest.fixture(scope="module")
def tls_node(pki):
    node = started(_node("pytest-tls", 10900, 0, pki["server_store"], pki["truststore"]))
    client = ignite_fast.Client("localhost", 10900, tls=TlsOptions(ca_file=pki["ca"]))
    list(client.sql("CREATE TABLE IF NOT EXISTS SEALED (ID INT PRIMARY KEY, V VARCHAR)"))
    list(client.sql("MERGE INTO SEALED (ID, V) VALUES (1, 'a'), (2, 'b')"))
    yield node
    node.stop()


@pytest.fixture(scope="module")
def mtls_node(pki):
    node = started(_node("pytest-mtls", 10902, 2, pki["server_store"], pki["truststore"], client_auth=True))
    yield node
    node.stop()


def _keys(client) -> list[int]:
    return sorted(k for b in client.scan("SQL_PUBLIC_SEALED") for k in b["key"].tolist())


def test_verified_tls_reads_data(pki, tls_node):
    assert _keys(ignite_fast.Client("localhost", 10900, tls=TlsOptions(ca_file=pki["ca"]))) == [1, 2]


def test_tls_settings_reach_the_parallel_connections(pki, tls_node):
    client = ignite_fast.Client(["localhost:10900"], tls=TlsOptions(ca_file=pki["ca"]))
    keys = sorted(k for b in client.scan("SQL_PUBLIC_SEALED", parallel=3) for k in b["key"].tolist())
    assert keys == [1, 2]


def test_unknown_ca_is_refused(pki, tls_node):
    with pytest.raises(ignite_fast.TlsError, match="(?i)unknown|issuer|certificate"):
        ignite_fast.Client("localhost", 10900, tls=TlsOptions(ca_file=pki["other_ca"]))


def test_wrong_host_name_is_refused_unless_opted_out(pki, tls_node):
    with pytest.raises(ignite_fast.TlsError, match="(?i)name"):
        ignite_fast.Client("127.0.0.1", 10900, tls=TlsOptions(ca_file=pki["ca"]))
    client = ignite_fast.Client("127.0.0.1", 10900, tls=TlsOptions(ca_file=pki["ca"], check_hostname=False))
    assert _keys(client) == [1, 2]


def test_system_store_does_not_trust_a_private_ca(tls_node):
    with pytest.raises(ignite_fast.TlsError):
        ignite_fast.Client("localhost", 10900, tls=True)


def test_plaintext_client_against_a_tls_node_fails_cleanly(tls_node):
    with pytest.raises(ignite_fast.IgniteConnectionError):
        ignite_fast.Client("localhost", 10900, connect_timeout=3, read_timeout=3)


def test_expired_certificate_is_refused(pki):
    node = started(_node("pytest-expired", 10904, 4, pki["expired_store"], pki["truststore"]))
    try:
        with pytest.raises(ignite_fast.TlsError, match="(?i)expired"):
            ignite_fast.Client("localhost", 10904, tls=TlsOptions(ca_file=pki["ca"]))
    finally:
        node.stop()


def test_mutual_tls_with_plain_and_encrypted_keys(pki, mtls_node):
    plain = TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"])
    assert isinstance(ignite_fast.Client("localhost", 10902, tls=plain).cache_names(), list)
    encrypted = TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_encrypted_key"],
                           key_password=KEY_PASSWORD)
    client = ignite_fast.Client("localhost", 10902, tls=encrypted)
    assert isinstance(client.cache_names(), list)
    assert KEY_PASSWORD not in repr(client) and KEY_PASSWORD not in repr(encrypted)
    with pytest.raises(ignite_fast.TlsError, match="decrypt"):
        ignite_fast.Client("localhost", 10902, tls=TlsOptions(
            ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_encrypted_key"], key_password="wrong"))


def test_node_refuses_a_client_without_a_certificate(pki, mtls_node):
    with pytest.raises(ignite_fast.IgniteConnectionError):
        ignite_fast.Client("localhost", 10902, tls=TlsOptions(ca_file=pki["ca"]), read_timeout=5)


def test_drop_in_tls_arguments_reach_the_reader(pki, mtls_node):
    from ignite_fast import IgniteDataset

    client = ignite_fast.Client("localhost", 10902, tls=TlsOptions(
        ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"]))
    list(client.sql("CREATE TABLE IF NOT EXISTS TLSDATA (ID INT PRIMARY KEY, V INT)"))
    list(client.sql("MERGE INTO TLSDATA (ID, V) VALUES (1, 10), (2, 20)"))
    dataset = IgniteDataset("SQL_PUBLIC_TLSDATA", host="localhost", port=10902, certfile=str(pki["client_cert"]),
                            keyfile=str(pki["client_encrypted_key"]), cert_password=KEY_PASSWORD,
                            ca_file=str(pki["ca"]))
    assert sorted(int(e["val"]["V"]) for e in dataset.as_numpy_iterator()) == [10, 20]


def test_igfs_over_mutual_tls_in_python_and_tensorflow(pki, mtls_node, monkeypatch):
    from ignite_fast import igfs

    options = TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_encrypted_key"],
                         key_password=KEY_PASSWORD)
    fs = igfs.IgniteFileSystem("localhost", 10902, name="tls", tls=options)
    fs.write_bytes("/secret.bin", b"over TLS" * 1000)
    # The TensorFlow plugin takes the same settings from the environment.
    monkeypatch.setenv("IGFS_FS_NAME", "tls")
    monkeypatch.setenv("IGFS_CA_FILE", str(pki["ca"]))
    monkeypatch.setenv("IGFS_CERT_FILE", str(pki["client_cert"]))
    monkeypatch.setenv("IGFS_KEY_FILE", str(pki["client_encrypted_key"]))
    monkeypatch.setenv("IGFS_KEY_PASSWORD", KEY_PASSWORD)
    import importlib

    import tensorflow as tf

    importlib.import_module("ignite_fast.tf")  # registers igfs:// (a plain import would shadow ignite_fast)

    assert tf.io.gfile.GFile("igfs://localhost:10902/secret.bin", "rb").read() == b"over TLS" * 1000
    monkeypatch.setenv("IGFS_CA_FILE", str(pki["other_ca"]))  # a CA that did not sign the node
    with pytest.raises(tf.errors.UnavailableError, match="(?i)certificate|issuer"):
        tf.io.gfile.exists("igfs://localhost:10902/secret.bin")
    with pytest.raises(ignite_fast.TlsError):
        igfs.IgniteFileSystem("localhost", 10902, name="tls", tls=TlsOptions(ca_file=pki["other_ca"]))


def test_idle_tls_connections_to_a_restarted_node_are_replaced(pki, tls_node):
    """A node that stops closes its TLS connections (close_notify, then FIN). The client's idle
    connections to it are read through rustls when next taken from the pool, found closed and
    replaced, so the first request after the restart succeeds. (Last in this module: the
    restart empties the node, and the test puts its table back.)"""
    client = ignite_fast.Client("localhost", 10900, tls=TlsOptions(ca_file=pki["ca"]))
    # Two scans at once leave two connections idle in the client's pool afterwards.
    both = [client.scan("SQL_PUBLIC_SEALED"), client.scan("SQL_PUBLIC_SEALED")]
    firsts = [next(batches)["key"].tolist() for batches in both]
    assert [sorted(first + [k for b in batches for k in b["key"].tolist()]) for first, batches in zip(firsts, both)] \
        == [[1, 2], [1, 2]]
    tls_node.stop()
    started(tls_node)
    list(client.sql("CREATE TABLE IF NOT EXISTS SEALED (ID INT PRIMARY KEY, V VARCHAR)"))
    list(client.sql("MERGE INTO SEALED (ID, V) VALUES (1, 'a'), (2, 'b')"))
    assert _keys(client) == [1, 2]
