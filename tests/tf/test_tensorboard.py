"""``ignite-fast tensorboard --logdir igfs://...``: TensorBoard serves the scalars of a run whose
event files are in igfs, read through its HTTP API while the run is still writing. Plain
``tensorboard`` cannot: its process never registered the plugin ("Unsupported filename scheme")."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
import tensorflow as tf

from ignite_fast import igfs
from ignite_fast.tf import register_igfs_filesystem
from ignite_fast.tf.tensorboard_cli import tensorboard_args
from node_fixtures import SESSION_PORT

# A hang guard, not a measure: TensorBoard needs a few seconds to start and a reload to see a run.
PATIENCE_S = 240


def test_defaults_unless_the_user_chose():
    defaults = ["--load_fast", "false", "--detect_file_replacement", "true"]
    assert tensorboard_args(["--logdir", "igfs:///logs"]) == ["--logdir", "igfs:///logs", *defaults]
    assert tensorboard_args(["--load_fast=auto", "--logdir", "x"]) == [
        "--load_fast=auto",
        "--logdir",
        "x",
        "--detect_file_replacement",
        "true",
    ]
    # TensorBoard refuses file replacement detection with --load_fast true: it is not added then.
    assert tensorboard_args(["--load_fast", "true"]) == ["--load_fast", "true"]
    assert tensorboard_args(["--detect_file_replacement=false"]) == [
        "--detect_file_replacement=false",
        "--load_fast",
        "false",
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(board: subprocess.Popen, log: Path, url: str, ready) -> object:
    """GETs `url` (JSON) until `ready(answer)`; fails with TensorBoard's log if it exits or hangs."""
    deadline = time.monotonic() + PATIENCE_S
    answer = None
    while time.monotonic() < deadline:
        if board.poll() is not None:
            pytest.fail(f"TensorBoard exited with {board.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                answer = json.load(response)
            if ready(answer):
                return answer
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        time.sleep(0.5)
    pytest.fail(f"no answer from {url} in {PATIENCE_S} s (last: {answer}):\n{log.read_text()[-4000:]}")


def _write(writer, steps: range) -> None:
    with writer.as_default():
        for step in steps:
            tf.summary.scalar("loss", 1.0 / (step + 1), step=step)
    writer.flush()  # publishes what was written so far: TensorBoard follows a live run


def test_ignite_fast_tensorboard_serves_scalars_from_igfs(cluster, monkeypatch, tmp_path):
    fs_name = f"t{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("IGFS_FS_NAME", fs_name)  # the plugin, here and in TensorBoard's process
    register_igfs_filesystem()
    logdir = f"igfs://127.0.0.1:{SESSION_PORT}/logs"
    writer = tf.summary.create_file_writer(f"{logdir}/run1")
    _write(writer, range(5))

    command = Path(sys.executable).with_name("ignite-fast")  # the entry point pip installs
    assert command.exists(), f"{command} is missing: the package is not installed in this environment"
    port = _free_port()
    log = tmp_path / "tensorboard.log"
    with log.open("w") as out:
        board = subprocess.Popen(
            [
                str(command),
                "tensorboard",
                "--logdir",
                logdir,
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--reload_interval",
                "1",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/data"
    scalars_url = f"{base}/plugin/scalars/scalars?run=run1&tag=loss"
    try:
        tags = _wait_for(board, log, f"{base}/plugin/scalars/tags", lambda t: "loss" in t.get("run1", {}))
        assert list(tags) == ["run1"]
        assert _wait_for(board, log, f"{base}/runs", bool) == ["run1"]
        points = _wait_for(board, log, scalars_url, lambda p: len(p) == 5)
        assert [step for _, step, _ in points] == list(range(5))
        assert [value for _, _, value in points] == pytest.approx([1.0 / (s + 1) for s in range(5)])

        # The run goes on; the next reload shows the new steps from the same event file.
        _write(writer, range(5, 10))
        points = _wait_for(board, log, scalars_url, lambda p: len(p) == 10)
        assert [step for _, step, _ in points] == list(range(10))
        assert [value for _, _, value in points] == pytest.approx([1.0 / (s + 1) for s in range(10)])
    finally:
        writer.close()
        board.terminate()
        try:
            board.wait(timeout=60)
        except subprocess.TimeoutExpired:
            board.kill()
            board.wait()
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)
    assert len(fs.ls("/logs/run1")) == 1  # one event file, written in two flushes
    fs.rm("/logs", recursive=True)
