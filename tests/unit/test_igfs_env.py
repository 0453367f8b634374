"""The IGFS_* environment variables: one reader (the TF plugin's, through `_native.igfs_env`)
serves every face of igfs, so Python and TensorFlow agree on what they say."""

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
