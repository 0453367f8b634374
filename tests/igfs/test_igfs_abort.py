"""A write that fails publishes nothing, in every mode and face: an exception inside ``with`` (binary
and text, write and append), fsspec's ``OpenFile`` (which closes without saying why), pandas and
pyarrow writing through fsspec, fsspec transactions. The previous version stays readable and the
new blocks are dropped (counted by pyignite, an independent client, on the data cache). And what
``tf.io.gfile.GFile`` does, as the README states it."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from ignite_fast import igfs
from node_fixtures import SESSION_PORT

URL = f"igfs://127.0.0.1:{SESSION_PORT}"
OLD = b"previous version\n" * 500  # 8,500 bytes: 9 blocks of 1000


class Boom(Exception):
    pass


@pytest.fixture
def fs(cluster, monkeypatch, igfs_name):
    """A fresh file system with 1000-byte blocks, so a partial write spans stored blocks. TensorFlow
    finds it through the environment; fsspec is given its name (fsspec keeps one instance per
    storage options, whatever the environment says later)."""
    name = igfs_name
    monkeypatch.setenv("IGFS_FS_NAME", name)
    monkeypatch.setenv("IGFS_HOST", "127.0.0.1")
    monkeypatch.setenv("IGFS_PORT", str(SESSION_PORT))
    monkeypatch.setenv("IGFS_BLOCK_SIZE", "1000")
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=name, block_size=1000)
    fs.write_bytes("/f", OLD)
    return fs


def blocks(pyignite_client, fs) -> int:
    return pyignite_client.get_cache(fs.data_cache).get_size()


def _unchanged(fs, pyignite_client, count: int) -> None:
    assert fs.read_bytes("/f") == OLD
    assert blocks(pyignite_client, fs) == count, "the failed writer's blocks were not dropped"
    # nothing holds the file: a new appender gets it
    with fs.open("/f", "ab") as f:
        f.write(b"+")
    assert fs.read_bytes("/f") == OLD + b"+"


@pytest.mark.parametrize("mode", ["w", "wb", "a", "ab", "x", "xb"])
def test_an_exception_inside_with_publishes_nothing(fs, pyignite_client, mode):
    path = "/new" if "x" in mode else "/f"
    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom), fs.open(path, mode) as f:
        for _ in range(20):  # 20,000 bytes: blocks reach the cluster before the exception
            f.write("partial text, " * 70 + "\n" if "b" not in mode else b"partial bytes " * 71 + b"\n")
        f.flush()
        f.write("unflushed tail" if "b" not in mode else b"unflushed tail")
        raise Boom
    assert not fs.exists("/new")
    _unchanged(fs, pyignite_client, count)


def test_a_text_file_dropped_without_close_publishes_nothing(fs, pyignite_client):
    count = blocks(pyignite_client, fs)
    f = fs.open("/f", "w")
    f.write("x" * 5000)
    del f
    gc.collect()
    _unchanged(fs, pyignite_client, count)


def test_close_while_an_exception_propagates_aborts_but_not_one_handled_before_opening(fs, pyignite_client):
    count = blocks(pyignite_client, fs)

    def write_then_fail(f):
        try:
            f.write(b"y" * 5000)
            raise Boom
        finally:
            f.close()  # the exception is on its way out: abort

    with pytest.raises(Boom):
        write_then_fail(fs.open("/f", "wb"))
    _unchanged(fs, pyignite_client, count)
    # A file written inside an `except` block, for an exception raised before it was opened, is
    # published as usual.
    try:
        raise KeyError("cache miss")
    except KeyError:
        with fs.open("/g", "w") as f:
            f.write("fallback")
        f2 = fs.open("/h", "wb")
        f2.write(b"explicit")
        f2.close()
    assert fs.read_bytes("/g") == b"fallback"
    assert fs.read_bytes("/h") == b"explicit"
    # commit() publishes even while an exception is handled.
    try:
        f3 = fs.open("/i", "w")
        f3.write("kept on purpose")
        raise Boom
    except Boom:
        f3.commit()
    assert fs.read_bytes("/i") == b"kept on purpose"


@pytest.mark.parametrize("mode", ["w", "wb", "a", "ab"])
def test_fsspec_open_that_raises_publishes_nothing(fs, pyignite_client, mode):
    import fsspec

    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom), fsspec.open(f"{URL}/f", mode, name=fs.name) as f:
        f.write("z" * 5000 if "b" not in mode else b"z" * 5000)
        raise Boom
    _unchanged(fs, pyignite_client, count)
    # and one that does not raise publishes
    with fsspec.open(f"{URL}/f", mode, name=fs.name) as f:
        f.write("new" if "b" not in mode else b"new")
    expected = b"new" if "w" in mode else OLD + b"+" + b"new"
    assert fs.read_bytes("/f") == expected


def test_fsspec_filesystem_open_text_that_raises_publishes_nothing(fs, pyignite_client):
    import fsspec

    ffs = fsspec.filesystem("igfs", host="127.0.0.1", port=SESSION_PORT, name=fs.name)
    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom), ffs.open("/f", "w") as f:
        f.write("t" * 5000)
        raise Boom
    _unchanged(fs, pyignite_client, count)


def test_fsspec_transactions_commit_or_discard(fs, pyignite_client):
    import fsspec

    ffs = fsspec.filesystem("igfs", host="127.0.0.1", port=SESSION_PORT, name=fs.name)
    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom), ffs.transaction:
        with ffs.open("/f", "wb") as f:
            f.write(b"t" * 5000)
        with ffs.open("/other", "wb") as f:
            f.write(b"o")
        # closed, not published
        assert fs.read_bytes("/f") == OLD
        assert not fs.exists("/other")
        raise Boom
    assert not fs.exists("/other")
    _unchanged(fs, pyignite_client, count)
    with ffs.transaction:
        with ffs.open("/f", "wb") as f:
            f.write(b"both")
        with ffs.open("/other", "wb") as f:
            f.write(b"or neither")
        assert fs.read_bytes("/f") != b"both"
    assert fs.read_bytes("/f") == b"both"
    assert fs.read_bytes("/other") == b"or neither"


def test_pandas_to_csv_that_raises_publishes_nothing(fs, pyignite_client):
    import pandas as pd

    class Exploding:
        """A value whose text fails halfway through the table."""

        def __str__(self):
            raise Boom

    rows = 20_000
    df = pd.DataFrame({"a": np.arange(rows), "b": ["text"] * (rows - 1) + [Exploding()]})
    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom):
        df.to_csv(
            f"{URL}/f", index=False, chunksize=1000, storage_options={"name": fs.name}
        )  # 19 chunks written, the 20th fails
    _unchanged(fs, pyignite_client, count)
    df.iloc[:-1].to_csv(f"{URL}/f", index=False, storage_options={"name": fs.name})
    assert len(pd.read_csv(f"{URL}/f", storage_options={"name": fs.name})) == rows - 1


def test_pyarrow_write_that_raises_publishes_nothing(fs, pyignite_client):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow.fs import FSSpecHandler, PyFileSystem

    from ignite_fast.igfs_fsspec import IgfsFileSystem

    arrow_fs = PyFileSystem(FSSpecHandler(IgfsFileSystem("127.0.0.1", SESSION_PORT, name=fs.name)))
    table = pa.table({"x": np.arange(100_000, dtype=np.int64)})
    count = blocks(pyignite_client, fs)
    with pytest.raises(Boom), pq.ParquetWriter("/f", table.schema, filesystem=arrow_fs) as writer:
        writer.write_table(table)  # ~800 KB: written to the stream before the exception
        raise Boom
    _unchanged(fs, pyignite_client, count)

    def write_another_schema():  # pyarrow's own failure, leaving the writer's `with`
        with pq.ParquetWriter("/f", table.schema, filesystem=arrow_fs) as writer:
            writer.write_table(table)
            writer.write_table(pa.table({"y": ["other schema"]}))

    with pytest.raises(ValueError, match="schema does not match"):
        write_another_schema()
    assert fs.read_bytes("/f").startswith(OLD)
    pq.write_table(table, "/f", filesystem=arrow_fs)
    assert pq.read_table("/f", filesystem=arrow_fs).equals(table)


def test_gfile_publishes_on_close_even_through_an_exception(fs, pyignite_client):
    """What the README says tf.io.gfile.GFile can promise: GFile.__exit__ closes whatever happened,
    and the plugin cannot tell, so a `with` left by an exception publishes what was written. A
    GFile dropped without close() publishes nothing; a rename is atomic."""
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()
    with pytest.raises(Boom), tf.io.gfile.GFile("igfs:///f", "wb") as f:
        f.write(b"partial")
        raise Boom
    assert fs.read_bytes("/f") == b"partial"
    count = blocks(pyignite_client, fs)
    f = tf.io.gfile.GFile("igfs:///f", "wb")
    f.write(b"d" * 5000)
    f.flush()
    del f
    gc.collect()
    assert fs.read_bytes("/f") == b"partial"
    assert blocks(pyignite_client, fs) == count
    with tf.io.gfile.GFile("igfs:///f.tmp", "wb") as f:
        f.write(b"whole")
    tf.io.gfile.rename("igfs:///f.tmp", "igfs:///f", overwrite=True)
    assert fs.read_bytes("/f") == b"whole"
