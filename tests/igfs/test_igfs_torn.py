"""A transaction the server applied in part loses no data.

Ignite 2.17 can apply a thin-client transaction in part when the client's connection closes while
the server commits it: the server's cleanup of the lost connection rolls the transaction back
while the commit is under way. rust/ignite-core/examples/torn_commit.rs, which closes the socket
right after each commit request, saw 60 of 4,000 such commits come out torn (a rename's
destination written, its source and parent not) on a node that had served half an hour of killed
IGFS writers, and none of 10,000 on freshly started nodes. A process killed inside `rename` can
therefore leave its file under both names (or, in principle, under neither), any killed commit
can leave a trash record for a version a path still names, and a killed overwrite or delete can
drop a version without its trash record (its blocks then have nothing referring to them).

These tests build those states with pyignite, as the server leaves them, and check that later
renames, deletes and `gc` keep every version a path names whole, and collect the rest (the
unreferenced blocks with `gc(orphans=True)`, which must spare a live writer's and a version a
rename is moving). The crash test (test_igfs_crash.py) meets the same states by chance."""

from __future__ import annotations

import threading

from igfs_format import file_version, moving_mark, orphan_record, trash_record
from pyignite.datatypes import ByteArrayObject

from ignite_fast import igfs
from node_fixtures import SESSION_PORT

BLOCK = 1024
A, B, C = (bytes([n]) * (3 * BLOCK + 100) for n in (1, 2, 3))


def file_id(meta, path: str) -> bytes:
    version = file_version(meta.get(path))
    assert version is not None, path
    return version[0]


def bookkeeping(meta) -> list[str]:
    with meta.scan() as cursor:
        return sorted(key for key, _ in cursor if not key.startswith("/"))


def blocks_of(data, id_: bytes, count: int) -> int:
    return sum(data.contains_key(f"{id_.hex()}/{i}") for i in range(count))


