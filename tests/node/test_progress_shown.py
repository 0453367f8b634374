"""Progress bars on the long operations, against the session node: shown on a terminal, absent when
disabled and absent by default when stderr is not a terminal; and put_batches cut into pieces for
its bar (only then) writes exactly what one call would, refusing a bad column before the first piece."""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios
import uuid
from collections.abc import Iterator

import numpy as np
import pytest

import ignite_fast
import ignite_fast.writing
from node_fixtures import SESSION_PORT


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def stderr(terminal: bool) -> Iterator[io.StringIO]:
    """sys.stderr as a terminal or as a log file, for the body of a test (pytest restores its own
    capturing stream after fixtures are set up, so a fixture cannot do this)."""
    stream = FakeTerminal() if terminal else io.StringIO()
    saved, sys.stderr = sys.stderr, stream
    try:
        yield stream
    finally:
        sys.stderr = saved


@pytest.fixture
def small_pieces(monkeypatch):
    """put_batches cuts its rows into pieces of 4 KB instead of 32 MB, so a small batch makes many."""
    monkeypatch.setattr(ignite_fast.writing, "STEP_BYTES", 4096)


def digits(rows: int) -> dict:
    pixels = (np.arange(rows * 64) % 251).astype(np.uint8).reshape(rows, 64)
    names = np.array([f"digit-{i}-é" for i in range(rows)])
    return {
        "key": np.arange(rows, dtype=np.int64),
        "val": {"pixels": pixels, "label": np.arange(rows) % 10, "name": names},
    }


def read_back(client, cache: str) -> dict:
    batches = list(client.scan(cache, batch_size=1000))
    order = np.argsort(np.concatenate([b["key"] for b in batches]))
    return {f: np.concatenate([b["val"][f] for b in batches])[order] for f in ("pixels", "label", "name")}


def test_put_batches_shows_rows_written_on_a_terminal(client, cache_name, small_pieces):
    batch = digits(2000)  # about 90 bytes a row: some 45 pieces of 4 KB
    with stderr(terminal=True) as shown:
        assert client.put_batches(cache_name, batch, type_name="ProgressDigit") == 2000
    assert f"writing {cache_name}" in shown.getvalue()
    assert "2000/2000" in shown.getvalue()
    got = read_back(client, cache_name)
    assert (got["pixels"] == batch["val"]["pixels"]).all()
    assert (got["label"] == batch["val"]["label"]).all()
    assert [s.decode() for s in got["name"]] == batch["val"]["name"].tolist()


def test_put_batches_is_silent_when_disabled_or_not_on_a_terminal(client, cache_name):
    with stderr(terminal=True) as disabled:
        client.put_batches(cache_name, digits(10), progress=False)
    with stderr(terminal=False) as log:
        client.put_batches(cache_name, digits(10))
    assert disabled.getvalue() == ""
    assert log.getvalue() == ""


def test_a_bad_string_in_a_later_piece_is_refused_before_the_first_is_sent(client, cache_name, small_pieces):
    keys = np.array([f"k{i:05}".encode() for i in range(5000)])
    keys[4321] = b"\xc3("  # not UTF-8, far past the first piece

    def refused():
        return pytest.raises(ignite_fast.InvalidArgumentError, match="key: row 4321 is not valid UTF-8")

    with stderr(terminal=False), refused():  # with a bar: in pieces, every piece checked before the first
        client.put_batches(cache_name, {"key": keys, "val": np.arange(5000)}, progress=True)
    assert cache_name not in client.cache_names()  # nothing was sent: not even the cache was created
    with refused():  # without: in one call, which the native writer checks whole before writing
        client.put_batches(cache_name, {"key": keys, "val": np.arange(5000)}, progress=False)
    assert list(client.scan(cache_name)) == []


def test_to_pandas_shows_rows_read_on_a_terminal(client, cache_name):
    client.put_batches(cache_name, digits(3000), type_name="ProgressDigit", progress=False)
    with stderr(terminal=True) as shown:
        frame = client.to_pandas(cache_name, batch_size=500)
    assert len(frame) == 3000
    assert f"reading {cache_name}" in shown.getvalue()
    assert "3000rows" in shown.getvalue().replace(" ", "")
    with stderr(terminal=False) as log:
        client.to_arrow(cache_name)
    assert log.getvalue() == ""


def test_plan_shards_shows_partitions_counted_on_a_terminal(client, cache_name):
    client.put_batches(cache_name, {"key": np.arange(5000), "val": np.arange(5000)}, progress=False)
    partitions = len(client.partition_map(cache_name))
    with stderr(terminal=True) as shown:
        plan = client.plan_shards(cache_name, workers=2, balance="entries")
    assert sum(plan.entries) == 5000
    assert f"counting {cache_name}" in shown.getvalue()
    assert f"{partitions}/{partitions}" in shown.getvalue()
    with stderr(terminal=True) as disabled:
        client.partition_sizes(cache_name, progress=False)
    assert disabled.getvalue() == ""


def run_cli(args: list[str], env: dict, terminal: bool) -> tuple[int, str]:
    """Runs ``ignite-fast fs ...`` with stderr on a pseudo-terminal or on a pipe; returns its exit
    code and what it wrote to stderr."""
    command = [sys.executable, "-m", "ignite_fast.cli", "fs", *args]
    if not terminal:
        proc = subprocess.run(command, env=env, capture_output=True, timeout=120)
        return proc.returncode, proc.stderr.decode(errors="replace")
    controller, device = pty.openpty()
    fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns: room for a bar
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=device)
    os.close(device)
    output = b""
    while True:
        try:
            data = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        output += data
    os.close(controller)
    return proc.wait(timeout=120), output.decode(errors="replace")


def test_fs_put_and_get_show_bytes_copied_on_a_terminal(cluster, tmp_path):
    env = dict(os.environ, IGFS_PORT=str(SESSION_PORT), IGFS_FS_NAME=f"t{uuid.uuid4().hex[:10]}")
    local = tmp_path / "in.bin"
    local.write_bytes(os.urandom(3 << 20))
    code, shown = run_cli(["put", str(local), "/in.bin"], env, terminal=True)
    assert code == 0
    assert "put" in shown
    assert "3.00M/3.00M" in shown
    code, shown = run_cli(["get", "/in.bin", str(tmp_path / "out.bin")], env, terminal=True)
    assert code == 0
    assert "get" in shown
    assert "3.00M/3.00M" in shown
    assert (tmp_path / "out.bin").read_bytes() == local.read_bytes()
    assert run_cli(["get", "--no-progress", "/in.bin", str(tmp_path / "quiet.bin")], env, terminal=True) == (0, "")
    assert run_cli(["put", str(local), "/piped.bin"], env, terminal=False) == (0, "")
