"""A server that answers with malformed bytes over a real socket (the only stand-in server the
project uses): every case ends promptly in a typed ignite_fast error, never a crash, a hang or
a huge allocation."""

from __future__ import annotations

import socket
import struct
import threading
import time

import pytest

import ignite_fast

HANDSHAKE_OK = b"\x01"


def frame(body: bytes) -> bytes:
    return struct.pack("<i", len(body)) + body


def scan_response(request_id: int, body: bytes) -> bytes:
    return frame(struct.pack("<qh", request_id, 0) + body)


class HostileServer:
    """Accepts connections; answers the handshake with `handshake`, then each request with
    `reply(request_id, op) -> bytes | None` (None: say nothing)."""

    def __init__(self, handshake: bytes, reply=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.handshake = handshake
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _read_frame(self, conn: socket.socket) -> bytes | None:
        head = b""
        while len(head) < 4:
            chunk = conn.recv(4 - len(head))
            if not chunk:
                return None
            head += chunk
        n = struct.unpack("<i", head)[0]
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                if self._read_frame(conn) is None:
                    continue
                conn.sendall(self.handshake)
                try:
                    while (request := self._read_frame(conn)) is not None:
                        op, request_id = struct.unpack_from("<hq", request)
                        answer = self.reply(request_id, op) if self.reply else None
                        if answer is None:
                            time.sleep(3)  # say nothing
                            break
                        conn.sendall(answer)
                except ConnectionResetError:
                    pass  # the client gave up on this connection, as it should

    def close(self):
        self.stop.set()
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def hostile():
    servers = []

    def make(handshake: bytes, reply=None) -> HostileServer:
        server = HostileServer(handshake, reply)
        servers.append(server)
        return server

    yield make
    for s in servers:
        s.close()


def _client(server: HostileServer) -> ignite_fast.Client:
    return ignite_fast.Client("127.0.0.1", server.port, connect_timeout=2, read_timeout=1.5)


def _timed(fn):
    start = time.monotonic()
    try:
        fn()
    finally:
        assert time.monotonic() - start < 20, "an answer, not a hang"


def test_negative_handshake_length(hostile):
    server = hostile(struct.pack("<i", -5))
    with pytest.raises(ignite_fast.ProtocolError, match="frame length"):
        _timed(lambda: _client(server))


def test_handshake_refused_with_garbage(hostile):
    server = hostile(frame(b"\x00\x01\x00"))  # failure flag, then a truncated version
    with pytest.raises((ignite_fast.ProtocolError, ignite_fast.IgniteConnectionError)):
        _timed(lambda: _client(server))


def test_response_to_a_request_never_sent(hostile):
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(rid + 1000, b""))
    with pytest.raises(ignite_fast.ProtocolError, match="never sent"):
        _timed(lambda: list(_client(server).scan("c")))


def test_page_claiming_a_million_rows(hostile):
    body = struct.pack("<qi", 7, 1_000_000) + b"\x65\x65" + b"\x00"
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(rid, body))
    with pytest.raises(ignite_fast.ProtocolError, match="claims"):
        _timed(lambda: list(_client(server).scan("c")))


def test_object_with_a_footer_pointing_outside(hostile):
    # key: long 1; value: an object whose only field offset points past its end
    obj = struct.pack("<BBhiiiii", 103, 1, 0x0B | 0x20, 1234, 0, 29, 0, 24) + b"\x65" + bytes([200]) + b"\x00" * 3
    obj = obj[:29]
    body = struct.pack("<qi", 7, 1) + b"\x04" + struct.pack("<q", 1) + obj + b"\x00"
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(rid, body))
    with pytest.raises((ignite_fast.ProtocolError, ignite_fast.SchemaError)):
        _timed(lambda: list(_client(server).scan("c")))


def test_huge_frame_length_then_silence(hostile):
    # A 2 GB length field followed by 100 bytes: the client must not allocate for the claim, and
    # must give up at its read timeout.
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: struct.pack("<i", 2**31 - 1) + b"x" * 100)
    with pytest.raises(ignite_fast.IgniteTimeoutError):
        _timed(lambda: list(_client(server).scan("c")))


def test_silence_after_the_request_times_out(hostile):
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: None)
    with pytest.raises(ignite_fast.IgniteTimeoutError):
        _timed(lambda: list(_client(server).scan("c")))


def _partition_scan(server: HostileServer, partitions=(0, 1)):
    """Several partitions' cursors in flight on one connection, read to the end."""
    scan = _client(server)._native.partition_scan("c", cursors=len(partitions))
    for partition in partitions:
        scan.add(partition)
    while scan.next_batch(100) is not None:
        pass


EMPTY_LAST_PAGE = struct.pack("<qi", 7, 0) + b"\x00"  # cursor 7, no rows, no more pages


def test_partition_scan_answer_for_a_request_never_sent(hostile):
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(rid + 1000, EMPTY_LAST_PAGE))
    with pytest.raises(ignite_fast.ProtocolError, match="never sent"):
        _timed(lambda: _partition_scan(server))


def test_partition_scan_request_answered_twice(hostile):
    # Both open requests are answered with the first one's id: the second answer is for a
    # request that no partition waits for any more.
    first = []
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(first.append(rid) or first[0], EMPTY_LAST_PAGE))
    with pytest.raises(ignite_fast.ProtocolError, match="no partition of this scan is waiting for"):
        _timed(lambda: _partition_scan(server))


def test_partition_scan_page_claiming_a_million_rows(hostile):
    body = struct.pack("<qi", 7, 1_000_000) + b"\x65\x65" + b"\x00"
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: scan_response(rid, body))
    with pytest.raises(ignite_fast.ProtocolError, match=r"partition 0 .*claims"):
        _timed(lambda: _partition_scan(server, partitions=(0,)))


def test_partition_scan_silence_times_out(hostile):
    server = hostile(frame(HANDSHAKE_OK), lambda rid, op: None)
    with pytest.raises(ignite_fast.IgniteTimeoutError):
        _timed(lambda: _partition_scan(server))