def test_a_rename_applied_in_part_keeps_both_names_whole_until_both_are_gone(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.mkdir("/d")
    for path, data in (("/d/tmp", A), ("/d/r", B), ("/d/next", C), ("/d/a", C)):
        fs.write_bytes(path, data)
    meta = pyignite_client.get_cache(fs.meta_cache)
    data = pyignite_client.get_cache(fs.data_cache)

    # A whole rename leaves no mark behind.
    fs.rename("/d/a", "/d/b")
    assert bookkeeping(meta) == []

    # What a rename(tmp -> r) killed during its commit can leave: r names tmp's version and r's
    # old version is trash, but tmp is still there; the mark was stored before the commit.
    moved, old = file_id(meta, "/d/tmp"), file_id(meta, "/d/r")
    entry = bytes(meta.get("/d/tmp"))
    meta.put("/d/r", entry, value_hint=ByteArrayObject)
    meta.put(f"~trash/{old.hex()}", trash_record(4), value_hint=ByteArrayObject)
    meta.put(f"~moving/{moved.hex()}", moving_mark("/d/r", entry), value_hint=ByteArrayObject)
    assert fs.read_bytes("/d/r") == fs.read_bytes("/d/tmp") == A

    # gc deletes the old version and keeps the mark while two names share the moved one.
    fs.gc(older_than=0)
    assert blocks_of(data, old, 4) == 0
    assert bookkeeping(meta) == [f"~moving/{moved.hex()}"]
    assert fs.read_bytes("/d/r") == fs.read_bytes("/d/tmp") == A

    # Replacing one name keeps the version for the other (its blocks were deleted here before).
    fs.rename("/d/next", "/d/r")
    assert fs.read_bytes("/d/r") == C
    assert fs.read_bytes("/d/tmp") == A
    assert blocks_of(data, moved, 4) == 4
    assert bookkeeping(meta) == []

    # Once the last name goes, its blocks go too.
    fs.rm("/d/tmp")
    assert blocks_of(data, moved, 4) == 0
    assert fs.ls("/d") == ["/d/b", "/d/r"]
    assert bookkeeping(meta) == []


def test_a_trash_record_for_a_version_a_path_still_names_does_not_delete_it(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.write_bytes("/f", A)
    meta = pyignite_client.get_cache(fs.meta_cache)
    # A killed overwrite of /f whose commit stored the trash record of /f's version but not the
    # new entry.
    id_ = file_id(meta, "/f")
    meta.put(f"~trash/{id_.hex()}", trash_record(4), value_hint=ByteArrayObject)

    report = fs.gc(older_than=0)
    assert report["blocks_deleted"] == 0, report
    assert fs.read_bytes("/f") == A
    assert bookkeeping(meta) == []

    # The file is replaced and removed as usual afterwards.
    fs.write_bytes("/f", B)
    assert blocks_of(pyignite_client.get_cache(fs.data_cache), id_, 4) == 0
    fs.rm("/f")
    assert pyignite_client.get_cache(fs.data_cache).get_size() == 0


def test_a_rename_to_a_new_name_applied_in_part_is_listed_once_written_again(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.write_bytes("/x", A)
    meta = pyignite_client.get_cache(fs.meta_cache)
    # A rename(x -> new) killed during its commit: the entry of "new" was stored, the directory
    # and the removal of "x" were not.
    moved = file_id(meta, "/x")
    entry = bytes(meta.get("/x"))
    meta.put("/new", entry, value_hint=ByteArrayObject)
    meta.put(f"~moving/{moved.hex()}", moving_mark("/new", entry), value_hint=ByteArrayObject)
    assert fs.ls("/") == ["/x"]
    assert fs.read_bytes("/new") == A

    # Writing "new" lists it, and keeps the version "x" still names.
    fs.write_bytes("/new", B)
    assert fs.ls("/") == ["/new", "/x"]
    assert fs.read_bytes("/new") == B
    assert fs.read_bytes("/x") == A
    assert bookkeeping(meta) == []


def test_a_rename_that_lost_both_names_gets_its_new_name_back_from_gc(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.mkdir("/d")
    fs.write_bytes("/d/x", A)
    meta = pyignite_client.get_cache(fs.meta_cache)
    # A rename(x -> y) killed during its commit whose removal of "x" was applied and whose new
    # entry was not: no path names the version, and nothing trashed it.
    moved, entry = file_id(meta, "/d/x"), bytes(meta.get("/d/x"))
    meta.put(f"~moving/{moved.hex()}", moving_mark("/d/y", entry), value_hint=ByteArrayObject)
    meta.remove_key("/d/x")
    assert fs.ls("/d") == []

    report = fs.gc(older_than=0)
    assert report["restored"] == 1, report
    assert report["blocks_deleted"] == 0, report
    assert fs.ls("/d") == ["/d/y"]
    assert fs.read_bytes("/d/y") == A
    assert bookkeeping(meta) == []
    assert fs.gc(older_than=0)["restored"] == 0


def test_blocks_that_an_overwrite_or_delete_applied_in_part_left_go_with_gc_orphans(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.mkdir("/d")
    fs.write_bytes("/d/f", A)
    fs.write_bytes("/d/g", B)
    fs.write_bytes("/d/h", C)
    meta = pyignite_client.get_cache(fs.meta_cache)
    data = pyignite_client.get_cache(fs.data_cache)
    # An overwrite of f and a delete of g, each killed during its commit, whose entries were
    # stored (f names its new version, g is gone) and whose trash records were not: the old
    # versions' blocks stay and nothing refers to them.
    leaked = {}
    for path in ("/d/f", "/d/g"):
        id_ = file_id(meta, path)
        leaked[id_] = {f"{id_.hex()}/{i}": bytes(data.get(f"{id_.hex()}/{i}")) for i in range(4)}
    fs.write_bytes("/d/f", C)
    fs.rm("/d/g")
    for blocks in leaked.values():
        for key, value in blocks.items():
            data.put(key, value, value_hint=ByteArrayObject)

    # A plain gc does not look for them.
    assert fs.gc(older_than=0)["orphan_blocks"] == 0
    assert all(blocks_of(data, id_, 4) == 4 for id_ in leaked)

    report = fs.gc(older_than=0, orphans=True)
    assert report["orphan_blocks"] == 8, report
    assert all(blocks_of(data, id_, 4) == 0 for id_ in leaked)
    assert fs.ls("/d") == ["/d/f", "/d/h"]
    assert fs.read_bytes("/d/f") == fs.read_bytes("/d/h") == C
    assert data.get_size() == 8  # the two files' blocks, nothing else
    assert bookkeeping(meta) == []
    assert fs.gc(older_than=0, orphans=True)["orphan_blocks"] == 0


def test_gc_orphans_keeps_a_live_writers_blocks_and_every_named_version(igfs_name, pyignite_client):
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.write_bytes("/kept", A)
    data = pyignite_client.get_cache(fs.data_cache)
    with fs.open("/w", "wb") as f:
        f.write(B)  # three whole blocks stored, unpublished; the writer's pending record names them
        f.flush()
        # A gc that took the writer for dead would delete them: older_than keeps it alive.
        report = fs.gc(older_than=3600, orphans=True)
        assert report["orphan_blocks"] == 0, report
        assert report["abandoned_writers"] == 0, report
        f.write(C)
    assert fs.read_bytes("/w") == B + C
    assert fs.read_bytes("/kept") == A
    assert data.get_size() == 4 + 7


def test_a_rename_clears_gcs_orphan_record_of_what_it_moves(igfs_name, pyignite_client):
    """gc deletes a version it condemned only if its ~orphan/ record is still there after a
    second sweep: a rename that moves the version meanwhile (which that sweep may not see)
    removes the record in its transaction."""
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.mkdir("/d")
    fs.write_bytes("/d/a", A)
    meta = pyignite_client.get_cache(fs.meta_cache)
    # As gc(orphans=True) would leave it between its condemnation and its second sweep.
    moved = file_id(meta, "/d/a")
    meta.put(f"~orphan/{moved.hex()}", orphan_record(b"\x07" * 16), value_hint=ByteArrayObject)
    fs.rename("/d", "/e")
    assert bookkeeping(meta) == []
    assert fs.read_bytes("/e/a") == A

    # A record that a gc stopping midway left is removed by a later gc once older than older_than.
    meta.put(f"~orphan/{moved.hex()}", orphan_record(b"\x07" * 16), value_hint=ByteArrayObject)
    report = fs.gc(older_than=3600)
    assert not any(report.values()), report
    assert bookkeeping(meta) == [f"~orphan/{moved.hex()}"]
    fs.gc(older_than=0)
    assert bookkeeping(meta) == []
    assert fs.read_bytes("/e/a") == A


def test_gc_orphans_running_beside_writers_and_renames_deletes_nothing_in_use(igfs_name, pyignite_client):
    """A sweep is no snapshot: a rename or publish committing while gc reads the metadata can
    hide a version from it. gc runs over and over here while a thread writes and renames; every
    name must read whole throughout, and at the end the data cache holds exactly the named
    versions' blocks. Empty directory entries (unlisted, as only gc reads them) make each sweep
    several pages long, so that renames commit while one runs."""
    fs = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    collector = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name=igfs_name, block_size=BLOCK)
    fs.mkdir("/r")
    meta = pyignite_client.get_cache(fs.meta_cache)
    empty = bytes(meta.get("/r"))
    meta.put_all({f"/pad{i}": (empty, ByteArrayObject) for i in range(5000)})
    done = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            for i in range(60):
                body = bytes([i]) * (2 * BLOCK + i)
                fs.write_bytes(f"/r/tmp{i}", body)
                fs.rename(f"/r/tmp{i}", "/r/current")  # replaces the previous version
                fs.rename("/r/current", "/r/moved")
                fs.rename("/r/moved", "/r/current")
                assert fs.read_bytes("/r/current") == body
        except BaseException as e:  # reported by the test below
            failures.append(e)
        finally:
            done.set()

    worker = threading.Thread(target=work)
    worker.start()
    runs = 0
    while not done.is_set() or runs == 0:
        collector.gc(older_than=3600, orphans=True)
        runs += 1
    worker.join()
    assert failures == [], failures
    assert fs.read_bytes("/r/current") == bytes([59]) * (2 * BLOCK + 59)
    assert fs.ls("/r") == ["/r/current"]
    assert pyignite_client.get_cache(fs.data_cache).get_size() == 3
