"""The IGFS_* credentials go only to the cluster the environment names, in all three faces
(IgniteFileSystem, fsspec, the TensorFlow plugin): a URL naming another host connects without them.

What a host receives is observed by a listener on 127.0.0.2 that records the bytes of each
connection (the client's handshake) and hangs up: it stands in for a host nobody vetted, and serves
nothing. The authenticating node (tests/node_fixtures.py) shows that the environment's own cluster
still gets them, and that another name for it gets a typed refusal that says why."""

from __future__ import annotations

import socket
import ssl
import threading
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

import ignite_fast
from ignite_fast import igfs
from ignite_fast.errors import AuthenticationError, IgniteError
from node_fixtures import AUTH_PORT, SESSION_PORT
from tls_fixtures import _cert, _write_pem

SECRET = "Env-Pa55word-do-not-leak"
KEY_SECRET = "Key-Pa55word-do-not-leak"
FOREIGN_HOST = "127.0.0.2"  # another loopback address: "another host" by name

IGFS_VARIABLES = [
    "IGFS_HOST",
    "IGFS_PORT",
    "IGFS_FS_NAME",
    "IGFS_USERNAME",
    "IGFS_PASSWORD",
    "IGFS_TLS",
    "IGFS_CA_FILE",
    "IGFS_CERT_FILE",
    "IGFS_KEY_FILE",
    "IGFS_KEY_PASSWORD",
    "IGFS_CHECK_HOSTNAME",
    "IGFS_BLOCK_SIZE",
]


