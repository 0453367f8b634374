"""TLS against real nodes with certificates and keystores made at test time: verification
against a CA, host-name checks (and the explicit opt-out), unknown CAs, expired certificates,
and mutual TLS with plain and password-encrypted client keys. (The nodes and the certificates:
tests/tls_fixtures.py; TLS reaching the TensorFlow faces: tests/tf/test_tls_and_auth.py.)"""

from __future__ import annotations

import pytest

import ignite_fast
from ignite_fast import TlsOptions
from node_fixtures import started
from tls_fixtures import KEY_PASSWORD, MTLS_PORT, TLS_PORT, tls_cluster


def _keys(client) -> list[int]:
    return sorted(k for b in client.scan("SQL_PUBLIC_SEALED") for k in b["key"].tolist())


def test_verified_tls_reads_data(pki, tls_node):
    assert _keys(ignite_fast.Client("localhost", TLS_PORT, tls=TlsOptions(ca_file=pki["ca"]))) == [1, 2]


def test_tls_settings_reach_the_parallel_connections(pki, tls_node):
    client = ignite_fast.Client([f"localhost:{TLS_PORT}"], tls=TlsOptions(ca_file=pki["ca"]))
    keys = sorted(k for b in client.scan("SQL_PUBLIC_SEALED", parallel=3) for k in b["key"].tolist())
    assert keys == [1, 2]


def test_unknown_ca_is_refused(pki, tls_node):
    with pytest.raises(ignite_fast.TlsError, match=r"(?i)unknown|issuer|certificate"):
        ignite_fast.Client("localhost", TLS_PORT, tls=TlsOptions(ca_file=pki["other_ca"]))


def test_wrong_host_name_is_refused_unless_opted_out(pki, tls_node):
    with pytest.raises(ignite_fast.TlsError, match=r"(?i)name"):
        ignite_fast.Client("127.0.0.1", TLS_PORT, tls=TlsOptions(ca_file=pki["ca"]))
    client = ignite_fast.Client("127.0.0.1", TLS_PORT, tls=TlsOptions(ca_file=pki["ca"], check_hostname=False))
    assert _keys(client) == [1, 2]


def test_system_store_does_not_trust_a_private_ca(tls_node):
    with pytest.raises(ignite_fast.TlsError):
        ignite_fast.Client("localhost", TLS_PORT, tls=True)


def test_plaintext_client_against_a_tls_node_fails_cleanly(tls_node):
    with pytest.raises(ignite_fast.IgniteConnectionError):
        ignite_fast.Client("localhost", TLS_PORT, connect_timeout=3, read_timeout=3)


def test_expired_certificate_is_refused(pki):
    node = started(tls_cluster("pytest-expired", 10904, 4, pki["expired_store"], pki["truststore"]))
    try:
        with pytest.raises(ignite_fast.TlsError, match=r"(?i)expired"):
            ignite_fast.Client("localhost", 10904, tls=TlsOptions(ca_file=pki["ca"]))
    finally:
        node.stop()


def test_mutual_tls_with_plain_and_encrypted_keys(pki, mtls_node):
    plain = TlsOptions(ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_key"])
    assert isinstance(ignite_fast.Client("localhost", MTLS_PORT, tls=plain).cache_names(), list)
    encrypted = TlsOptions(
        ca_file=pki["ca"], cert_file=pki["client_cert"], key_file=pki["client_encrypted_key"], key_password=KEY_PASSWORD
    )
    client = ignite_fast.Client("localhost", MTLS_PORT, tls=encrypted)
    assert isinstance(client.cache_names(), list)
    assert KEY_PASSWORD not in repr(client)
    assert KEY_PASSWORD not in repr(encrypted)
    with pytest.raises(ignite_fast.TlsError, match="decrypt"):
        ignite_fast.Client(
            "localhost",
            MTLS_PORT,
            tls=TlsOptions(
                ca_file=pki["ca"],
                cert_file=pki["client_cert"],
                key_file=pki["client_encrypted_key"],
                key_password="wrong",
            ),
        )


def test_node_refuses_a_client_without_a_certificate(pki, mtls_node):
    with pytest.raises(ignite_fast.IgniteConnectionError):
        ignite_fast.Client("localhost", MTLS_PORT, tls=TlsOptions(ca_file=pki["ca"]), read_timeout=5)


def test_idle_tls_connections_to_a_restarted_node_are_replaced(pki, tls_node):
    """A node that stops closes its TLS connections (close_notify, then FIN). The client's idle
    connections to it are read through rustls when next taken from the pool, found closed and
    replaced, so the first request after the restart succeeds. (Last in this module: the
    restart empties the node, and the test puts its table back.)"""
    client = ignite_fast.Client("localhost", TLS_PORT, tls=TlsOptions(ca_file=pki["ca"]))
    # Two scans at once leave two connections idle in the client's pool afterwards.
    both = [client.scan("SQL_PUBLIC_SEALED"), client.scan("SQL_PUBLIC_SEALED")]
    firsts = [next(batches)["key"].tolist() for batches in both]
    assert [
        sorted(first + [k for b in batches for k in b["key"].tolist()]) for first, batches in zip(firsts, both)
    ] == [[1, 2], [1, 2]]
    tls_node.stop()
    started(tls_node)
    list(client.sql("CREATE TABLE IF NOT EXISTS SEALED (ID INT PRIMARY KEY, V VARCHAR)"))
    list(client.sql("DELETE FROM SEALED"))  # then INSERT: MERGE ... VALUES is H2's alone
    list(client.sql("INSERT INTO SEALED (ID, V) VALUES (1, 'a'), (2, 'b')"))
    assert _keys(client) == [1, 2]
