"""The package under test is the installed one: imported from the venv's site-packages, with one
shared object that is both the extension and TensorFlow's igfs:// plugin, and an abi3 wheel tag."""

from __future__ import annotations

import ctypes
import importlib.metadata
import sys
import sysconfig
from pathlib import Path

import ignite_fast
from ignite_fast import _native

PACKAGE = Path(ignite_fast.__file__).resolve().parent


def test_imported_from_the_venvs_site_packages():
    assert sys.prefix != sys.base_prefix, "not in a virtual environment"
    site_packages = Path(sysconfig.get_paths()["platlib"]).resolve()
    assert PACKAGE.parent == site_packages, f"ignite_fast comes from {PACKAGE}, not {site_packages}"
    # No other copy (a checkout's python/) is anywhere on the path.
    copies = {Path(p).resolve() for p in sys.path if p and (Path(p) / "ignite_fast" / "__init__.py").exists()}
    assert copies == {site_packages}


def test_one_shared_object_is_the_extension_and_the_tf_plugin():
    assert Path(_native.__file__).resolve().parent == PACKAGE
    assert sorted(p.name for p in PACKAGE.rglob("*.so")) == ["_native.abi3.so"]
    assert ctypes.CDLL(_native.__file__).TF_InitPlugin  # exported (AttributeError if not)


def test_wheel_metadata():
    dist = importlib.metadata.distribution("ignite_fast")
    wheel = dist.read_text("WHEEL") or ""
    tags = [line.split(":", 1)[1].strip() for line in wheel.splitlines() if line.startswith("Tag:")]
    assert tags, tags
    assert all(tag.startswith("cp311-abi3-") for tag in tags), tags
    entry_points = {(ep.group, ep.name): ep.value for ep in dist.entry_points}
    assert entry_points[("console_scripts", "ignite-fast")] == "ignite_fast.cli:main"
    assert entry_points[("fsspec.specs", "igfs")] == "ignite_fast.igfs_fsspec:IgfsFileSystem"
    assert (PACKAGE / "ignite-jars.pom.xml").is_file()  # what `server install` gives Maven
    assert (PACKAGE / "py.typed").is_file()
    assert (PACKAGE / "_native.pyi").is_file()