class Recorder:
    """Accepts connections on FOREIGN_HOST, records what each sends (after TLS, if given a server
    context: then also whether the client presented a certificate), and closes them."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        self.tls = tls
        self.sock = socket.create_server((FOREIGN_HOST, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.client_certs: list[bytes | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    self.client_certs.append(conn.getpeercert(binary_form=True))
                self.received.append(self._frame(conn))
            except (OSError, ssl.SSLError):
                self.received.append(b"")
            finally:
                conn.close()  # the client then fails at once

    @staticmethod
    def _frame(conn) -> bytes:
        """One length-prefixed frame (the thin-client handshake), or what came before EOF."""
        data = b""
        while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "little"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def all_bytes(self) -> bytes:
        return b"".join(self.received)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def env(monkeypatch):
    """A clean IGFS_* environment naming the cluster 127.0.0.1, with a user and a password."""
    for name in IGFS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IGFS_HOST", "127.0.0.1")
    monkeypatch.setenv("IGFS_USERNAME", "ignite")
    monkeypatch.setenv("IGFS_PASSWORD", SECRET)
    return monkeypatch


@pytest.fixture
def recorder():
    r = Recorder()
    yield r
    r.close()


def _fails_to_reach(connect) -> None:
    """The recorder hangs up after the handshake: connecting fails, with a typed error."""
    with pytest.raises(IgniteError):
        connect()


def _handshake_seen(recorder: Recorder) -> bytes:
    data = recorder.all_bytes()
    assert data, "the client never reached the recorder: the test would prove nothing"
    return data


def test_python_api_sends_no_env_password_to_another_host(env, recorder):
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port, read_timeout=5))
    _fails_to_reach(lambda: igfs.connect(f"igfs://{FOREIGN_HOST}:{recorder.port}/x"))
    data = _handshake_seen(recorder)
    assert SECRET.encode() not in data
    assert b"ignite" not in data
    # Given explicitly for that host, credentials go there: the recorder does see passwords.
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port, username="u", password="explicit-pw"))
    assert b"explicit-pw" in recorder.all_bytes()
    # Named by IGFS_HOST (any port, since IGFS_PORT is unset), the host gets the environment's.
    env.setenv("IGFS_HOST", f"127.0.0.1,{FOREIGN_HOST}")
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port))
    assert SECRET.encode() in recorder.all_bytes()


def test_env_port_pins_the_cluster(env, recorder):
    env.setenv("IGFS_HOST", FOREIGN_HOST)
    env.setenv("IGFS_PORT", str(recorder.port + 1 if recorder.port < 65535 else recorder.port - 1))
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port))
    assert SECRET.encode() not in _handshake_seen(recorder)
    env.setenv("IGFS_PORT", str(recorder.port))
    _fails_to_reach(lambda: igfs.IgniteFileSystem())  # igfs:///: the environment's own cluster
    assert SECRET.encode() in recorder.all_bytes()


def test_fsspec_sends_no_env_password_to_another_host(env, recorder):
    import fsspec

    url = f"igfs://{FOREIGN_HOST}:{recorder.port}/data/x.csv"
    with pytest.raises(IgniteError), fsspec.open(url, "w", skip_instance_cache=True) as f:
        f.write("a,b\n")
    assert SECRET.encode() not in _handshake_seen(recorder)
    # Storage options give credentials for that host.
    with pytest.raises(IgniteError):
        fsspec.filesystem("igfs", host=FOREIGN_HOST, port=recorder.port, username="u", password="storage-opt-pw")
    assert b"storage-opt-pw" in recorder.all_bytes()


def test_tensorflow_plugin_sends_no_env_password_to_another_host(env, recorder):
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()
    with pytest.raises(tf.errors.OpError):
        tf.io.gfile.exists(f"igfs://{FOREIGN_HOST}:{recorder.port}/x")
    assert SECRET.encode() not in _handshake_seen(recorder)
    # The same URL with the host named by the environment (the plugin keys handles on the
    # variables, so this is a new connection).
    env.setenv("IGFS_HOST", FOREIGN_HOST)
    with pytest.raises(tf.errors.OpError):
        tf.io.gfile.exists(f"igfs://{FOREIGN_HOST}:{recorder.port}/x")
    assert SECRET.encode() in recorder.all_bytes()


@pytest.fixture
def tls_recorder(tmp_path: Path):
    """A recorder speaking TLS, with a certificate for 127.0.0.2 from a CA of its own, asking
    clients for certificates (optional); and a client certificate from the same CA."""
    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _cert("recorder CA", ca_key, "recorder CA", ca_key, ca=True)
    server = _cert(FOREIGN_HOST, ca_key, "recorder CA", server_key, ips=[FOREIGN_HOST])
    client = _cert("trainer", ca_key, "recorder CA", client_key)
    files = {
        "ca": _write_pem(tmp_path / "ca.pem", ca),
        "server": _write_pem(tmp_path / "server.pem", server, server_key),
        "client": _write_pem(tmp_path / "client.pem", client),
        "client_key": _write_pem(tmp_path / "client.key", client_key),
    }
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["server"])
    context.load_verify_locations(files["ca"])
    context.verify_mode = ssl.CERT_OPTIONAL
    r = Recorder(tls=context)
    yield r, files
    r.close()


def test_client_certificate_goes_only_to_the_environments_cluster(env, tls_recorder):
    recorder, files = tls_recorder
    env.setenv("IGFS_CA_FILE", str(files["ca"]))
    env.setenv("IGFS_CERT_FILE", str(files["client"]))
    env.setenv("IGFS_KEY_FILE", str(files["client_key"]))
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port))
    assert recorder.client_certs == [None] * len(recorder.client_certs)
    assert recorder.client_certs
    assert SECRET.encode() not in _handshake_seen(recorder)  # the TLS trust still applied: it got through
    env.setenv("IGFS_HOST", FOREIGN_HOST)
    _fails_to_reach(lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port))
    assert recorder.client_certs[-1] is not None
    assert SECRET.encode() in recorder.received[-1]


def test_the_environments_cluster_authenticates_and_another_name_is_refused_clearly(secured, env):
    import fsspec
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    name = f"c{uuid.uuid4().hex[:8]}"
    env.setenv("IGFS_PORT", str(AUTH_PORT))
    env.setenv("IGFS_PASSWORD", "ignite")
    env.setenv("IGFS_FS_NAME", name)
    fs = igfs.IgniteFileSystem()  # the environment's cluster, with its credentials
    fs.write_bytes("/a.bin", b"env cluster")
    with fsspec.open(f"igfs://127.0.0.1:{AUTH_PORT}/a.bin", "rb", skip_instance_cache=True) as f:
        assert f.read() == b"env cluster"
    register_igfs_filesystem()
    assert tf.io.gfile.GFile(f"igfs://127.0.0.1:{AUTH_PORT}/a.bin", "rb").read() == b"env cluster"
    assert tf.io.gfile.GFile("igfs:///a.bin", "rb").read() == b"env cluster"

    # "localhost" is the same node under a name the environment does not give: no credentials.
    with pytest.raises(AuthenticationError, match="IGFS_HOST") as caught:
        igfs.IgniteFileSystem("localhost", AUTH_PORT)
    assert "ignite'" not in str(caught.value) or "<none>" in str(caught.value)
    with pytest.raises(AuthenticationError, match="IGFS_HOST"):
        fsspec.filesystem("igfs", host="localhost", port=AUTH_PORT, skip_instance_cache=True)
    with pytest.raises(tf.errors.UnauthenticatedError, match="IGFS_HOST"):
        tf.io.gfile.exists(f"igfs://localhost:{AUTH_PORT}/a.bin")
    # Credentials given for that name work.
    other = igfs.IgniteFileSystem("localhost", AUTH_PORT, username="ignite", password="ignite")
    assert other.read_bytes("/a.bin") == b"env cluster"
    fs.rm("/a.bin")


def test_no_repr_or_error_shows_a_secret(cluster, env):
    """Secrets given every way (the environment, arguments, storage options, TLS options) show in
    no repr, and not in the error of a refused connection."""
    from ignite_fast.igfs_fsspec import IgfsFileSystem

    env.setenv("IGFS_PORT", str(SESSION_PORT))  # the session node, which ignores credentials
    env.setenv("IGFS_KEY_PASSWORD", KEY_SECRET)
    shown = []
    fs = igfs.IgniteFileSystem(name="creds")
    shown += [repr(fs), str(fs)]
    explicit = igfs.IgniteFileSystem("127.0.0.1", SESSION_PORT, name="creds", username="u", password=SECRET)
    shown += [repr(explicit), repr(vars(explicit))]
    ffs = IgfsFileSystem(host="127.0.0.1", port=SESSION_PORT, name="creds", password=SECRET, skip_instance_cache=True)
    shown += [repr(ffs), str(ffs), repr(ffs.igfs)]
    shown.append(repr(ignite_fast.TlsOptions(key_password=KEY_SECRET)))
    recorder = Recorder()
    try:
        for connect in (
            lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port, username="u", password=SECRET),
            lambda: igfs.IgniteFileSystem(FOREIGN_HOST, recorder.port),
        ):
            with pytest.raises(IgniteError) as caught:
                connect()
            shown += [str(caught.value), repr(caught.value)]
    finally:
        recorder.close()
    for text in shown:
        assert SECRET not in text, text
        assert KEY_SECRET not in text, text
