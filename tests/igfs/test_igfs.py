"""IGFS on the session node: round trips, random reads, appends, listings, path operations, and the
consistency promises (invisible until close, atomic rename, no interleaving writers, no orphan
blocks). Block counts are checked with pyignite, an independent client, on the data cache."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from pyignite.datatypes.cache_config import CacheAtomicityMode, WriteSynchronizationMode
from pyignite.datatypes.prop_codes import (
    PROP_BACKUPS_NUMBER,
    PROP_CACHE_ATOMICITY_MODE,
    PROP_NAME,
    PROP_READ_FROM_BACKUP,
    PROP_WRITE_SYNCHRONIZATION_MODE,
)

from ignite_fast import igfs
from ignite_fast.errors import (
    IgfsConflictError,
    IgfsCorruptError,
    IgfsDirectoryNotEmptyError,
    IgfsExistsError,
    IgfsIsADirectoryError,
    IgfsNotADirectoryError,
    IgfsNotFoundError,
)
from node_fixtures import SESSION_PORT


@pytest.fixture
def fs_name(igfs_name) -> str:
    return igfs_name


@pytest.fixture
def fs(cluster, fs_name):
    """A fresh file system (its own two caches) per test."""
    return igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)


@pytest.fixture
def small_blocks(cluster, fs_name):
    """The same file system with 1000-byte blocks, so that small files span many blocks."""
    return igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name, block_size=1000)


def data_blocks(pyignite_client, fs) -> int:
    """Entries in the data cache, counted by pyignite."""
    return pyignite_client.get_cache(fs.data_cache).get_size()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 5 * 1000 + 17, 123_457])
def test_round_trip_sizes_around_block_edges(small_blocks, size):
    data = os.urandom(size)
    small_blocks.write_bytes("/f.bin", data)
    assert small_blocks.stat("/f.bin").size == size
    assert sha(small_blocks.read_bytes("/f.bin")) == sha(data)
    with small_blocks.open("/f.bin", "rb") as f:  # many small reads through the buffered reader
        chunks = iter(lambda: f.read(313), b"")
        assert b"".join(chunks) == data


def test_large_file_round_trip_by_hash(fs, pyignite_client):
    size = 300 * 1024 * 1024 + 12345
    rng = random.Random(7)
    digest = hashlib.sha256()
    fs.makedirs("/big")
    with fs.open("/big/file.bin", "wb") as f:
        remaining = size
        while remaining:
            chunk = rng.randbytes(min(remaining, 7 * 1024 * 1024 + 3))
            digest.update(chunk)
            f.write(chunk)
            remaining -= len(chunk)
    assert fs.stat("/big/file.bin").size == size
    back = hashlib.sha256()
    with fs.open("/big/file.bin", "rb") as f:
        while chunk := f.read(5 * 1024 * 1024 + 1):
            back.update(chunk)
    assert back.hexdigest() == digest.hexdigest()
    assert data_blocks(pyignite_client, fs) == -(-size // fs.block_size)
    fs.rm("/big", recursive=True)
    assert data_blocks(pyignite_client, fs) == 0


def test_random_reads_at_arbitrary_offsets(small_blocks):
    data = os.urandom(50_000)
    small_blocks.write_bytes("/r.bin", data)
    rng = random.Random(3)
    with small_blocks.open("/r.bin", "rb") as f:
        for _ in range(300):
            offset = rng.randrange(0, len(data) + 10)
            n = rng.randrange(0, 4000)
            f.seek(offset)
            assert f.read(n) == data[offset : offset + n]
        f.seek(-5, os.SEEK_END)
        assert f.read() == data[-5:]
        assert f.tell() == len(data)


def test_appends_extend_partial_blocks(small_blocks, pyignite_client):
    expected = b""
    for i, size in enumerate([0, 10, 990, 1, 2500, 7]):
        piece = os.urandom(size)
        with small_blocks.open("/log.bin", "ab") as f:
            f.write(piece)
        expected += piece
        assert small_blocks.read_bytes("/log.bin") == expected, f"after append {i}"
    assert data_blocks(pyignite_client, small_blocks) == -(-len(expected) // 1000)
    with small_blocks.open("/log.txt", "a") as f:  # text append creates the file
        f.write("one\n")
    with small_blocks.open("/log.txt", "a") as f:
        f.write("two\n")
    with small_blocks.open("/log.txt", "r") as f:
        assert f.read() == "one\ntwo\n"


def test_listing_after_many_creates_and_deletes(fs, pyignite_client):
    fs.makedirs("/d/sub")
    names = [f"f{i:03d}" for i in range(120)]
    for n in names:
        fs.write_bytes(f"/d/{n}", n.encode())
    for n in names[::3]:
        fs.rm(f"/d/{n}")
    kept = sorted(set(names) - set(names[::3]))
    assert fs.ls("/d") == sorted([f"/d/{n}" for n in kept] + ["/d/sub"])  # sorted by name
    detail = {s.path: s for s in fs.ls("/d", detail=True)}
    assert detail["/d/sub"].is_dir
    assert detail["/d/f001"].size == 4
    assert sorted(fs.ls("/", recursive=True)) == sorted(["/d", "/d/sub"] + [f"/d/{n}" for n in kept])
    walked = list(fs.walk("/"))
    assert walked[0] == ("/", ["d"], [])
    assert walked[1][0] == "/d"
    assert walked[1][1] == ["sub"]
    assert sorted(walked[1][2]) == kept
    assert data_blocks(pyignite_client, fs) == len(kept)


def test_path_operations_and_their_errors(fs):
    fs.mkdir("/a")
    with pytest.raises(IgfsExistsError):
        fs.mkdir("/a")
    fs.mkdir("/a", exist_ok=True)
    with pytest.raises(IgfsNotFoundError):
        fs.mkdir("/x/y")
    fs.mkdir("/x/y", parents=True)
    fs.write_bytes("/a/file", b"1")
    with pytest.raises(IgfsNotADirectoryError):
        fs.mkdir("/a/file/sub", parents=True)
    with pytest.raises(IgfsNotADirectoryError):
        fs.ls("/a/file")
    with pytest.raises(IgfsIsADirectoryError):
        fs.open("/a", "rb")
    with pytest.raises(IgfsIsADirectoryError):
        fs.open("/a", "wb")
    with pytest.raises(IgfsNotFoundError):
        fs.open("/nope/file", "wb")
    with pytest.raises(FileNotFoundError):  # the built-in kinds work in generic handlers
        fs.open("/missing", "rb")
    with pytest.raises(IgfsDirectoryNotEmptyError):
        fs.rm("/a")
    with pytest.raises(IgfsExistsError):
        fs.open("/a/file", "xb")
    # Renames: a file, a directory with its subtree, into itself (refused), over a directory.
    fs.rename("/a/file", "/a/renamed")
    assert fs.ls("/a") == ["/a/renamed"]
    fs.write_bytes("/x/y/deep", b"deep")
    fs.rename("/x", "/a/x")
    assert fs.read_bytes("/a/x/y/deep") == b"deep"
    assert not fs.exists("/x")
    with pytest.raises(ValueError, match="into itself"):
        fs.rename("/a", "/a/x/inside")
    with pytest.raises(IgfsIsADirectoryError):
        fs.rename("/a/renamed", "/a/x")
    with pytest.raises(IgfsNotFoundError):
        fs.rename("/nothing", "/a/other")
    fs.rm("/", recursive=True)
    assert fs.ls("/") == []
    assert fs.isdir("/")
    assert fs.exists("igfs://127.0.0.1:1/") is True  # a URL's path is used; host picked the client


def test_writes_are_invisible_until_close(fs):
    fs.write_bytes("/v", b"old version")
    f = fs.open("/v", "wb")
    f.write(b"new" * 1000)
    f.flush()
    assert fs.read_bytes("/v") == b"old version"
    g = fs.open("/fresh", "wb")
    g.write(b"x")
    g.flush()
    assert not fs.exists("/fresh")
    assert fs.ls("/") == ["/v"]
    f.close()
    g.close()
    assert fs.read_bytes("/v") == b"new" * 1000
    assert fs.read_bytes("/fresh") == b"x"


def test_exception_inside_with_publishes_nothing(fs, pyignite_client):
    fs.write_bytes("/keep", b"keep me")
    # the exception leaves the writer's `with`: the block is the test
    with pytest.raises(RuntimeError, match="interrupted"), fs.open("/keep", "wb") as f:  # noqa: PT012
        f.write(os.urandom(3 * fs.block_size))
        raise RuntimeError("interrupted")
    assert fs.read_bytes("/keep") == b"keep me"
    assert data_blocks(pyignite_client, fs) == 1  # the aborted writer's blocks are gone


def test_sync_publishes_and_keeps_writing(small_blocks):
    f = small_blocks.open("/events", "wb")
    f.write(b"a" * 1500)
    f.sync()
    assert small_blocks.read_bytes("/events") == b"a" * 1500
    f.write(b"b" * 700)
    assert small_blocks.read_bytes("/events") == b"a" * 1500
    with pytest.raises(IgfsConflictError):  # the file is leased to the open writer
        small_blocks.open("/events", "ab")
    f.close()
    assert small_blocks.read_bytes("/events") == b"a" * 1500 + b"b" * 700


def test_concurrent_writers_do_not_interleave(small_blocks, pyignite_client):
    payloads = [bytes([65 + i]) * 4500 for i in range(4)]
    writers = [small_blocks.open("/same", "wb") for _ in payloads]
    for offset in range(0, 4500, 900):  # interleave their writes block by block
        for w, p in zip(writers, payloads):
            w.write(p[offset : offset + 900])
    order = [2, 0, 3, 1]
    for i in order:
        writers[i].close()
    assert small_blocks.read_bytes("/same") == payloads[order[-1]]  # the last to close wins
    assert data_blocks(pyignite_client, small_blocks) == 5  # the losers' blocks were trashed
    # Exclusive creation: one wins, the other fails at close and leaves nothing behind.
    a, b = small_blocks.open("/only", "xb"), small_blocks.open("/only", "xb")
    a.write(b"a")
    b.write(b"b")
    a.close()
    with pytest.raises(IgfsExistsError):
        b.close()
    assert small_blocks.read_bytes("/only") == b"a"
    # Appenders: the second fails at open, the first completes.
    first = small_blocks.open("/only", "ab")
    with pytest.raises(IgfsConflictError):
        small_blocks.open("/only", "ab")
    with pytest.raises(IgfsConflictError):  # replacing it meanwhile fails too
        small_blocks.write_bytes("/only", b"replace")
    first.write(b"+")
    first.close()
    assert small_blocks.read_bytes("/only") == b"a+"


def test_reader_during_replacement_never_mixes_versions(small_blocks):
    old, new = b"o" * 20_000, b"n" * 30_000
    small_blocks.write_bytes("/f", old)
    reader = small_blocks.open("/f", "rb")
    assert reader.read(1000) == old[:1000]
    small_blocks.write_bytes("/f", new)
    # The open reader's version is gone: it fails instead of returning the new version's bytes.
    with pytest.raises(IgfsConflictError):
        reader.read()
    assert small_blocks.read_bytes("/f") == new


def test_rename_over_existing_file_is_atomic(small_blocks):
    versions = {bytes([48 + i]) * 7000 for i in range(10)}
    small_blocks.write_bytes("/model", b"0" * 7000)
    stop = threading.Event()
    seen, errors = set(), []

    def read_loop():
        while not stop.is_set():
            try:
                seen.add(small_blocks.read_bytes("/model"))
            except IgfsConflictError:
                pass  # replaced between opening and reading: fine, never mixed
            except Exception as e:  # anything else fails the test
                errors.append(e)

    threads = [threading.Thread(target=read_loop) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 10):
            small_blocks.write_bytes("/tmp-model", bytes([48 + i]) * 7000)
            small_blocks.rename("/tmp-model", "/model")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors
    assert seen <= versions
    assert len(seen) >= 1
    assert small_blocks.read_bytes("/model") == b"9" * 7000
    assert small_blocks.ls("/") == ["/model"]


def test_recursive_delete_leaves_no_orphan_blocks(small_blocks, pyignite_client):
    small_blocks.makedirs("/tree/a/b")
    for i in range(30):
        small_blocks.write_bytes(f"/tree/a/b/f{i}", os.urandom(2500))
        small_blocks.write_bytes(f"/tree/g{i}", os.urandom(999))
    assert data_blocks(pyignite_client, small_blocks) == 30 * 3 + 30
    small_blocks.rm("/tree", recursive=True)
    assert data_blocks(pyignite_client, small_blocks) == 0
    assert small_blocks.ls("/") == []
    assert small_blocks.gc(older_than=0) == {
        "trash_records": 0,
        "abandoned_writers": 0,
        "blocks_deleted": 0,
        "restored": 0,
        "orphan_blocks": 0,
    }


def test_killed_writer_keeps_old_content_and_gc_removes_its_blocks(fs, fs_name, pyignite_client, tmp_path):
    fs.write_bytes("/ckpt", b"the good version")
    marker = tmp_path / "written"
    script = textwrap.dedent(f"""
        import os, time
        from ignite_fast import igfs
        fs = igfs.IgniteFileSystem("127.0.0.1", {SESSION_PORT}, name={fs_name!r})
        f = fs.open("/ckpt", "wb")
        f.write(os.urandom(5 * fs.block_size + 10))
        f.flush()
        open({str(marker)!r}, "w").close()
        time.sleep(600)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None, "the writer died early"
            assert time.monotonic() < deadline, "the writer did not get going"
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.kill()
        proc.wait()
    assert fs.read_bytes("/ckpt") == b"the good version"
    assert data_blocks(pyignite_client, fs) == 1 + 5  # its full blocks are stored, unreachable
    assert fs.gc(older_than=3600)["abandoned_writers"] == 0  # too recent: might still be alive
    report = fs.gc(older_than=0)
    assert report["abandoned_writers"] == 1
    assert report["blocks_deleted"] >= 5
    assert data_blocks(pyignite_client, fs) == 1
    assert fs.read_bytes("/ckpt") == b"the good version"


