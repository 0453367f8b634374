"""igfs checked against a model: a hypothesis state machine drives three IgniteFileSystem clients
(separate connections; one with a 0.4 s lease) and fsspec at once — writers, appenders, renames,
deletes, gc, exceptions in the middle of a write, leases running out, readers — and after every
step compares what a reader sees with a plain in-memory model.

The model (what each reader may see):
- a path holds one whole published version (the bytes of one writer's close, or of an appender's
  close added to the version it claimed), never a part of one;
- a writer that fails, raises or is aborted leaves the previous version, and its blocks go;
- an appender holds a lease: a second appender, or a writer replacing the file, gets
  IgfsConflictError while the lease lasts, and takes the file over once it has run out (the first
  appender then gets IgfsConflictError, never publishes);
- gc(older_than) never touches a writer that wrote within older_than (less its heartbeat), and a
  writer it collects can only fail (IgfsConflictError), never publish a file with holes;
- a reader sees its version's bytes, or IgfsConflictError once that version is gone.
Where the outcome depends on a clock (a lease near its end, a writer near gc's threshold), the
model allows both outcomes and follows the one observed. Every error is a typed IgfsError.

CI size: 50 examples of 25 steps. IGNITE_FAST_SOAK=1 runs 400 examples of 50 steps."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import fsspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ignite_fast import igfs
from ignite_fast.errors import IgfsConflictError, IgfsExistsError, IgfsNotFoundError
from node_fixtures import SESSION_PORT

SOAK = os.environ.get("IGNITE_FAST_SOAK") == "1"
pytestmark = pytest.mark.timeout(4 * 3600 if SOAK else 600)
BLOCK = 128  # small blocks: most writes span several, so block puts happen mid-write
SHORT_LEASE = 0.4
SLEEPS = 2  # waits for short leases to run out, at most, per example (they cost most of the time)
HEARTBEAT = 0.25  # igfs/writer.rs HEARTBEAT: a writer refreshes its record at most this often
MARGIN = 0.15  # clock slack on both sides of a lease's end or gc's threshold
NAMES = ("a", "b", "c")


class Boom(Exception):
    pass


@dataclass
class Client:
    name: str
    fs: Any  # IgniteFileSystem, or fsspec's IgfsFileSystem
    lease: float
    fsspec: bool = False

    @property
    def igfs(self) -> igfs.IgniteFileSystem:
        return self.fs.igfs if self.fsspec else self.fs


@dataclass(eq=False)
class Lease:
    holder: Handle
    lo: float  # the lease was last taken or renewed between lo and hi
    hi: float
    length: float

    def live(self, t0: float, t1: float) -> bool | None:
        """Whether the lease lasts through a check made between t0 and t1; None: either."""
        if t1 < self.lo + self.length - MARGIN:
            return True
        if t0 > self.hi + self.length + MARGIN:
            return False
        return None


@dataclass(eq=False)
class Version:
    """One file: its published bytes, and its appender's lease. Renames move it; replacing or
    deleting its path ends it."""

    content: bytes
    lease: Lease | None = None


@dataclass(eq=False)
class Handle:
    file: Any
    client: Client
    path: str
    mode: str  # "w", "x" or "a"
    text: bool
    last_op: tuple[float, float]  # the last call that refreshed the writer's record
    data: bytearray = field(default_factory=bytearray)
    claimed: Version | None = None  # an appender's version
    base: bytes = b""
    doom: str | None = None  # "maybe" or "certain": may or must fail (IgfsConflictError)


@dataclass(eq=False)
class Reader:
    file: Any
    version: Version
    snapshot: bytes


def outcome(call) -> tuple[str, float, float, Any]:
    """Runs `call`: ("ok" | "conflict" | "notfound" | "exists" | "boom", start, end, result)."""
    t0 = time.time()
    try:
        result, kind = call(), "ok"
    except IgfsConflictError:
        result, kind = None, "conflict"
    except IgfsNotFoundError:
        result, kind = None, "notfound"
    except IgfsExistsError:
        result, kind = None, "exists"
    except Boom:
        result, kind = None, "boom"
    return kind, t0, time.time(), result


def either(live: bool | None) -> set[str]:
    return {"conflict"} if live else {"ok"} if live is False else {"ok", "conflict"}


@pytest.fixture(scope="module")
def clients(cluster):
    name = f"m{uuid.uuid4().hex[:10]}"
    kwargs = dict(name=name, block_size=BLOCK)
    return [
        Client("c0", igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, **kwargs), 600.0),
        Client("c1", igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, **kwargs), 600.0),
        Client("short", igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, lease=SHORT_LEASE, **kwargs), SHORT_LEASE),
        Client(
            "fsspec",
            fsspec.filesystem("igfs", host="127.0.0.1", port=SESSION_PORT, skip_instance_cache=True, **kwargs),
            600.0,
            fsspec=True,
        ),
    ]


def test_igfs_against_the_model(clients):
    class Machine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.root = f"/r{uuid.uuid4().hex[:12]}"
            clients[0].fs.mkdir(self.root)
            self.files: dict[str, Version] = {}
            self.handles: list[Handle] = []
            self.readers: list[Reader] = []
            self.sleeps = 0

        def path(self, name: str) -> str:
            return f"{self.root}/{name}"

        def some_path(self, data) -> str:
            """Mostly a path that holds a file; sometimes any."""
            existing = sorted(self.files)
            if existing and data.draw(st.integers(0, 3)):
                return data.draw(st.sampled_from(existing))
            return self.path(data.draw(st.sampled_from(NAMES)))

        @initialize(contents=st.lists(st.binary(max_size=300), min_size=2, max_size=2))
        def first_versions(self, contents):
            for name, content in zip(NAMES, contents, strict=False):
                clients[0].fs.write_bytes(self.path(name), content)
                self.files[self.path(name)] = Version(content)

        def check(self, kind: str, allowed: set[str], what: str) -> None:
            assert kind in allowed, f"{what}: got {kind}, the model allows {sorted(allowed)}"

        # ---- the model's bookkeeping ----

        def end(self, h: Handle) -> None:
            """A writer is gone: its lease goes with it if it still holds the file at its path."""
            self.handles.remove(h)
            v = h.claimed
            if v is not None and self.files.get(h.path) is v and v.lease is not None and v.lease.holder is h:
                v.lease = None

        def lost(self, h: Handle) -> bool:
            """An appender whose version is no longer at its path (renamed, replaced, deleted), or
            whose lease another appender took: it can only fail."""
            v = h.claimed
            return v is not None and (self.files.get(h.path) is not v or v.lease is None or v.lease.holder is not h)

        def touched(self, h: Handle, t0: float, t1: float) -> None:
            """After a call that refreshes the writer's record (and renews its lease when half
            of it has passed)."""
            h.last_op = (t0, t1)
            lease = h.claimed.lease if h.claimed is not None else None
            if lease is not None and lease.holder is h:
                half = lease.length / 2
                if t0 - lease.hi >= half + MARGIN:
                    lease.lo, lease.hi = t0, t1
                elif t1 - lease.lo >= half - MARGIN:
                    lease.hi = t1  # renewed, or not

        # ---- writers ----

        @precondition(lambda self: len(self.handles) < 5)
        @rule(
            c=st.integers(0, 3),
            name=st.sampled_from(NAMES),
            mode=st.sampled_from(["w", "w", "a", "a", "x"]),
            text=st.booleans(),
            first=st.binary(max_size=400),
        )
        def open_writer(self, c, name, mode, text, first):
            client, path = clients[c], self.path(name)
            kind, t0, t1, f = outcome(lambda: client.fs.open(path, mode if text else mode + "b"))
            current = self.files.get(path)
            if mode == "x":
                self.check(kind, {"exists"} if current else {"ok"}, f"open {path} x")
            elif mode == "a" and current is not None:
                lease = current.lease
                self.check(kind, either(lease.live(t0, t1)) if lease else {"ok"}, f"append-claim {path}")
            else:
                self.check(kind, {"ok"}, f"open {path} {mode}")
            if kind != "ok":
                return
            h = Handle(f, client, path, mode, text, (t0, t1))
            if mode == "a" and current is not None:
                current.lease = Lease(h, t0, t1, client.lease)  # taken over, if it had run out
                h.claimed, h.base = current, current.content
            self.handles.append(h)
            self.write_to(h, first)

        def write_to(self, h: Handle, payload: bytes) -> None:
            if h.text:
                payload = bytes(b % 26 + 97 for b in payload)  # letters: one byte per character

                def call():
                    h.file.write(payload.decode())
                    h.file.flush()  # down to the native writer, which refreshes its record
            else:

                def call():
                    h.file.write(payload)

            kind, t0, t1, _ = outcome(call)
            failing = h.doom or self.lost(h)  # a lost appender fails once it renews its lease
            self.check(kind, {"ok", "conflict"} if failing else {"ok"}, f"write to {h.path}")
            if kind == "ok":
                h.data += payload
                self.touched(h, t0, t1)
            else:
                self.cleanup(h)
                self.end(h)

        @precondition(lambda self: self.handles)
        @rule(data=st.data(), payload=st.binary(max_size=400))
        def write(self, data, payload):
            self.write_to(data.draw(st.sampled_from(self.handles)), payload)

        def cleanup(self, h: Handle) -> None:
            """Closes what is left of a writer that failed (it published nothing)."""
            binary = h.file.buffer if h.text else h.file
            binary.abort()

        @precondition(lambda self: self.handles)
        @rule(data=st.data(), how=st.sampled_from(["close", "close", "raise"]))
        def finish(self, data, how):
            h = data.draw(st.sampled_from(self.handles))
            if how == "close":
                self.close(h)
            else:
                self.raise_inside_with(h)

        def close(self, h: Handle) -> None:
            kind, t0, t1, _ = outcome(h.file.close)
            current = self.files.get(h.path)
            if h.claimed is not None:
                normal = {"conflict"} if self.lost(h) else {"ok"}
            elif h.mode == "x":
                normal = {"exists"} if current is not None else {"ok"}
            elif current is not None and current.lease is not None and current.lease.holder is not h:
                normal = either(current.lease.live(t0, t1))
            else:
                normal = {"ok"}
            allowed = {"conflict"} if h.doom == "certain" else normal | {"conflict"} if h.doom else normal
            self.check(kind, allowed, f"close {h.path} ({h.mode}, doom={h.doom})")
            if kind == "ok":
                if h.claimed is not None:
                    h.claimed.content = h.base + bytes(h.data)
                else:
                    self.files[h.path] = Version(bytes(h.data))
            elif not h.file.closed:
                self.cleanup(h)
            self.end(h)

        def raise_inside_with(self, h: Handle) -> None:
            """An exception leaves the writer's `with` block (fsspec: a close while it propagates)."""

            def call():
                if h.client.fsspec:
                    try:
                        raise Boom
                    finally:
                        h.file.close()
                else:
                    h.file.__exit__(Boom, Boom(), None)
                    raise Boom

            kind, _, _, _ = outcome(call)
            # fsspec's text wrapper flushes first, which a failing writer may answer with a conflict
            failing = h.doom or self.lost(h)
            self.check(kind, {"boom", "conflict"} if failing else {"boom"}, f"abort {h.path}")
            assert h.file.closed
            self.end(h)

        @precondition(lambda self: self.sleeps < SLEEPS and any(h.client.lease < 60 for h in self.handles))
        @rule()
        def let_short_leases_run_out(self):
            self.sleeps += 1
            time.sleep(SHORT_LEASE + 2 * MARGIN)

        # ---- the tree ----

        @rule(c=st.integers(0, 3), data=st.data(), op=st.sampled_from(["rename", "delete"]), dst=st.sampled_from(NAMES))
        def change_tree(self, c, data, op, dst):
            client, source, target = clients[c], self.some_path(data), self.path(dst)
            if op == "delete":
                kind, _, _, _ = outcome(lambda: client.fs.rm(source))
                self.check(kind, {"ok"} if source in self.files else {"notfound"}, f"delete {source}")
                if kind == "ok":
                    del self.files[source]
                return
            if source == target:
                return
            move = client.fs.mv if client.fsspec else client.fs.rename
            kind, _, _, _ = outcome(lambda: move(source, target))
            self.check(kind, {"ok"} if source in self.files else {"notfound"}, f"rename {source} {target}")
            if kind == "ok":
                self.files[target] = self.files.pop(source)

        @precondition(lambda self: self.handles)
        @rule(older_than=st.sampled_from([0.0, 1.0, 3600.0]))
        def gc(self, older_than):
            kind, g0, g1, report = outcome(lambda: clients[0].fs.gc(older_than))
            self.check(kind, {"ok"}, "gc")
            certain = 0
            for h in self.handles:
                record_lo, record_hi = h.last_op[0] - HEARTBEAT - MARGIN, h.last_op[1] + MARGIN
                if record_lo > g1 - older_than:
                    continue  # alive: gc must leave it alone
                if record_hi < g0 - older_than:
                    # Counted unless an earlier gc may have taken it already, or its record is
                    # another appender's now (one that took the file over).
                    certain += h.doom is None and not self.lost(h)
                    h.doom = "certain"
                elif h.doom is None:
                    h.doom = "maybe"
            assert report["abandoned_writers"] >= certain, (report, certain)

        # ---- readers ----

        @rule(c=st.integers(0, 3), data=st.data(), offset=st.integers(0, 1000), n=st.integers(0, 600))
        def read(self, c, data, offset, n):
            """Opens a reader (up to three), or reads from one."""
            if len(self.readers) < 3 and (not self.readers or data.draw(st.booleans())):
                path = self.some_path(data)
                kind, _, _, f = outcome(lambda: clients[c].fs.open(path, "rb"))
                version = self.files.get(path)
                self.check(kind, {"ok"} if version else {"notfound"}, f"open {path} for reading")
                if kind == "ok":
                    self.readers.append(Reader(f, version, version.content))
                return
            r = data.draw(st.sampled_from(self.readers))

            def call():
                r.file.seek(offset)
                return r.file.read(n)

            kind, _, _, got = outcome(call)
            gone = r.version not in self.files.values()
            self.check(kind, {"ok", "conflict"} if gone else {"ok"}, "read")
            if kind == "ok":
                assert got == r.snapshot[offset : offset + n], "a reader saw bytes of no version it had"
            else:
                r.file.close()
                self.readers.remove(r)

        # ---- what every reader sees ----

        @invariant()
        def paths_hold_their_published_version(self):
            fs = clients[0].fs
            assert sorted(fs.ls(self.root)) == sorted(self.files), "the listing differs from the model"
            for path, version in self.files.items():
                assert fs.read_bytes(path) == version.content, f"{path} holds no whole published version"

        def teardown(self):
            for h in list(self.handles):
                binary = h.file.buffer if h.text else h.file
                binary.abort()
            for r in self.readers:
                r.file.close()
            clients[0].fs.rm(self.root, recursive=True)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=400 if SOAK else 50,
            stateful_step_count=50 if SOAK else 25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
