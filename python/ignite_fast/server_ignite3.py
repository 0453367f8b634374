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
cluster management group: node 0 must stay up for the cluster to work, any other node may go.
Work directories are wiped at each start, so every start is a new, empty cluster.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ._node_process import (
    ServerError,
    copy_dependencies_command,
    home_dir,
    log_tail,
    pid_alive,
    port_open,
    read_pid,
    run_maven,
    send_signal,
    start_process,
    stop_processes,
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
# version (3, 0, 0), client code 2, no feature bits (an empty bin 8), no extensions (a count of 0:
# extensions are an int count then key/value strings, not a MessagePack map).
_HANDSHAKE_BODY = bytes([3, 0, 0, 2, 0xC4, 0x00, 0x00])
_MAGIC = b"IGNI"


def libs_dir(version: str = IGNITE3_VERSION) -> Path:
    return home_dir() / f"ignite-{version}" / "libs"


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


def handshake_ok(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when an Ignite 3 node on host:port accepts a client handshake (no credentials)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(_MAGIC + struct.pack(">i", len(_HANDSHAKE_BODY)) + _HANDSHAKE_BODY)
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


@dataclass
class Ignite3Cluster:
    """One or more Ignite 3 nodes on 127.0.0.1, forming one initialised cluster.

    ``name`` names the cluster (at init) and keeps its work directories (logs, configs, pid files)
    apart from other clusters'. ``storage_mb`` sizes the default storage profile (aipersist) of
    each node; Ignite's own default is 20% of the machine's memory.
    """

    nodes: int = 1
    port: int = 10800
    network_port: int = 3344
    rest_port: int = 10300
    heap_mb: int = 1024
    storage_mb: int = 256
    name: str = "ignite3"
    version: str = IGNITE3_VERSION
    start_timeout: float = 180.0
    _procs: list = field(default_factory=list, repr=False)

    @property
    def cluster_dir(self) -> Path:
        return home_dir() / "clusters" / self.name

    @property
    def addresses(self) -> list[str]:
        return [f"127.0.0.1:{self.port + i}" for i in range(self.nodes)]

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

    def config_hocon(self, node: Ignite3NodeSpec) -> str:
        members = ", ".join(f'"127.0.0.1:{self.network_port + i}"' for i in range(self.nodes))
        return f"""ignite {{
  network {{
    port: {node.network_port}
    listenAddresses: ["127.0.0.1"]
    nodeFinder.netClusterNodes: [{members}]
  }}
  clientConnector {{
    port: {node.client_port}
    listenAddresses: ["127.0.0.1"]
  }}
  rest.port: {node.rest_port}
  storage.profiles: [{{ name: default, engine: aipersist, sizeBytes: {self.storage_mb * 1024 * 1024} }}]
}}
"""

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
            str(node.work_dir / "ignite-config.conf"),
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
        libs = install(self.version, quiet=quiet, progress=False if quiet else None)
        running = [i for i, alive in enumerate(self._pids_alive()) if alive]
        if running:
            raise ServerError(f"Ignite 3 cluster '{self.name}' already has running nodes {running}; stop it first")
        try:
            self._start(libs, quiet)
        except BaseException:
            self.stop(timeout=5)
            raise
        return self

    def _start(self, libs: Path, quiet: bool) -> None:
        for spec in self.node_specs():
            for p in (spec.client_port, spec.network_port, spec.rest_port):
                if port_open(p):
                    raise ServerError(f"port {p} on 127.0.0.1 is already in use; pick other ports")
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        for spec in self.node_specs():
            spec.work_dir.mkdir(parents=True, exist_ok=True)
            (spec.work_dir / "ignite-config.conf").write_text(self.config_hocon(spec))
            self._procs.append(start_process(self.java_command(spec, libs), spec.work_dir))
            if not quiet:
                print(f"started Ignite 3 node {spec.index} ({spec.name}), client port {spec.client_port}", flush=True)
        (self.cluster_dir / "cluster.json").write_text(json.dumps(self._describe()))
        deadline = time.monotonic() + self.start_timeout
        for spec in self.node_specs():
            self._wait(spec, deadline, "answer REST", lambda s: self.node_state(s) is not None)
        self._init()
        for spec in self.node_specs():
            self._wait(
                spec,
                deadline,
                "start and answer a client handshake",
                lambda s: self.node_state(s) == "STARTED" and handshake_ok("127.0.0.1", s.client_port),
            )

    def _init(self) -> None:
        """Initialises the cluster (once per cluster) with node 0 as its meta storage and cluster
        management group: REST POST /management/v1/cluster/init."""
        first = self.node_specs()[0]
        body = json.dumps({"metaStorageNodes": [first.name], "cmgNodes": [first.name], "clusterName": self.name})
        request = urllib.request.Request(
            f"http://127.0.0.1:{first.rest_port}/management/v1/cluster/init",
            data=body.encode(),
            headers={"Content-Type": "application/json"},
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
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read()).get("state")
        except (OSError, ValueError):
            return None

    def _wait(self, spec: Ignite3NodeSpec, deadline: float, what: str, ready) -> None:
        pid = self._pid(spec)
        while time.monotonic() < deadline:
            if pid is None or not pid_alive(pid):
                raise ServerError(f"Ignite 3 node {spec.index} exited during start-up.\n{self.log_tail(spec.index)}")
            if ready(spec):
                return
            time.sleep(0.25)
        raise ServerError(
            f"Ignite 3 node {spec.index} did not {what} within {self.start_timeout:.0f}s.\n{self.log_tail(spec.index)}"
        )

    def _describe(self) -> dict:
        return {
            "ignite": 3,
            "nodes": self.nodes,
            "port": self.port,
            "network_port": self.network_port,
            "rest_port": self.rest_port,
            "heap_mb": self.heap_mb,
            "storage_mb": self.storage_mb,
            "name": self.name,
            "version": self.version,
        }

    def log_tail(self, index: int = 0, lines: int = 60) -> str:
        return log_tail(self.log_path(index), lines)

    def _pid(self, spec: Ignite3NodeSpec) -> int | None:
        return read_pid(spec.work_dir)

    def _pids_alive(self) -> list[bool]:
        return [(pid := self._pid(s)) is not None and pid_alive(pid) for s in self.node_specs()]

    def status(self) -> list[dict]:
        out = []
        for spec in self.node_specs():
            pid = self._pid(spec)
            alive = pid is not None and pid_alive(pid)
            out.append(
                {
                    "node": spec.index,
                    "name": spec.name,
                    "pid": pid,
                    "alive": alive,
                    "port": spec.client_port,
                    "state": self.node_state(spec) if alive else None,
                    "answers": alive and handshake_ok("127.0.0.1", spec.client_port),
                    "log": str(spec.work_dir / "node.log"),
                }
            )
        return out

    def stop(self, timeout: float = 30.0) -> None:
        """Stops every node: SIGTERM (a clean shutdown takes about 9 s), then SIGKILL after
        `timeout` seconds."""
        pids = [p for s in self.node_specs() if (p := self._pid(s)) is not None and pid_alive(p)]
        stop_processes(pids, timeout)
        for proc in self._procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._procs.clear()
        for spec in self.node_specs():
            (spec.work_dir / "pid").unlink(missing_ok=True)

    def kill_node(self, index: int) -> None:
        """Kills one node at once (SIGKILL), as a crash would. Node 0 holds the meta storage:
        without it the cluster stops working, so fault tests kill another node."""
        pid = self._pid(self.node_specs()[index])
        if pid is not None:
            send_signal(pid, signal.SIGKILL)

    def __enter__(self) -> Ignite3Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @classmethod
    def load(cls, name: str = "ignite3") -> Ignite3Cluster:
        """The cluster that `start` recorded under `name` (for `status` and `stop` from the CLI)."""
        recorded = recorded_cluster(name)
        if recorded is None or recorded.get("ignite") != 3:
            return cls(name=name)
        recorded.pop("ignite")
        return cls(**recorded)


def recorded_cluster(name: str) -> dict | None:
    """What `start` recorded about the cluster `name` (either generation), or None."""
    try:
        return json.loads((home_dir() / "clusters" / name / "cluster.json").read_text())
    except (OSError, ValueError):
        return None