def test_foreign_bytes_in_the_metadata_cache_are_reported(fs, pyignite_client):
    from pyignite.datatypes import ByteArrayObject

    fs.mkdir("/d")
    pyignite_client.get_cache(fs.meta_cache).put("/d", b"not an igfs entry", value_hint=ByteArrayObject)
    with pytest.raises(IgfsCorruptError, match="/d"):
        fs.stat("/d")


def test_module_level_open_uses_the_url(cluster, monkeypatch, fs_name):
    monkeypatch.setenv("IGFS_FS_NAME", fs_name)
    with igfs.open(f"igfs://127.0.0.1:{SESSION_PORT}/hello.txt", "w") as f:
        f.write("hi")
    with igfs.open(f"igfs://127.0.0.1:{SESSION_PORT}/hello.txt", "r") as f:
        assert f.read() == "hi"
    monkeypatch.setenv("IGFS_PORT", str(SESSION_PORT))
    assert igfs.connect().read_bytes("/hello.txt") == b"hi"


def test_cli(cluster, fs_name, tmp_path):
    env = dict(os.environ, IGFS_PORT=str(SESSION_PORT), IGFS_FS_NAME=fs_name)
    local = tmp_path / "in.bin"
    local.write_bytes(os.urandom(3_000_001))

    def cli(*args, **kw):
        return subprocess.run(
            [sys.executable, "-m", "ignite_fast.cli", "fs", *args], env=env, capture_output=True, timeout=120, **kw
        )

    assert cli("mkdir", "-p", "/c/d").returncode == 0
    assert cli("put", str(local), "/c/d/in.bin").returncode == 0
    assert cli("cat", "/c/d/in.bin").stdout == local.read_bytes()
    assert cli("mv", "/c/d/in.bin", "/c/out.bin").returncode == 0
    listing = cli("ls", "-R", "-l", "/").stdout.decode()
    assert "/c/out.bin" in listing
    assert "3000001" in listing
    out = tmp_path / "out.bin"
    assert cli("get", f"igfs://127.0.0.1:{SESSION_PORT}/c/out.bin", str(out)).returncode == 0
    assert out.read_bytes() == local.read_bytes()
    failed = cli("rm", "/c")
    assert failed.returncode == 1
    assert b"not empty" in failed.stderr
    assert cli("rm", "-r", "/c").returncode == 0
    assert cli("ls", "/").stdout == b""
    assert b"blocks deleted: 0" in cli("gc").stdout
    assert b"orphan blocks: 0" in cli("gc", "--orphans").stdout


