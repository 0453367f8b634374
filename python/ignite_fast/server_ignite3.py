"""Run real Apache Ignite 3.x nodes on loopback, from jars that Maven fetches.

    python -m ignite_fast.server install --ignite 3     # fetch the jars (idempotent; a bar of bytes fetched)
    python -m ignite_fast.server start --ignite 3 [--nodes 2] [--port 10800]
    python -m ignite_fast.server status --ignite 3
    python -m ignite_fast.server stop --ignite 3

The same from Python::

    from ignite_fast.server_ignite3 import Ignite3Cluster
    with Ignite3Cluster(nodes=1, port=10942) as cluster:
        ...  # cluster.addresses == ["127.0.0.1:10942"]

Each node is Ignite's own runner (``IgniteRunner``: a HOCON file, a work directory, a node name)
on the jars of ``org.apache.ignite:ignite-runner``. Node ``i`` listens on client port ``port + i``,
cluster network port ``network_port + i`` and REST port ``rest_port + i``, all on 127.0.0.1. A new
cluster is initialised once, through REST on node 0, which holds the cluster's meta storage and
cluster management group: node 0 must stay up for the cluster to work, any other node may go
(``meta_storage_nodes=3`` puts them on nodes 0-2 instead: then any one of those may go too).
Work directories are wiped at each start, so every start is a new, empty cluster.

Security, both optional: ``username``/``password`` turn on basic authentication (given in the
cluster configuration at init, so it is on from the cluster's first moment; REST then wants the
same credentials), and ``ssl`` puts TLS on every node's client port (a PKCS12 keystore, and a
truststore when client certificates are required)::

    Ignite3Cluster(username="trainer", password="...",
                   ssl={"keystore": "server.p12", "keystore_password": "...",
                        "truststore": "trust.p12", "truststore_password": "...", "client_auth": True})
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl as tls
import struct
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ._node_process import (
    NodeProcesses,
    ServerError,
    check_version,
    copy_dependencies_command,
    home_dir,
    pid_alive,
    port_open,
    run_maven,
)

IGNITE3_VERSION = "3.1.0"

MAIN_CLASS = "org.apache.ignite.internal.app.IgniteRunner"

# Fetches ignite-runner (the node and everything it needs: about 215 jars, 100 MB). Kept here
# rather than as package data so that an installed wheel carries it without packaging rules.
POM = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ignite-fast</groupId>
  <artifactId>ignite3-server-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.ignite</groupId>
      <artifactId>ignite-runner</artifactId>
      <version>${ignite.version}</version>
    </dependency>
  </dependencies>
</project>
"""

# Packages Ignite 3 reaches into by reflection. Its own build opens the first twelve (addOpens in
# build.gradle); the rest were needed on this machine's Java 17. Without java.lang.reflect the
# node dies with an ExceptionInInitializerError that hides an InaccessibleObjectException.
_OPENS = [
    "java.base/java.lang",
    "java.base/java.lang.invoke",
    "java.base/java.lang.reflect",
    "java.base/java.io",
    "java.base/java.nio",
    "java.base/java.math",
    "java.base/java.util",
    "java.base/java.time",
    "java.base/jdk.internal.misc",
    "java.base/jdk.internal.access",
    "java.base/sun.nio.ch",
    "java.base/sun.security.x509",
    "java.base/java.net",
    "java.base/java.text",
    "java.base/java.util.concurrent",
    "java.base/java.util.concurrent.atomic",
    "java.base/java.util.concurrent.locks",
    "java.base/java.util.regex",
    "java.management/sun.management",
    "jdk.management/com.sun.management.internal",
]
JAVA_MODULE_FLAGS = [f"--add-opens={o}=ALL-UNNAMED" for o in _OPENS]

# The client handshake of protocol 3.0.0: magic, then a length-prefixed MessagePack message of
# version (3, 0, 0), client code 2, no feature bits (an empty bin 8), then the extensions: an int
# count then key/value strings (not a MessagePack map); basic authentication is three of them.
_HANDSHAKE_HEAD = bytes([3, 0, 0, 2, 0xC4, 0x00])
_MAGIC = b"IGNI"


def _msgpack_str(text: str) -> bytes:
    data = text.encode()
    if len(data) < 32:
        return bytes([0xA0 | len(data)]) + data
    if len(data) < 256:
        return bytes([0xD9, len(data)]) + data
    return b"\xda" + struct.pack(">H", len(data)) + data


