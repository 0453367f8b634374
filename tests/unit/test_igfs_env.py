"""The IGFS_* environment variables: one reader (the TF plugin's, through `_native.igfs_env`)
serves every face of igfs, so Python and TensorFlow agree on what they say, and on where their
credentials may go."""

from __future__ import annotations

import pytest

from ignite_fast import _native
from ignite_fast.errors import InvalidArgumentError

_ALL = [
    "IGFS_HOST",
    "IGFS_PORT",
    "IGFS_FS_NAME",
    "IGFS_USERNAME",
    "IGFS_PASSWORD",
    "IGFS_TLS",
    "IGFS_CA_FILE",
    "IGFS_CERT_FILE",
    "IGFS_KEY_FILE",
    "IGFS_KEY_PASSWORD",
    "IGFS_CHECK_HOSTNAME",
    "IGFS_BLOCK_SIZE",
]


@pytest.fixture
def clean_env(monkeypatch):
    for name in _ALL:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_without_variables(clean_env):
    assert _native.igfs_env() == {
        "host": "127.0.0.1",
        "hosts": ["127.0.0.1"],
        "withheld": False,
        "port": 10800,
        "name": "",
        "username": None,
        "password": None,
        "block_size": 1 << 20,
        "tls": None,
    }


def test_every_variable_is_read(clean_env):
    for name, value in {
        "IGFS_HOST": "10.0.0.5",
        "IGFS_PORT": " 10900 ",
        "IGFS_FS_NAME": "models",
        "IGFS_USERNAME": "ignite",
        "IGFS_PASSWORD": "secret",
        "IGFS_CA_FILE": "/etc/ca.pem",
        "IGFS_CERT_FILE": "/etc/client.pem",
        "IGFS_KEY_PASSWORD": "k",
        "IGFS_CHECK_HOSTNAME": "off",
        "IGFS_BLOCK_SIZE": "65536",
    }.items():
        clean_env.setenv(name, value)
    env = _native.igfs_env()
    assert (env["host"], env["port"], env["name"], env["username"], env["password"], env["block_size"]) == (
        "10.0.0.5",
        10900,
        "models",
        "ignite",
        "secret",
        65536,
    )
    # a CA file alone turns TLS on
    assert env["tls"] == {
        "ca_file": "/etc/ca.pem",
        "cert_file": "/etc/client.pem",
        "key_file": None,
        "key_password": "k",
        "check_hostname": False,
    }
    clean_env.delenv("IGFS_CA_FILE")
    clean_env.setenv("IGFS_TLS", "0")
    assert _native.igfs_env()["tls"] is None
    clean_env.setenv("IGFS_TLS", "1")
    assert _native.igfs_env()["tls"]["ca_file"] is None


def test_a_malformed_number_names_its_variable(clean_env):
    clean_env.setenv("IGFS_PORT", "ten")
    with pytest.raises(InvalidArgumentError, match="IGFS_PORT"):
        _native.igfs_env()


def test_a_malformed_host_list_names_its_variable(clean_env):
    clean_env.setenv("IGFS_HOST", "node1:http")
    with pytest.raises(InvalidArgumentError, match="IGFS_HOST"):
        _native.igfs_env()


def test_credentials_apply_only_to_the_named_cluster(clean_env):
    clean_env.setenv("IGFS_HOST", "node1, node2:10801")
    clean_env.setenv("IGFS_USERNAME", "ignite")
    clean_env.setenv("IGFS_PASSWORD", "secret")
    clean_env.setenv("IGFS_CA_FILE", "/etc/ca.pem")
    clean_env.setenv("IGFS_CERT_FILE", "/etc/client.pem")
    clean_env.setenv("IGFS_KEY_FILE", "/etc/client.key")
    clean_env.setenv("IGFS_KEY_PASSWORD", "k")
    assert _native.igfs_env()["hosts"] == ["node1", "node2:10801"]
    for own in (None, ["node1:10800"], ["NODE1:1234", "node2:10801"]):
        env = _native.igfs_env(own)
        assert (env["username"], env["password"], env["tls"]["key_password"], env["withheld"]) == (
            "ignite",
            "secret",
            "k",
            False,
        ), own
    for other in (["node3:10800"], ["node2:10800"], ["node1:10800", "evil:10800"], ["node1.evil:10800"]):
        env = _native.igfs_env(other)
        assert env["withheld"], other
        assert env["username"] is None, other
        assert env["password"] is None, other
        # the trust stays, the client certificate does not
        assert env["tls"] == {
            "ca_file": "/etc/ca.pem",
            "cert_file": None,
            "key_file": None,
            "key_password": None,
            "check_hostname": True,
        }
        assert env["name"] == ""
        assert env["block_size"] == 1 << 20
    clean_env.setenv("IGFS_PORT", "10850")
    assert _native.igfs_env(["node1:10850"])["password"] == "secret"
    assert _native.igfs_env(["node1:10800"])["password"] is None


def test_nothing_is_withheld_without_credentials(clean_env):
    env = _native.igfs_env(["elsewhere:10800"])
    assert env["withheld"] is False
    assert env["password"] is None