def test_explicit_cache_names_and_existing_caches(cluster, pyignite_client, fs_name):
    # Caches that exist already (as if configured on the nodes) are used as they are.
    meta, data = f"{fs_name}_files", f"{fs_name}_blocks"
    pyignite_client.create_cache(
        {
            PROP_NAME: meta,
            PROP_CACHE_ATOMICITY_MODE: CacheAtomicityMode.TRANSACTIONAL,
            PROP_BACKUPS_NUMBER: 1,
            PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.FULL_SYNC,
        }
    )
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, meta_cache=meta, data_cache=data, block_size=4096)
    assert (fs.meta_cache, fs.data_cache, fs.block_size) == (meta, data, 4096)
    fs.write_bytes("/x", os.urandom(10_000))
    assert data_blocks(pyignite_client, fs) == 3
    assert {meta, data} <= set(pyignite_client.get_cache_names())


def test_an_atomic_metadata_cache_is_refused_clearly(cluster, pyignite_client, fs_name):
    pyignite_client.get_or_create_cache(f"{fs_name}_atomic")  # ATOMIC by default
    with pytest.raises(ValueError, match="must be TRANSACTIONAL"):
        igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, meta_cache=f"{fs_name}_atomic", data_cache=f"{fs_name}_d")


@pytest.mark.parametrize("which", ["meta", "data"])
def test_a_cache_that_could_read_a_stale_copy_is_refused_clearly(cluster, pyignite_client, fs_name, which):
    """Ignite's defaults acknowledge a write once the primary copy has it (PRIMARY_SYNC) and serve
    reads from backup copies: a file just written could read as missing there. Such a cache made
    by others is refused, naming the two settings that mend it; with either, it is used."""
    meta, data = f"{fs_name}_{which}_m", f"{fs_name}_{which}_d"
    settings = {PROP_BACKUPS_NUMBER: 1, PROP_WRITE_SYNCHRONIZATION_MODE: WriteSynchronizationMode.PRIMARY_SYNC}
    if which == "meta":
        settings[PROP_CACHE_ATOMICITY_MODE] = CacheAtomicityMode.TRANSACTIONAL
    stale = meta if which == "meta" else data
    try:
        pyignite_client.create_cache({PROP_NAME: stale, **settings})
        with pytest.raises(ValueError, match=f"'{stale}' acknowledges writes before .* readFromBackup=false"):
            igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, meta_cache=meta, data_cache=data)
        pyignite_client.get_cache(stale).destroy()
        pyignite_client.create_cache({PROP_NAME: stale, **settings, PROP_READ_FROM_BACKUP: False})
        fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, meta_cache=meta, data_cache=data)
        fs.write_bytes("/x", b"kept")
        assert fs.read_bytes("/x") == b"kept"
    finally:
        for cache in {meta, data} & set(pyignite_client.get_cache_names()):
            pyignite_client.get_cache(cache).destroy()


def test_writes_take_any_bytes_like_object(fs, fs_name):
    """pyarrow hands writers its Buffer (a signed 'b' buffer): pyarrow.fs.PyFileSystem over fsspec
    wrote nothing before writes cast every bytes-like view to unsigned bytes."""
    import array

    import numpy as np
    import pyarrow as pa

    with fs.open("/bytes_like.bin", "wb") as f:
        f.write(pa.py_buffer(b"arrow "))
        f.write(memoryview(b"signed ").cast("b"))
        f.write(array.array("i", [1]))
        f.write(np.arange(2, dtype=np.uint16))
    assert (
        fs.read_bytes("/bytes_like.bin")
        == b"arrow signed " + array.array("i", [1]).tobytes() + np.arange(2, dtype=np.uint16).tobytes()
    )
    from pyarrow import fs as pafs

    from ignite_fast.igfs_fsspec import IgfsFileSystem

    handler = pafs.PyFileSystem(pafs.FSSpecHandler(IgfsFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)))
    with handler.open_output_stream("/through_pyarrow.bin") as out:
        out.write(b"through pyarrow")
    assert fs.read_bytes("/through_pyarrow.bin") == b"through pyarrow"
