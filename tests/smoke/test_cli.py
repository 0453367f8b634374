"""The ``ignite-fast`` command the wheel installs (the venv's console script, not the checkout's)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

CLI = Path(sys.executable).parent / "ignite-fast"


def ignite_fast(*args: str) -> str:
    result = subprocess.run([str(CLI), *args], capture_output=True, text=True, env=os.environ)
    assert result.returncode == 0, f"ignite-fast {' '.join(args)}: {result.stderr}"
    return result.stdout


def test_help_names_the_commands():
    assert CLI.is_file()
    out = ignite_fast("--help")
    assert "ignite-fast server" in out
    assert "ignite-fast fs" in out


def test_server_status_of_the_smoke_node(port):
    assert f"port={port} answers=True" in ignite_fast("server", "status", "--name", "smoke")


def test_fs_put_ls_get_rm(port, tmp_path):
    local = tmp_path / "model.bin"
    local.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several blocks
    root = f"/cli-{uuid.uuid4().hex[:8]}"
    fs = ["fs", "--port", str(port)]
    ignite_fast(*fs, "mkdir", "-p", f"{root}/models")
    ignite_fast(*fs, "put", str(local), f"{root}/models/model.bin")
    assert ignite_fast(*fs, "ls", f"{root}/models").split() == [f"{root}/models/model.bin"]
    assert str(local.stat().st_size) in ignite_fast(*fs, "stat", f"{root}/models/model.bin")
    ignite_fast(*fs, "get", f"{root}/models/model.bin", str(tmp_path / "back.bin"))
    assert (tmp_path / "back.bin").read_bytes() == local.read_bytes()
    ignite_fast(*fs, "rm", "-r", root)
    assert ignite_fast(*fs, "ls", "/").split().count(f"{root}/") == 0
