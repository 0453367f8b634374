"""Which class a ``Client(...)`` call gives, for type checkers and at run time. mypy checks this
module (``[tool.mypy] files``): the overloads on ``Client`` must say ``Client`` for Ignite 2 and
:class:`ignite_fast.Ignite3Client` for ``ignite=3``. Nothing connects here."""

from __future__ import annotations

from typing import assert_type

import pytest

import ignite_fast
from ignite_fast import Client, Ignite3Client, InvalidArgumentError


def _calls_give_their_generation_s_class() -> None:
    """Never run (it would connect): mypy checks the types."""
    assert_type(Client("127.0.0.1", 10800), Client)
    assert_type(Client("127.0.0.1", 10800, ignite=2), Client)
    assert_type(Client("127.0.0.1", 10800, ignite=3), Ignite3Client)
    assert_type(Client(["a:10800", "b:10800"], ignite=3, username="u", password="p"), Ignite3Client)


def test_ignite3client_is_public() -> None:
    assert ignite_fast.Ignite3Client is Ignite3Client
    assert "Ignite3Client" in ignite_fast.__all__
    assert Ignite3Client.__module__.startswith("ignite_fast.")


def test_a_generation_other_than_2_or_3_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="ignite must be 2 or 3"):
        Client("127.0.0.1", ignite=4)


def test_the_ignite2_client_is_a_client_and_the_ignite3_one_is_not() -> None:
    # The metaclass makes Client(..., ignite=3) an Ignite3Client; the classes are distinct.
    assert not issubclass(Ignite3Client, Client)
    assert not issubclass(Client, Ignite3Client)
