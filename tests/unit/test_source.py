"""Both generations' clients satisfy the source protocol (``ignite_fast.source.Source``).

Here, without nodes: every member of the protocol exists on both client classes, and every
parameter the protocol names is taken by both, of the same kind and default; a parameter a client
adds has a default, so a call written against the protocol works on either. mypy checks this module
(``[tool.mypy] files``): :func:`_both_are_sources` fails type checking if a client's types drift
from the protocol's. ``tests/node/test_source.py`` checks real clients with ``isinstance``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest

from ignite_fast.client import Client
from ignite_fast.ignite3 import Ignite3Client
from ignite_fast.source import Source

CLIENTS = [Client, Ignite3Client]

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def protocol_members() -> dict[str, Any]:
    return {
        name: member
        for name, member in vars(Source).items()
        if not name.startswith("_") and (callable(member) or isinstance(member, property))
    }


def drift(protocol: Callable[..., Any], client: Callable[..., Any]) -> list[str]:
    """How ``client``'s parameters fail to take every call that ``protocol``'s take."""
    wanted = list(inspect.signature(protocol).parameters.values())[1:]  # without self
    given = list(inspect.signature(client).parameters.values())[1:]
    problems = []
    positional = [p for p in given if p.kind in POSITIONAL]
    matched: set[str] = set()
    for index, want in enumerate(p for p in wanted if p.kind in POSITIONAL):
        if index >= len(positional):
            problems.append(f"no positional parameter {index} ({want.name})")
            continue
        have = positional[index]
        matched.add(have.name)
        if want.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and have.name != want.name:
            problems.append(f"positional parameter {index} is {have.name!r}, not {want.name!r}")
        problems += _default_drift(want, have)
    by_name = {p.name: p for p in given}
    for want in (p for p in wanted if p.kind is inspect.Parameter.KEYWORD_ONLY):
        named = by_name.get(want.name)
        if named is None or named.kind not in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            problems.append(f"no keyword parameter {want.name!r}")
            continue
        matched.add(named.name)
        problems += _default_drift(want, named)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in wanted) and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in given
    ):
        problems.append("no **keyword arguments")
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    for extra in given:
        if extra.name not in matched and extra.kind not in variadic and extra.default is inspect.Parameter.empty:
            problems.append(f"its own parameter {extra.name!r} has no default")
    return problems


def _default_drift(want: inspect.Parameter, have: inspect.Parameter) -> list[str]:
    if want.default is inspect.Parameter.empty:
        return []  # the protocol always passes it: a client may still have a default
    if have.default is inspect.Parameter.empty:
        return [f"{have.name!r} has no default"]
    if want.default is not Ellipsis and have.default != want.default:
        return [f"{have.name!r} defaults to {have.default!r}, the protocol to {want.default!r}"]
    return []


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.__name__)
def test_every_protocol_member_is_on_the_client(client: type) -> None:
    missing = [name for name in protocol_members() if not hasattr(client, name)]
    assert not missing, f"{client.__name__} lacks {missing}"


@pytest.mark.parametrize("client", CLIENTS, ids=lambda c: c.__name__)
def test_the_client_takes_every_call_the_protocol_names(client: type) -> None:
    problems = []
    for name, member in protocol_members().items():
        mine = inspect.getattr_static(client, name)
        if isinstance(member, property):
            if not isinstance(mine, property):
                problems.append(f"{name}: a property in the protocol, not in {client.__name__}")
            continue
        problems += [f"{name}: {problem}" for problem in drift(member, mine)]
    assert not problems, f"{client.__name__} drifts from Source:\n" + "\n".join(problems)


def test_the_drift_check_sees_a_drift() -> None:
    class Drifted:
        def scan(self, name: str, batch_size: int = 10, *, columns: list[str], format: str = "numpy") -> None: ...

    problems = drift(Source.scan, Drifted.scan)
    assert "'batch_size' defaults to 10, the protocol to None" in problems
    assert "no keyword parameter 'partitions'" in problems
    assert "its own parameter 'columns' has no default" not in problems  # it is the protocol's
    assert "'columns' has no default" in problems


def _both_are_sources(ignite2: Client, ignite3: Ignite3Client) -> list[Source]:
    """Never run: mypy checks that each client is a Source, type by type."""
    return [ignite2, ignite3]