def _handshake_body(username: str | None, password: str | None) -> bytes:
    if username is None:
        return _HANDSHAKE_HEAD + b"\x00"
    extensions = {"authn-type": "basic", "authn-identity": username, "authn-secret": password or ""}
    return _HANDSHAKE_HEAD + b"\x03" + b"".join(_msgpack_str(k) + _msgpack_str(v) for k, v in extensions.items())


def libs_dir(version: str = IGNITE3_VERSION) -> Path:
    return home_dir() / f"ignite-{check_version(version, 3)}" / "libs"


def install(version: str = IGNITE3_VERSION, quiet: bool = False, progress: bool | None = None) -> Path:
    """Fetches ignite-runner with its dependencies (idempotent). ``progress``: a bar of the bytes
    Maven fetches (None: only when stderr is a terminal)."""
    libs = libs_dir(version)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServerError("Maven (mvn) is needed to fetch the Ignite jars and is not on PATH")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    pom = tmp.with_name("ignite3-jars.pom.xml")
    pom.write_text(POM)
    if not quiet:
        print(f"fetching Apache Ignite {version} jars with Maven into {libs} ...", flush=True)
    cmd = copy_dependencies_command(mvn, pom, tmp, f"-Dignite.version={version}")
    returncode, output = run_maven(cmd, pom.parent, progress)
    if returncode != 0:
        raise ServerError(f"Maven could not fetch Ignite {version}:\n{output[-8000:]}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.write_text(version)
    return libs


def handshake_ok(
    host: str,
    port: int,
    timeout: float = 2.0,
    username: str | None = None,
    password: str | None = None,
    tls_context: tls.SSLContext | None = None,
) -> bool:
    """True when an Ignite 3 node on host:port accepts a client handshake (with these credentials;
    over TLS when a `tls_context` is given)."""
    body = _handshake_body(username, password)
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            s = tls_context.wrap_socket(raw, server_hostname=host) if tls_context else raw
            s.sendall(_MAGIC + struct.pack(">i", len(body)) + body)
            head = _recv_exactly(s, 8)
            if head[:4] != _MAGIC:
                return False
            reply = _recv_exactly(s, min(struct.unpack(">i", head[4:])[0], 64))
            # version (three positive fixints), then nil where an error would be
            return len(reply) >= 4 and reply[3] == 0xC0
    except (OSError, ServerError):
        return False


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ServerError("the node closed the connection")
        data += chunk
    return data


@dataclass
class Ignite3NodeSpec:
    index: int
    name: str
    client_port: int
    network_port: int
    rest_port: int
    work_dir: Path

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.client_port, self.network_port, self.rest_port)


