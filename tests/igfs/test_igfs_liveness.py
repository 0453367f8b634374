"""IGFS writers that live long, pause, die or lose their lease, on the session node:
- gc never takes a writer that keeps working for dead (its sign of life: every write, flush, block
  put and sync), and still collects the blocks of one that was killed;
- a writer gc did take for dead publishes nothing and fails with IgfsConflictError;
- an appender renews its lease as it writes, and stops once another appender took the file;
- a missing root is a typed error, not a panic;
- a native call that waits on the cluster lets the other Python threads run.
Block counts are checked with pyignite, an independent client, on the data cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from pyignite import Client as PyIgniteClient

from ignite_fast import _native, igfs
from ignite_fast._options import ConnectionSettings
from ignite_fast.errors import IgfsConflictError, IgfsNotFoundError, IgniteError
from node_fixtures import SESSION_PORT

# How often a writer refreshes its sign of life at most (HEARTBEAT in
# rust/ignite-core/src/igfs/writer.rs); the tests wait longer than this where they need a refresh.
HEARTBEAT = 0.25
BLOCK = 1000


@pytest.fixture
def fs_name(igfs_name) -> str:
    return igfs_name


@pytest.fixture
def fs(cluster, fs_name):
    """A fresh file system (its own two caches) with 1000-byte blocks."""
    return igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name, block_size=BLOCK)


def native_fs(fs_name: str, **settings) -> _native.NativeIgfs:
    """The same file system through the native handle, with settings the facade does not take
    (a short lease)."""
    spec = ConnectionSettings.make("127.0.0.1", SESSION_PORT).native_spec()
    return _native.NativeIgfs(spec, fs_name, block_size=BLOCK, **settings)


def data_blocks(pyignite_client, fs) -> int:
    """Entries in the data cache, counted by pyignite."""
    return pyignite_client.get_cache(fs.data_cache).get_size()


def pending_keys(pyignite_client, fs) -> list[str]:
    """The writers' pending records in the metadata cache, read by pyignite."""
    with pyignite_client.get_cache(fs.meta_cache).scan() as cursor:
        return [key for key, _ in cursor if key.startswith("~pending/")]


