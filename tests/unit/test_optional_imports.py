"""The package imports without its optional dependencies, and names the extra to install when
a face needs one."""

from __future__ import annotations

import subprocess
import sys


def test_import_without_tensorflow():
    code = (
        "import sys; sys.modules['tensorflow'] = None\n"
        "import ignite_fast\n"
        "assert ignite_fast.Client is not None\n"
        "try:\n    ignite_fast.IgniteDataset\n"
        "except ImportError as e:\n    assert 'ignite_fast[tf]' in str(e), e\n    print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
