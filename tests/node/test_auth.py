"""Authentication against a real node with persistence and authentication on (the `secured`
node of tests/node_fixtures.py; the default user is ignite/ignite). Credentials reaching the
TensorFlow faces: tests/tf/test_tls_and_auth.py."""

from __future__ import annotations

import pytest

import ignite_fast
from node_fixtures import WRONG_PASSWORD as SECRET


def test_right_credentials_read_data(secured):
    client = ignite_fast.Client(secured.addresses[0], username="ignite", password="ignite")
    list(client.sql("CREATE TABLE IF NOT EXISTS SECRETS (ID INT PRIMARY KEY, V VARCHAR)"))
    list(client.sql("DELETE FROM SECRETS"))  # then INSERT: MERGE ... VALUES is H2's alone
    list(client.sql("INSERT INTO SECRETS (ID, V) VALUES (1, 'a'), (2, 'b')"))
    rows = [b for b in client.scan("SQL_PUBLIC_SECRETS")]
    assert sorted(rows[0]["key"].tolist()) == [1, 2]


def test_wrong_password_names_the_user_never_the_password(secured):
    with pytest.raises(ignite_fast.AuthenticationError) as caught:
        ignite_fast.Client(secured.addresses[0], username="ignite", password=SECRET)
    message = str(caught.value)
    assert "ignite" in message
    assert SECRET not in message
    assert SECRET not in repr(caught.value)


def test_missing_credentials_are_refused(secured):
    with pytest.raises(ignite_fast.AuthenticationError):
        ignite_fast.Client(secured.addresses[0])