def test_gc_leaves_a_writer_that_flushes_alone(fs, fs_name, pyignite_client):
    """The review's scenario: flushes every 0.5 s for 4 s, gc(older_than=1) all the while."""
    fs.write_bytes("/log", b"the old log")
    collector = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)  # as another process would
    stop = threading.Event()
    reports: list[dict] = []

    def collect():
        while not stop.is_set():
            reports.append(collector.gc(older_than=1))
            time.sleep(0.1)

    thread = threading.Thread(target=collect)
    thread.start()
    written = bytearray()
    try:
        with fs.open("/log", "wb") as f:
            for i in range(8):
                line = bytes([65 + i]) * 700  # fewer than 64 blocks in all, as a log writer's
                f.write(line)
                f.flush()
                written += line
                time.sleep(0.5)
                runs = len(reports)
                while len(reports) == runs:  # at least one whole gc between two flushes
                    assert thread.is_alive(), "the collector failed"
                    time.sleep(0.01)
    finally:
        stop.set()
        thread.join()
    assert all(r["abandoned_writers"] == 0 for r in reports), reports
    assert fs.read_bytes("/log") == bytes(written)
    assert data_blocks(pyignite_client, fs) == -(-len(written) // BLOCK)  # the old version's block went
    assert pending_keys(pyignite_client, fs) == []


def test_gc_collects_a_killed_writer_once_older_than_has_passed(fs, fs_name, pyignite_client, tmp_path):
    fs.write_bytes("/ckpt", b"the good version")
    marker = tmp_path / "written"
    script = textwrap.dedent(f"""
        import os, time
        from ignite_fast import igfs
        fs = igfs.IgniteFileSystem("127.0.0.1", {SESSION_PORT}, name={fs_name!r}, block_size={BLOCK})
        f = fs.open("/ckpt", "wb")
        f.write(os.urandom(5 * {BLOCK} + 10))
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
    finally:
        proc.kill()
        proc.wait()
    assert data_blocks(pyignite_client, fs) == 1 + 5  # its full blocks are stored, unreachable
    assert fs.gc(older_than=60)["abandoned_writers"] == 0  # too recent: might still be alive
    time.sleep(1.5)  # the killed writer's last sign of life is now more than a second old
    report = fs.gc(older_than=1)
    assert report["abandoned_writers"] == 1
    assert report["blocks_deleted"] >= 5
    assert data_blocks(pyignite_client, fs) == 1
    assert pending_keys(pyignite_client, fs) == []
    assert fs.read_bytes("/ckpt") == b"the good version"
    assert fs.gc(older_than=0)["abandoned_writers"] == 0


def test_a_writer_gc_took_for_dead_publishes_nothing(fs, pyignite_client):
    fs.write_bytes("/model", b"version 1")
    paused = fs.open("/model", "wb")
    paused.write(os.urandom(3 * BLOCK))
    paused.flush()
    time.sleep(1.5)  # a pause longer than gc's older_than below
    assert fs.gc(older_than=1)["abandoned_writers"] == 1
    with pytest.raises(IgfsConflictError, match="gc took the writer"):
        paused.close()  # the publish re-checks the writer's record: its blocks are gone
    assert fs.read_bytes("/model") == b"version 1"
    assert data_blocks(pyignite_client, fs) == 1

    # The same found out by a write (block puts and the sign of life check the record too).
    writing = fs.open("/model", "wb")
    writing.write(b"x" * 10)
    time.sleep(1.5)
    assert fs.gc(older_than=1)["abandoned_writers"] == 1
    with pytest.raises(IgfsConflictError, match="gc took the writer"):
        writing.write(b"y" * 10)
    with pytest.raises(IgfsConflictError):  # and it stays ended
        writing.close()
    assert fs.read_bytes("/model") == b"version 1"
    assert pending_keys(pyignite_client, fs) == []


def test_gc_keeps_what_a_paused_writer_synced(fs, pyignite_client):
    events = fs.open("/events", "wb")
    events.write(b"a" * 2500)
    events.sync()  # published: 3 blocks, the last one partly filled
    events.write(b"b" * 2500)
    events.flush()
    time.sleep(1.5)
    report = fs.gc(older_than=1)
    assert report["abandoned_writers"] == 1
    assert fs.read_bytes("/events") == b"a" * 2500  # whole: gc only took the unpublished blocks
    with pytest.raises(IgfsConflictError):
        events.close()
    assert fs.read_bytes("/events") == b"a" * 2500
    assert data_blocks(pyignite_client, fs) == 3


def test_an_appender_renews_its_lease_and_stops_once_another_took_it(fs, fs_name, pyignite_client):
    base = b"=" * 1500
    fs.write_bytes("/f", base)
    leased = native_fs(fs_name, lease=1.0)
    first = leased.create("/f", "a")
    for _ in range(12):  # 3 s of writing, three times the lease
        first.write(b"a" * 300)
        time.sleep(0.25)
        with pytest.raises(IgfsConflictError):  # renewed as it writes: still first's
            leased.create("/f", "a")
    time.sleep(1.5)  # first pauses longer than its lease
    second = leased.create("/f", "a")  # so the file is free again
    second.write(b"b" * 2500)
    with pytest.raises(IgfsConflictError, match="lease ran out"):
        first.write(b"a" * 2500)  # never into second's file
    second.close()
    with pytest.raises(IgfsConflictError):
        first.close()
    assert fs.read_bytes("/f") == base + b"b" * 2500
    # first's unpublished blocks past second's end went with second's close: nothing is left over.
    assert data_blocks(pyignite_client, fs) == -(-(1500 + 2500) // BLOCK)
    assert pending_keys(pyignite_client, fs) == []


def test_an_appender_whose_lease_ran_out_unclaimed_goes_on(fs, fs_name):
    fs.write_bytes("/f", b"=" * 10)
    leased = native_fs(fs_name, lease=1.0)
    appender = leased.create("/f", "a")
    appender.write(b"a" * 10)
    time.sleep(1.5)  # the lease runs out, but nobody takes the file meanwhile
    appender.write(b"b" * 2000)
    appender.close()
    assert fs.read_bytes("/f") == b"=" * 10 + b"a" * 10 + b"b" * 2000


def test_mkdir_without_the_root_entry_is_a_typed_error(fs, fs_name, pyignite_client):
    pyignite_client.get_cache(fs.meta_cache).remove_key("/")
    with pytest.raises(IgfsNotFoundError, match="root") as caught:
        fs.makedirs("/a/b")
    assert isinstance(caught.value, IgniteError)
    with pytest.raises(IgfsNotFoundError):
        fs.mkdir("/")
    # Connecting again recreates the root.
    again = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=fs_name)
    again.makedirs("/a/b")
    assert again.isdir("/a/b")


@pytest.mark.parametrize("call", ["write", "drop"])
def test_a_writer_waiting_on_the_cluster_lets_other_threads_run(fs, fs_name, pyignite_client, call):
    """Another client holds a lock on the writer's record; the writer's small write (its sign of
    life) or its drop (which removes the record) waits for that lock. The lock holder is a Python
    thread here: it can only let go if the waiting native call released the GIL."""
    writer = native_fs(fs_name).create("/f", "w")
    writer.write(memoryview(b"x" * 10))
    [key] = pending_keys(pyignite_client, fs)
    locked, go, in_call = threading.Event(), threading.Event(), threading.Event()
    seen_in_call: list[bool] = []

    def hold_the_lock():
        client = PyIgniteClient()
        client.connect("127.0.0.1", SESSION_PORT)
        try:
            meta = client.get_cache(fs.meta_cache)
            with client.tx_start(timeout=30_000) as tx:
                meta.get(key)  # a pessimistic read locks the writer's record
                locked.set()
                go.wait(60)
                time.sleep(0.5)  # the native call waits on the lock by now
                seen_in_call.append(in_call.is_set())
                tx.commit()
        finally:
            client.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        assert locked.wait(60)
        time.sleep(2 * HEARTBEAT)  # so the next write refreshes the record
        in_call.set()
        go.set()
        if call == "write":
            writer.write(memoryview(b"y"))
        else:
            del writer
        in_call.clear()
    finally:
        go.set()
        holder.join()
    assert seen_in_call == [True]
