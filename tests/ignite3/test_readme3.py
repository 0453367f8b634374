"""The README's Ignite 3 examples (the Python blocks with ``ignite=3``) run as written, against the
session's Ignite 3 node."""

from __future__ import annotations

import re
from pathlib import Path

from ignite_fast.server_ignite3 import Ignite3Cluster

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_ignite3_examples_run(ignite3: Ignite3Cluster, capsys):
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S) if "ignite=3" in b]
    assert blocks
    namespace: dict = {}
    for block in blocks:
        exec(compile(block.replace("10800", str(ignite3.port)), str(README), "exec"), namespace)
    assert "'PIXELS': 'VARBINARY(64) NULL'" in capsys.readouterr().out
    assert namespace["counts"].column("N").to_pylist() == [100] * 10
    assert sorted(namespace["sevens"].tolist()) == list(range(7, 1000, 10))
    batch = next(iter(namespace["dataset"]))
    assert batch["PIXELS"].shape[1] == 64
