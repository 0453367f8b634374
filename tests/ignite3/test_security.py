"""Ignite 3 authentication and TLS against a real node (`ignite3_secure` of tests/node_fixtures.py:
basic authentication in the cluster configuration given at init, TLS on the client port with the
test CA's certificate of tests/tls_fixtures.py): right and wrong credentials, a verified TLS
connection by host name, a certificate the system roots do not trust, plain TCP against the TLS
port, the TensorFlow face with credentials and a CA, and a node that requires client certificates."""

from __future__ import annotations

import ssl
import time
import urllib.error
import urllib.request

import pytest

import ignite_fast
from ignite_fast import TlsOptions
from ignite_fast.errors import AuthenticationError, IgniteConnectionError, TlsError
from ignite_fast.server_ignite3 import Ignite3Cluster, handshake_ok
from node_fixtures import IGNITE3_PASSWORD, IGNITE3_SECURE_PORT, IGNITE3_USER, WRONG_PASSWORD, started
from tls_fixtures import STORE_PASSWORD

# "localhost": the name the test certificate carries (127.0.0.1 would be a host-name mismatch).
ADDRESS = f"localhost:{IGNITE3_SECURE_PORT}"
# The mutual-TLS node, started by its own test.
MTLS_PORT, MTLS_NETWORK_PORT, MTLS_REST_PORT = 10949, 3351, 10307


def secure_client(pki, **overrides) -> ignite_fast.Client:
    settings = dict(username=IGNITE3_USER, password=IGNITE3_PASSWORD, tls=TlsOptions(ca_file=pki["ca"]))
    settings.update(overrides)
    return ignite_fast.Client(ADDRESS, ignite=3, **settings)


@pytest.fixture(scope="module")
def vault(pki, ignite3_secure: Ignite3Cluster) -> str:
    """The table VAULT on the secure node: ids 0..99, V = id * 0.5."""
    client = secure_client(pki)
    list(client.sql("CREATE TABLE IF NOT EXISTS VAULT (ID INT PRIMARY KEY, V DOUBLE)"))
    values = ", ".join(f"({i}, {i * 0.5})" for i in range(100))
    list(client.sql("DELETE FROM VAULT"))
    list(client.sql(f"INSERT INTO VAULT (ID, V) VALUES {values}"))
    return "VAULT"


def read_ids(client, table: str) -> list[int]:
    return sorted(i for batch in client.scan(table) for i in batch["ID"].tolist())


def test_right_credentials_over_verified_tls_read_a_table(pki, vault):
    client = secure_client(pki)
    assert read_ids(client, vault) == list(range(100))
    assert IGNITE3_PASSWORD not in repr(client)


def test_wrong_password_is_refused_promptly_naming_the_user_never_the_password(pki, ignite3_secure):
    started_at = time.monotonic()
    with pytest.raises(AuthenticationError) as caught:
        secure_client(pki, password=WRONG_PASSWORD)
    assert time.monotonic() - started_at < 5
    message = str(caught.value)
    assert IGNITE3_USER in message
    assert WRONG_PASSWORD not in message
    assert IGNITE3_PASSWORD not in message
    assert WRONG_PASSWORD not in repr(caught.value)


def test_missing_credentials_are_refused(pki, ignite3_secure):
    with pytest.raises(AuthenticationError):
        secure_client(pki, username=None, password=None)


def test_unknown_user_is_refused(pki, ignite3_secure):
    with pytest.raises(AuthenticationError, match="nobody"):
        secure_client(pki, username="nobody")


def test_host_name_is_verified(pki, ignite3_secure):
    with pytest.raises(TlsError, match=r"(?i)name"):
        ignite_fast.Client(
            f"127.0.0.1:{IGNITE3_SECURE_PORT}",
            ignite=3,
            username=IGNITE3_USER,
            password=IGNITE3_PASSWORD,
            tls=TlsOptions(ca_file=pki["ca"]),
        )


def test_system_roots_do_not_trust_the_test_ca_and_the_error_says_what_to_add(ignite3_secure):
    with pytest.raises(TlsError, match=r"UnknownIssuer.*TlsOptions\(ca_file="):
        ignite_fast.Client(ADDRESS, ignite=3, username=IGNITE3_USER, password=IGNITE3_PASSWORD, tls=True)


def test_another_ca_is_refused(pki, ignite3_secure):
    with pytest.raises(TlsError, match=r"(?i)unknown|issuer|certificate"):
        secure_client(pki, tls=TlsOptions(ca_file=pki["other_ca"]))


def test_plain_tcp_to_the_tls_port_fails_typed_within_the_timeout(ignite3_secure):
    started_at = time.monotonic()
    with pytest.raises(IgniteConnectionError) as caught:
        ignite_fast.Client(
            ADDRESS, ignite=3, username=IGNITE3_USER, password=IGNITE3_PASSWORD, connect_timeout=3, read_timeout=3
        )
    assert time.monotonic() - started_at < 8
    assert "TLS" in str(caught.value)


def test_the_launcher_checks_the_node_with_its_credentials_over_tls(pki, ignite3_secure):
    [row] = ignite3_secure.status()
    assert row["alive"], row
    assert row["answers"], row
    assert row["state"] == "STARTED", row
    port, context = ignite3_secure.port, ssl.create_default_context(cafile=str(pki["ca"]))
    assert handshake_ok("localhost", port, username=IGNITE3_USER, password=IGNITE3_PASSWORD, tls_context=context)
    assert not handshake_ok("localhost", port, tls_context=context)  # no credentials
    assert not handshake_ok("localhost", port, username=IGNITE3_USER, password=IGNITE3_PASSWORD)  # plain TCP
    # REST wants the credentials too once the cluster is initialised (the launcher sends them)
    state_url = f"http://127.0.0.1:{ignite3_secure.rest_port}/management/v1/node/state"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(state_url, timeout=5)
    assert refused.value.code == 401


def test_dataset_reads_with_credentials_and_a_ca(pki, vault):
    from ignite_fast.tf import IgniteDataset

    dataset = IgniteDataset(
        vault,
        "localhost",
        IGNITE3_SECURE_PORT,
        ignite=3,
        username=IGNITE3_USER,
        password=IGNITE3_PASSWORD,
        ca_file=str(pki["ca"]),
        batch_size=32,
    )
    ids = sorted(i for batch in dataset for i in batch["ID"].numpy().tolist())
    assert ids == list(range(100))


def test_a_node_that_requires_client_certificates(pki):
    """Mutual TLS on a node of its own: a client certificate signed by the test CA is let in, a
    client without one is refused."""
    node = Ignite3Cluster(
        nodes=1,
        port=MTLS_PORT,
        network_port=MTLS_NETWORK_PORT,
        rest_port=MTLS_REST_PORT,
        name="pytest-ignite3-mtls",
        heap_mb=512,
        storage_mb=128,
        ssl={
            "keystore": str(pki["server_store"]),
            "keystore_password": STORE_PASSWORD,
            "truststore": str(pki["truststore"]),
            "truststore_password": STORE_PASSWORD,
            "client_auth": True,
        },
    )
    started(node)
    try:
        address = f"localhost:{MTLS_PORT}"
        with_certificate = TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"])
        client = ignite_fast.Client(address, ignite=3, tls=with_certificate)
        assert [b["X"].tolist() for b in client.sql("SELECT 41 + 1 AS X")] == [[42]]
        with pytest.raises(IgniteConnectionError):
            ignite_fast.Client(address, ignite=3, tls=TlsOptions(ca_file=pki["ca"]), read_timeout=5)
    finally:
        node.stop()
