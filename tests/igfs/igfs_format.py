"""The metadata cache's value format (format 1, little-endian; rust/ignite-core/src/igfs/entry.rs),
read and written independently of ignite_fast, so that tests can check what it stored and build
the states a crashed or torn commit leaves."""

from __future__ import annotations

import struct
import time

FORMAT = 1
KIND_FILE = 1


def file_version(value: bytes) -> tuple[bytes, int, int] | None:
    """(id, size, block size) of a file entry, None for a directory's. A file entry: version,
    kind, modified i64, the 16-byte id, size i64, block size i32, then the lease."""
    value = bytes(value)
    assert value[0] == FORMAT, value[:1]
    if value[1] != KIND_FILE:
        return None
    size, block = struct.unpack_from("<qi", value, 26)
    return value[10:26], size, block


def trash_record(blocks: int) -> bytes:
    """Format 1, the block count."""
    return bytes([FORMAT]) + struct.pack("<q", blocks)


def moving_mark(to: str, entry: bytes) -> bytes:
    """What a rename stores before its commit: format 1, its time, the path it moves the file
    to, and the file's entry."""
    now = int(time.time() * 1000)
    return bytes([FORMAT]) + struct.pack("<qi", now, len(to.encode())) + to.encode() + entry


def orphan_record(gc_run: bytes) -> bytes:
    """What gc(orphans=True) stores for a version it found nothing referring to: format 1, the
    16-byte id of its run, its time."""
    return bytes([FORMAT]) + gc_run + struct.pack("<q", int(time.time() * 1000))
