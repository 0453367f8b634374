"""igfs:// through TensorFlow's two gfile faces, ``tf.io.gfile`` and ``tf.compat.v1.gfile``, doing
what the original plugins' own suites did (tf.contrib.igfs ``igfs_test.py``, tensorflow-io
``test_ignite.py``): make a directory and remove it with ``Remove``, ``MkDir`` with a trailing
slash, list and rename directories, write 10,000 lines one ``write`` at a time."""

from __future__ import annotations

import uuid

import pytest

from ignite_fast import igfs


@pytest.fixture
def fs(cluster, monkeypatch):
    """A fresh file system on the session node; the plugin finds it through the environment."""
    import ignite_fast.tf

    host, port = cluster.addresses[0].rsplit(":", 1)
    name = f"g{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("IGFS_FS_NAME", name)
    monkeypatch.setenv("IGFS_HOST", host)
    monkeypatch.setenv("IGFS_PORT", port)
    ignite_fast.tf.register_igfs_filesystem()
    fs = igfs.IgniteFileSystem(host, int(port), name=name)
    yield fs
    fs.rm("/", recursive=True)


class V2:
    """``tf.io.gfile``, under the original's method names."""

    def __init__(self):
        import tensorflow as tf

        g = tf.io.gfile
        self.Exists, self.MkDir, self.MakeDirs, self.Remove = g.exists, g.mkdir, g.makedirs, g.remove
        self.IsDirectory, self.ListDirectory, self.Rename = g.isdir, g.listdir, g.rename
        self.DeleteRecursively, self.Copy, self.Open = g.rmtree, g.copy, g.GFile


def faces():
    import tensorflow as tf

    return {"tf.io.gfile": V2(), "tf.compat.v1.gfile": tf.compat.v1.gfile}


@pytest.fixture(params=["tf.io.gfile", "tf.compat.v1.gfile"])
def gfile(request, fs):
    return faces()[request.param]


def test_remove_an_empty_directory(gfile, fs):
    gfile.MkDir("igfs:///empty")
    assert gfile.IsDirectory("igfs:///empty")
    gfile.Remove("igfs:///empty")
    assert not gfile.Exists("igfs:///empty")
    assert fs.ls("/") == []


def test_remove_refuses_a_directory_that_has_entries(gfile, fs):
    import tensorflow as tf

    gfile.MkDir("igfs:///full")
    with gfile.Open("igfs:///full/f", "w") as f:
        f.write("x")
    with pytest.raises(tf.errors.FailedPreconditionError, match="not empty"):
        gfile.Remove("igfs:///full")
    assert fs.read_bytes("/full/f") == b"x"


def test_mkdir_with_a_trailing_slash(gfile, fs):
    assert not gfile.Exists("igfs:///made/")
    gfile.MkDir("igfs:///made/")
    assert gfile.Exists("igfs:///made/")
    assert gfile.Exists("igfs:///made")
    assert gfile.IsDirectory("igfs:///made/")
    assert fs.stat("/made").is_dir
    gfile.Remove("igfs:///made/")
    assert not gfile.Exists("igfs:///made")


def test_mkdir_needs_its_parent(gfile, fs):
    """A deliberate difference: tf.contrib's plugin created missing parents in ``MkDir`` (IGFS's
    own mkdirs); like TensorFlow's other file systems, ours leaves that to ``MakeDirs``. Writing a
    file still creates its directories, as both originals did."""
    import tensorflow as tf

    with pytest.raises(tf.errors.NotFoundError):
        gfile.MkDir("igfs:///no/parent")
    gfile.MakeDirs("igfs:///no/parent")
    with gfile.Open("igfs:///other/new/file", "w") as f:
        f.write("")
    assert gfile.IsDirectory("igfs:///no/parent")
    assert gfile.IsDirectory("igfs:///other/new")


def test_list_a_directory(gfile, fs):
    gfile.MkDir("igfs:///listing")
    gfile.MkDir("igfs:///listing/2")
    for name in ("igfs:///listing/1", "igfs:///listing/2/3"):
        with gfile.Open(name, "w") as f:
            f.write("")
    gfile.MkDir("igfs:///listing/4")
    assert sorted(gfile.ListDirectory("igfs:///listing")) == ["1", "2", "4"]
    assert sorted(gfile.ListDirectory("igfs:///listing/")) == ["1", "2", "4"]
    assert gfile.IsDirectory("igfs:///listing/2")
    assert not gfile.IsDirectory("igfs:///listing/1")


def test_rename_a_directory_then_remove_it(gfile, fs):
    gfile.MkDir("igfs:///renaming")
    gfile.MkDir("igfs:///renaming/1")
    gfile.Rename("igfs:///renaming/1", "igfs:///renaming/2")
    assert not gfile.Exists("igfs:///renaming/1")
    assert gfile.Exists("igfs:///renaming/2")
    assert gfile.IsDirectory("igfs:///renaming/2")
    gfile.Remove("igfs:///renaming/2")
    assert not gfile.Exists("igfs:///renaming/2")
    assert gfile.ListDirectory("igfs:///renaming") == []


def test_rename_a_directory_with_files(gfile, fs):
    gfile.MakeDirs("igfs:///tree/a/b")
    with gfile.Open("igfs:///tree/a/b/f.txt", "w") as f:
        f.write("42")
    gfile.Rename("igfs:///tree/a", "igfs:///tree/c")
    with gfile.Open("igfs:///tree/c/b/f.txt", "r") as f:
        assert f.read() == "42"
    assert gfile.ListDirectory("igfs:///tree") == ["c"]
    gfile.DeleteRecursively("igfs:///tree")
    assert not gfile.Exists("igfs:///tree")


def test_write_10000_lines_one_write_at_a_time(gfile, fs):
    rows = 10_000
    with gfile.Open("igfs:///lines/1", "w") as w:
        for _ in range(rows):
            w.write("This is row\n")
    with gfile.Open("igfs:///lines/1", "r") as r:
        lines = r.readlines()
    assert lines == ["This is row\n"] * rows
    assert fs.stat("/lines/1").size == rows * len("This is row\n")
    gfile.Remove("igfs:///lines/1")
    assert not gfile.Exists("igfs:///lines/1")


def test_create_copy_and_remove_files(gfile, fs):
    gfile.MkDir("igfs:///files")
    with gfile.Open("igfs:///files/1", "w") as w:
        w.write("42")
    gfile.Copy("igfs:///files/1", "igfs:///files/2")
    with gfile.Open("igfs:///files/2", "r") as r:
        assert r.read() == "42"
    gfile.Remove("igfs:///files/1")
    gfile.Remove("igfs:///files/2")
    assert not gfile.Exists("igfs:///files/1")
    assert not gfile.Exists("igfs:///files/2")
    gfile.Remove("igfs:///files")
    assert fs.ls("/") == []
