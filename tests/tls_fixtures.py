"""TLS nodes for the tests (a pytest plugin that tests/conftest.py loads): a private CA, server
keystores and client keys made at test time, one node with verified TLS and one that requires
client certificates (mutual TLS)."""

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
from ignite_fast.server import IgniteCluster
from node_fixtures import IGNITE2_VERSION, NAME_SUFFIX, started

TLS_PORT = 10900
MTLS_PORT = 10902

STORE_PASSWORD = "changeit"
KEY_PASSWORD = "key-pa55"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject: str, issuer_key, issuer: str, key, *, ca=False, dns=(), ips=(), days=(-1, 30)):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=days[0]))
        .not_valid_after(now + datetime.timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_pem(path: Path, *objects) -> Path:
    data = b""
    for obj in objects:
        if isinstance(obj, x509.Certificate):
            data += obj.public_bytes(serialization.Encoding.PEM)
        else:
            data += obj.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
    path.write_bytes(data)
    return path


def _keystore(directory: Path, name: str, cert, key, ca) -> Path:
    cert_pem = _write_pem(directory / f"{name}.pem", cert, ca)
    key_pem = _write_pem(directory / f"{name}.key", key)
    store = directory / f"{name}.p12"
    subprocess.run(
        [
            "openssl",
            "pkcs12",
            "-export",
            "-in",
            str(cert_pem),
            "-inkey",
            str(key_pem),
            "-out",
            str(store),
            "-passout",
            f"pass:{STORE_PASSWORD}",
            "-name",
            name,
        ],
        check=True,
        capture_output=True,
    )
    return store


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("ignite-fast test CA", ca_key, "ignite-fast test CA", ca_key, ca=True)
    other_ca = _cert("someone else's CA", other_key, "someone else's CA", other_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    # Named "localhost" only: connecting to 127.0.0.1 is a host-name mismatch.
    server = _cert("localhost", ca_key, "ignite-fast test CA", server_key, dns=["localhost"])
    expired = _cert(
        "localhost", ca_key, "ignite-fast test CA", server_key, dns=["localhost"], ips=["127.0.0.1"], days=(-30, -1)
    )
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("trainer", ca_key, "ignite-fast test CA", client_key)
    truststore = d / "trust.p12"
    subprocess.run(
        [
            "keytool",
            "-importcert",
            "-noprompt",
            "-alias",
            "ca",
            "-file",
            str(_write_pem(d / "ca.pem", ca)),
            "-keystore",
            str(truststore),
            "-storetype",
            "PKCS12",
            "-storepass",
            STORE_PASSWORD,
        ],
        check=True,
        capture_output=True,
    )
    encrypted_key = d / "client-encrypted.key"
    encrypted_key.write_bytes(
        client_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(KEY_PASSWORD.encode()),
        )
    )
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


def tls_cluster(name, port, offset, store, truststore, client_auth=False) -> IgniteCluster:
    """A one-node cluster with TLS on its client port; `offset` keeps its other ports apart."""
    ssl = {
        "keystore": str(store),
        "keystore_password": STORE_PASSWORD,
        "truststore": str(truststore),
        "truststore_password": STORE_PASSWORD,
        "client_auth": client_auth,
    }
    return IgniteCluster(
        nodes=1,
        port=port,
        discovery_port=27600 + offset,
        communication_port=27200 + offset,
        name=f"{name}{NAME_SUFFIX}",
        version=IGNITE2_VERSION,
        region_mb=128,
        heap_mb=512,
        ssl=ssl,
    )


@pytest.fixture(scope="session")
def tls_node(pki):
    """A TLS node (not requiring client certificates) holding the table SEALED."""
    node = started(tls_cluster("pytest-tls", TLS_PORT, 0, pki["server_store"], pki["truststore"]))
    try:  # the node stops even if filling it fails
        client = ignite_fast.Client("localhost", TLS_PORT, tls=TlsOptions(ca_file=pki["ca"]))
        list(client.sql("CREATE TABLE IF NOT EXISTS SEALED (ID INT PRIMARY KEY, V VARCHAR)"))
        list(client.sql("DELETE FROM SEALED"))  # then INSERT: MERGE ... VALUES is H2's alone
        list(client.sql("INSERT INTO SEALED (ID, V) VALUES (1, 'a'), (2, 'b')"))
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def mtls_node(pki):
    """A node that requires client certificates signed by the test CA."""
    node = started(tls_cluster("pytest-mtls", MTLS_PORT, 2, pki["server_store"], pki["truststore"], client_auth=True))
    yield node
    node.stop()
