"""Faults met before any node answers, with no Ignite node at all: arguments refused before
connecting, a refused connection, and a listener that never answers (the client times out with
the GIL released)."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import ignite_fast


@pytest.fixture
def silent_listener():
    """A TCP port that accepts connections (the kernel's backlog does) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield sock.getsockname()[1]
    sock.close()


def test_a_node_that_never_answers_times_out_with_the_gil_released(silent_listener):
    outcome = {}

    def connect():
        start = time.monotonic()
        try:
            ignite_fast.Client("127.0.0.1", silent_listener, connect_timeout=2, read_timeout=1.5)
        except Exception as e:  # recorded and checked below
            outcome["error"] = e
        outcome["seconds"] = time.monotonic() - start

    worker = threading.Thread(target=connect)
    worker.start()
    spins = 0
    while worker.is_alive():
        spins += 1  # runs only if the waiting thread released the GIL
    worker.join()
    assert isinstance(outcome["error"], ignite_fast.IgniteTimeoutError), outcome
    assert isinstance(outcome["error"], TimeoutError)
    assert outcome["seconds"] < 30, "a timeout, not a hang"
    assert spins > 10_000, "the main thread ran while the client waited on the network"


def test_wrong_port_type_is_rejected_before_connecting():
    with pytest.raises(ignite_fast.InvalidArgumentError, match="port"):
        ignite_fast.Client("127.0.0.1", "10800")


def test_connection_refused_is_prompt_and_typed():
    start = time.monotonic()
    with pytest.raises(ignite_fast.IgniteConnectionError, match=r"127\.0\.0\.1:1"):
        ignite_fast.Client("127.0.0.1", 1, connect_timeout=2)
    assert time.monotonic() - start < 10
