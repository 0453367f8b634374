"""igfs:// through fsspec's entry point, as pandas, pyarrow and dask find it."""

from __future__ import annotations

import uuid

import fsspec


def test_fsspec_finds_igfs_and_round_trips(port):
    from ignite_fast.igfs_fsspec import IgfsFileSystem

    assert fsspec.get_filesystem_class("igfs") is IgfsFileSystem
    root = f"/fsspec-{uuid.uuid4().hex[:8]}"
    with fsspec.open(f"igfs://127.0.0.1:{port}{root}/a/x.bin", "wb") as f:  # parents are created
        f.write(b"\x00\x01" * 1000)
    fs = fsspec.filesystem("igfs", host="127.0.0.1", port=port)
    assert fs.ls(f"{root}/a", detail=False) == [f"{root}/a/x.bin"]
    assert fs.info(f"{root}/a/x.bin")["size"] == 2000
    fs.pipe_file(f"{root}/a/y.txt", b"hello")
    assert fs.cat_file(f"{root}/a/y.txt") == b"hello"
    with fs.open(f"{root}/a/x.bin", "rb") as f:
        f.seek(1)
        assert f.read(3) == b"\x01\x00\x01"
    fs.rm(root, recursive=True)
    assert not fs.exists(root)