@dataclass(kw_only=True)
class Ignite3Cluster(NodeProcesses):
    """One or more Ignite 3 nodes on 127.0.0.1, forming one initialised cluster (the settings
    every launcher has are :class:`~ignite_fast._node_process.NodeProcesses`').

    ``name`` also names the cluster at init. ``storage_mb`` sizes the default storage profile
    (aipersist) of each node; Ignite's own default is 20% of the machine's memory.
    ``meta_storage_nodes``: how many nodes, the first ones, hold the meta storage and cluster
    management group (the cluster works while a majority of them is up).
    ``username``/``password``: basic authentication with that one user. ``ssl``: TLS on the
    client port, a dict of "keystore", "keystore_password" (PKCS12), and for
    ``"client_auth": True`` (client certificates required) "truststore", "truststore_password"
    (PKCS12 holding the clients' CA).
    """

    generation = 3

    network_port: int = 3344
    rest_port: int = 10300
    storage_mb: int = 256
    meta_storage_nodes: int = 1
    name: str = "ignite3"
    version: str = IGNITE3_VERSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def node_specs(self) -> list[Ignite3NodeSpec]:
        return [
            Ignite3NodeSpec(
                i,
                f"{self.name}-node{i}",
                self.port + i,
                self.network_port + i,
                self.rest_port + i,
                self.cluster_dir / f"node{i}",
            )
            for i in range(self.nodes)
        ]

    def log_path(self, index: int = 0) -> Path:
        return self.cluster_dir / f"node{index}" / "node.log"

    def config_path(self, spec: Ignite3NodeSpec) -> Path:
        return spec.work_dir / "ignite-config.conf"

    def node_config(self, node: Ignite3NodeSpec) -> str:
        members = ", ".join(f'"127.0.0.1:{self.network_port + i}"' for i in range(self.nodes))
        return f"""ignite {{
  network {{
    port: {node.network_port}
    listenAddresses: ["127.0.0.1"]
    nodeFinder.netClusterNodes: [{members}]
  }}
  clientConnector {{
    port: {node.client_port}
    listenAddresses: ["127.0.0.1"]{self._ssl_hocon()}
  }}
  rest.port: {node.rest_port}
  storage.profiles: [{{ name: default, engine: aipersist, sizeBytes: {self.storage_mb * 1024 * 1024} }}]
}}
"""

    def _ssl_hocon(self) -> str:
        """The client connector's `ssl` block (empty without TLS). JSON strings are HOCON strings."""
        if not self.ssl:
            return ""
        keystore = _store_hocon(self.ssl["keystore"], self.ssl["keystore_password"])
        trust = ""
        if self.ssl.get("client_auth"):
            truststore = _store_hocon(self.ssl["truststore"], self.ssl["truststore_password"])
            trust = f"\n      clientAuth: require\n      trustStore {truststore}"
        return f"\n    ssl {{\n      enabled: true\n      keyStore {keystore}{trust}\n    }}"

    def cluster_configuration(self) -> str | None:
        """The cluster configuration given at init (HOCON): basic authentication with one user
        when a username is set, else None (Ignite's defaults: no security)."""
        if self.username is None:
            return None
        user = f"{{ username: {json.dumps(self.username)}, password: {json.dumps(self.password)} }}"
        return f"""ignite.security {{
  enabled: true
  authentication.providers: [{{ name: default, type: basic, users: [{user}] }}]
}}
"""

    def answers(self, spec: Ignite3NodeSpec) -> bool:
        """The node accepts a client handshake with the cluster's credentials (over TLS when it
        is on; when client certificates are required, which the launcher has none of, a node
        that has started and accepts connections on its client port)."""
        if self.ssl and self.ssl.get("client_auth"):
            return port_open(spec.client_port)
        context = None
        if self.ssl:  # only checks that the node answers: its certificate is the client's business
            context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = tls.CERT_NONE
        return handshake_ok(
            "127.0.0.1", spec.client_port, username=self.username, password=self.password, tls_context=context
        )

    def java_command(self, node: Ignite3NodeSpec, libs: Path) -> list[str]:
        java = os.environ.get("JAVA", shutil.which("java") or "java")
        return [
            java,
            f"-Xmx{self.heap_mb}m",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.net.preferIPv4Stack=true",
            "-Dfile.encoding=UTF-8",
            "-Dio.netty.tryReflectionSetAccessible=true",
            # REST has no listen address in Ignite's configuration; its server (Micronaut) takes
            # the host from this property.
            "-Dmicronaut.server.host=127.0.0.1",
            *JAVA_MODULE_FLAGS,
            "-cp",
            f"{libs}/*",
            MAIN_CLASS,
            "--config-path",
            str(self.config_path(node)),
            "--work-dir",
            str(node.work_dir / "work"),
            "--node-name",
            node.name,
        ]

    # ---- lifecycle ----

    def start(self, quiet: bool = True) -> Ignite3Cluster:
        """Starts every node, initialises the cluster through node 0 and waits until every node
        has started and accepts a client handshake. A cluster of this name that still has a
        running node is refused: stop it first."""
        if self.username is not None and not self.password:
            raise ServerError("basic authentication needs a password (Ignite 3 refuses a blank one)")
        libs = install(self.version, quiet=quiet, progress=False if quiet else None)
        running = [i for i, alive in enumerate(self.pids_alive()) if alive]
        if running:
            raise ServerError(f"Ignite 3 cluster '{self.name}' already has running nodes {running}; stop it first")
        try:
            self._start(libs, quiet)
        except BaseException:
            self.stop(timeout=5)
            raise
        return self

    def _start(self, libs: Path, quiet: bool) -> None:
        self.launch_nodes(libs, quiet)
        deadline = time.monotonic() + self.start_timeout
        for spec in self.node_specs():
            self._wait(spec, deadline, "answer REST", lambda s: self.node_state(s) is not None)
        self._init()
        for spec in self.node_specs():
            self._wait(
                spec,
                deadline,
                "start and answer a client handshake",
                lambda s: self.node_state(s) == "STARTED" and self.answers(s),
            )

    def _init(self) -> None:
        """Initialises the cluster (once per cluster) with the first ``meta_storage_nodes`` nodes as
        its meta storage and cluster management group: REST POST /management/v1/cluster/init."""
        first = self.node_specs()[0]
        holders = [spec.name for spec in self.node_specs()[: self.meta_storage_nodes]]
        command = {"metaStorageNodes": holders, "cmgNodes": holders, "clusterName": self.name}
        configuration = self.cluster_configuration()
        if configuration is not None:
            command["clusterConfiguration"] = configuration
        request = urllib.request.Request(
            f"http://127.0.0.1:{first.rest_port}/management/v1/cluster/init",
            data=json.dumps(command).encode(),
            headers={"Content-Type": "application/json", **self._rest_auth()},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.start_timeout) as response:
                response.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise ServerError(f"initialising Ignite 3 cluster '{self.name}' failed ({e.code}): {detail}") from e
        except OSError as e:
            raise ServerError(f"initialising Ignite 3 cluster '{self.name}' failed: {e}\n{self.log_tail(0)}") from e

    def node_state(self, spec: Ignite3NodeSpec) -> str | None:
        """The node's state from REST (STARTING before the cluster is initialised, STARTED once
        it has joined), or None when REST does not answer."""
        url = f"http://127.0.0.1:{spec.rest_port}/management/v1/node/state"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=self._rest_auth()), timeout=2) as response:
                return cast("str | None", json.loads(response.read()).get("state"))
        except (OSError, ValueError):
            return None

    def _rest_auth(self) -> dict[str, str]:
        """The Authorization header REST wants once the cluster has authentication (harmless
        before init)."""
        if self.username is None:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def _wait(
        self, spec: Ignite3NodeSpec, deadline: float, what: str, ready: Callable[[Ignite3NodeSpec], bool]
    ) -> None:
        pid = self.node_pid(spec)
        while time.monotonic() < deadline:
            if pid is None or not pid_alive(pid):
                raise ServerError(f"Ignite 3 node {spec.index} exited during start-up.\n{self.log_tail(spec.index)}")
            if ready(spec):
                return
            time.sleep(0.25)
        raise ServerError(
            f"Ignite 3 node {spec.index} did not {what} within {self.start_timeout:.0f}s.\n{self.log_tail(spec.index)}"
        )

    def status(self) -> list[dict[str, Any]]:
        out = []
        for spec in self.node_specs():
            pid = self.node_pid(spec)
            alive = pid is not None and pid_alive(pid)
            out.append(
                {
                    "node": spec.index,
                    "name": spec.name,
                    "pid": pid,
                    "alive": alive,
                    "port": spec.client_port,
                    "state": self.node_state(spec) if alive else None,
                    "answers": alive and self.answers(spec),
                    "log": str(spec.work_dir / "node.log"),
                }
            )
        return out


# The command line's TLS settings (`--ssl-<name>`), as `ssl_settings` takes them.
SSL_SETTINGS = ("keystore", "keystore_password", "truststore", "truststore_password")


def ssl_settings(
    keystore: str | None,
    keystore_password: str | None,
    truststore: str | None = None,
    truststore_password: str | None = None,
) -> dict[str, Any] | None:
    """The `ssl` of an `Ignite3Cluster` from separate settings: None without a keystore; a
    truststore turns on required client certificates."""
    if keystore is None:
        if truststore is not None:
            raise ServerError("a truststore (client certificates) needs a keystore: TLS on the client port")
        return None
    if keystore_password is None or (truststore is not None and truststore_password is None):
        raise ServerError("a PKCS12 keystore or truststore needs its password")
    ssl: dict[str, Any] = {"keystore": keystore, "keystore_password": keystore_password}
    if truststore is not None:
        ssl.update(truststore=truststore, truststore_password=truststore_password, client_auth=True)
    return ssl


def _store_hocon(path: str | os.PathLike[str], password: str) -> str:
    return f"{{ type: PKCS12, path: {json.dumps(str(path))}, password: {json.dumps(password)} }}"
