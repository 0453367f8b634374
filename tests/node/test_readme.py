"""The README's Python examples run as written (against the test node's port)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_examples_run(cluster, pyignite_client, capsys):
    from pyignite import GenericObjectMeta
    from pyignite.datatypes import ByteArrayObject, IntObject

    class Digit(
        metaclass=GenericObjectMeta,
        type_name="ReadmeDigit",
        schema=OrderedDict([("pixels", ByteArrayObject), ("label", IntObject)]),
    ):
        pass

    cache = pyignite_client.get_or_create_cache("digits")
    cache.clear()
    cache.put_all({i: Digit(pixels=np.full(64, i, np.uint8).tobytes(), label=i % 10) for i in range(100)})

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    # The examples set IGFS_* variables as a user would; they go back as they were, or later
    # tests' igfs:// URLs would meet this node's IGFS_PORT (and keep their credentials from it).
    saved = {name: value for name, value in os.environ.items() if name.startswith("IGFS_")}
    try:
        for block in blocks:
            if "ignite=3" in block:  # Ignite 3's examples run against an Ignite 3 node (tests/ignite3)
                continue
            code = block.replace("10800", str(cluster.port))
            if "torch" in code:
                # PyTorch examples run in their own interpreter: this one has loaded TensorFlow, and
                # TensorFlow and triton (imported by torch.optim) cannot share a process (both bundle LLVM).
                proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
                assert proc.returncode == 0, f"README example failed:\n{code}\n{proc.stderr[-4000:]}"
                continue
            exec(compile(code, str(README), "exec"), namespace)
    finally:
        for name in [name for name in os.environ if name.startswith("IGFS_")]:
            del os.environ[name]
        os.environ.update(saved)
    out = capsys.readouterr().out
    assert "'pixels': 'byte[]'" in out
    assert "does not exist" in out
