"""Run real Apache Ignite 2.x nodes on loopback, from jars that Maven fetches.

    python -m ignite_fast.server install          # fetch the jars (idempotent; a bar of bytes fetched)
    python -m ignite_fast.server start [--nodes 2] [--port 10800] [--region-mb 512]
    python -m ignite_fast.server status
    python -m ignite_fast.server stop

``--ignite 3`` does the same for Apache Ignite 3.x nodes (``server_ignite3``).

The same from Python (this is what the test suite and the demo use)::

    from ignite_fast.server import IgniteCluster
    with IgniteCluster(nodes=1, port=10800) as cluster:
        ...  # cluster.addresses == ["127.0.0.1:10800"]

Every node binds to 127.0.0.1. A cluster of several nodes finds itself through a static IP finder
over its own discovery ports (27500, 27501, ...; communication 27100, ...: below the ephemeral
port range, unlike Ignite's defaults), so two clusters with different ports do not merge.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

# ClusterNameError, ServerError and maven_download are re-exported (`as`): users and tests import
# them from here.
from . import server_ignite3
from ._node_process import ClusterNameError as ClusterNameError
from ._node_process import (
    NodeProcesses,
    check_version,
    copy_dependencies_command,
    home_dir,
    pid_alive,
    port_open,
    recorded_cluster,
    run_maven,
)
from ._node_process import ServerError as ServerError
from ._node_process import VersionError as VersionError
from ._node_process import maven_download as maven_download

# The one place the Ignite version is pinned, for the whole suite and the demo. Other releases
# start with `version=` (the compatibility tier of make test runs 2.14.0, 2.16.0 and 2.18.0). 2.18.0
# is not the pin: it has no H2 engine (ignite-indexing 2.18.0 is not on Maven Central, and 2.17.0's
# does not run on core 2.18.0), so its nodes run SQL on Calcite, whose dialect differs from the H2
# one that the README's examples and much of the suite are written in (MERGE INTO ... VALUES, for one).
IGNITE_VERSION = "2.17.0"

MAIN_CLASS = "org.apache.ignite.startup.cmdline.CommandLineStartup"

# Java 15+ module flags that Ignite 2.x needs (PROTOCOL.md, "Server-side facts").
_OPENS = [
    "java.base/jdk.internal.access",
    "java.base/jdk.internal.misc",
    "java.base/sun.nio.ch",
    "java.base/sun.util.calendar",
    "java.base/sun.reflect.generics.reflectiveObjects",
    "java.base/java.io",
    "java.base/java.nio",
    "java.base/java.net",
    "java.base/java.util",
    "java.base/java.util.concurrent",
    "java.base/java.util.concurrent.locks",
    "java.base/java.util.concurrent.atomic",
    "java.base/java.lang",
    "java.base/java.lang.invoke",
    "java.base/java.math",
    "java.base/java.lang.reflect",
    "java.base/java.time",
    "java.base/java.text",
    "java.management/com.sun.jmx.mbeanserver",
    "jdk.internal.jvmstat/sun.jvmstat.monitor",
    "jdk.management/com.sun.management.internal",
    "java.sql/java.sql",
    "java.management/sun.management",
    "java.desktop/java.awt.font",
]
JAVA_MODULE_FLAGS = [f"--add-opens={o}=ALL-UNNAMED" for o in _OPENS]


def libs_dir(version: str = IGNITE_VERSION) -> Path:
    return home_dir() / f"ignite-{check_version(version, 2)}" / "libs"


def _runs_calcite(version: str) -> bool:
    """Whether the release runs SQL on the Calcite engine: from 2.18, which has no H2 module."""
    return tuple(int(part) for part in check_version(version, 2).split(".")) >= (2, 18, 0)


def _sql_module(version: str) -> str:
    return "ignite-calcite" if _runs_calcite(version) else "ignite-indexing"


def install(version: str = IGNITE_VERSION, quiet: bool = False, progress: bool | None = None) -> Path:
    """Fetches ignite-core, ignite-spring and the SQL engine's module (ignite-indexing, or
    ignite-calcite from 2.18) with their dependencies (idempotent).
    ``progress``: a bar of the bytes Maven fetches (None: only when stderr is a terminal)."""
    libs = libs_dir(version)
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ServerError("Maven (mvn) is needed to fetch the Ignite jars and is not on PATH")
    pom = Path(__file__).with_name("ignite-jars.pom.xml")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    if not quiet:
        print(f"fetching Apache Ignite {version} jars with Maven into {libs} ...", flush=True)
    cmd = copy_dependencies_command(
        mvn, pom, tmp, f"-Dignite.version={version}", f"-Dignite.sql.module={_sql_module(version)}"
    )
    returncode, output = run_maven(cmd, pom.parent, progress)
    if returncode != 0:
        raise ServerError(f"Maven could not fetch Ignite {version}:\n{output[-8000:]}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.write_text(version)
    return libs


# SQL on the Calcite engine (2.18 and later, whose H2 engine is gone from Maven Central).
_CALCITE_XML = """<property name="sqlConfiguration">
      <bean class="org.apache.ignite.configuration.SqlConfiguration">
        <property name="queryEnginesConfiguration">
          <list>
            <bean class="org.apache.ignite.calcite.CalciteQueryEngineConfiguration">
              <property name="default" value="true"/>
            </bean>
          </list>
        </property>
      </bean>
    </property>"""


# Attribute values escaped whole: quotes, and the white space a parser would turn into spaces.
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _bean_property(name: str, value: object) -> str:
    return f'<property name="{name}" value="{escape(str(value), _ATTRIBUTE_ENTITIES)}"/>'


@dataclass
class NodeSpec:
    index: int
    client_port: int
    discovery_port: int
    communication_port: int
    work_dir: Path

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.client_port, self.discovery_port, self.communication_port)


@dataclass(kw_only=True)
class IgniteCluster(NodeProcesses):
    """One or more Ignite server nodes on 127.0.0.1, forming one cluster (the settings every
    launcher has are :class:`~ignite_fast._node_process.NodeProcesses`').

    Discovery and communication ports count up from their bases as client ports do from ``port``.
    ``ssl`` (TLS on the client port): {"keystore", "keystore_password", "truststore",
    "truststore_password" (PKCS12 files), "client_auth": require client certificates}.
    """

    generation = 2

    region_mb: int = 512
    # Below Linux's ephemeral port range (32768-60999): Ignite's own defaults (47500, 47100) lie
    # inside it, and a local port left in TIME-WAIT by any outgoing connection then stops a node
    # from binding there.
    discovery_port: int = 27500
    communication_port: int = 27100
    name: str = "default"
    version: str = IGNITE_VERSION
    max_open_cursors: int = 128
    # Native persistence (data survives restarts); the cluster starts active.
    persistence: bool = False
    # Username/password authentication (needs persistence; default user ignite/ignite).
    authentication: bool = False

    def node_specs(self) -> list[NodeSpec]:
        return [
            NodeSpec(
                i, self.port + i, self.discovery_port + i, self.communication_port + i, self.cluster_dir / f"node{i}"
            )
            for i in range(self.nodes)
        ]

    def log_path(self, index: int = 0) -> Path:
        return self.cluster_dir / f"node{index}" / "node.log"

    def config_path(self, spec: NodeSpec) -> Path:
        return spec.work_dir / "config.xml"

    def node_config(self, node: NodeSpec) -> str:
        if self.authentication and not self.persistence:
            raise ServerError("Ignite authentication needs native persistence: pass persistence=True")
        finder = "".join(f"<value>127.0.0.1:{self.discovery_port + i}</value>" for i in range(self.nodes))
        region_bytes = self.region_mb * 1024 * 1024
        persistence = "true" if self.persistence else "false"
        security = _bean_property("authenticationEnabled", "true") if self.authentication else ""
        ssl = self._ssl_xml()
        sql = _CALCITE_XML if _runs_calcite(self.version) else ""
        state = _bean_property("clusterStateOnStart", "ACTIVE") if self.persistence else ""
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<beans xmlns="http://www.springframework.org/schema/beans"
       xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
       xsi:schemaLocation="http://www.springframework.org/schema/beans
                           http://www.springframework.org/schema/beans/spring-beans.xsd">
  <bean class="org.apache.ignite.configuration.IgniteConfiguration">
    {_bean_property("igniteInstanceName", f"{self.name}-node{node.index}")}
    {_bean_property("localHost", "127.0.0.1")}
    {_bean_property("workDirectory", node.work_dir / "work")}
    {_bean_property("metricsLogFrequency", 0)}
    {_bean_property("peerClassLoadingEnabled", "false")}
    {security}
    {state}
    {sql}
    <property name="clientConnectorConfiguration">
      <bean class="org.apache.ignite.configuration.ClientConnectorConfiguration">
        {_bean_property("host", "127.0.0.1")}
        {_bean_property("port", node.client_port)}
        {_bean_property("portRange", 0)}
        {_bean_property("maxOpenCursorsPerConnection", self.max_open_cursors)}
        {_bean_property("socketSendBufferSize", 4 * 1024 * 1024)}
        {_bean_property("socketReceiveBufferSize", 1024 * 1024)}
        {_bean_property("tcpNoDelay", "true")}
        {ssl}
      </bean>
    </property>
    <property name="dataStorageConfiguration">
      <bean class="org.apache.ignite.configuration.DataStorageConfiguration">
        <property name="defaultDataRegionConfiguration">
          <bean class="org.apache.ignite.configuration.DataRegionConfiguration">
            {_bean_property("name", "default")}
            {_bean_property("initialSize", min(region_bytes, 256 * 1024 * 1024))}
            {_bean_property("maxSize", region_bytes)}
            {_bean_property("persistenceEnabled", persistence)}
          </bean>
        </property>
      </bean>
    </property>
    <property name="discoverySpi">
      <bean class="org.apache.ignite.spi.discovery.tcp.TcpDiscoverySpi">
        {_bean_property("localAddress", "127.0.0.1")}
        {_bean_property("localPort", node.discovery_port)}
        {_bean_property("localPortRange", 0)}
        <property name="ipFinder">
          <bean class="org.apache.ignite.spi.discovery.tcp.ipfinder.vm.TcpDiscoveryVmIpFinder">
            <property name="addresses"><list>{finder}</list></property>
          </bean>
        </property>
      </bean>
    </property>
    <property name="communicationSpi">
      <bean class="org.apache.ignite.spi.communication.tcp.TcpCommunicationSpi">
        {_bean_property("localAddress", "127.0.0.1")}
        {_bean_property("localPort", node.communication_port)}
        {_bean_property("localPortRange", 0)}
      </bean>
    </property>
  </bean>
</beans>
"""

    def _ssl_xml(self) -> str:
        if not self.ssl:
            return ""
        # Ignite's factory wants a trust store even when it asks clients for no certificate.
        trust = (
            _bean_property("trustStoreFilePath", self.ssl["truststore"])
            + _bean_property("trustStorePassword", self.ssl["truststore_password"])
            + _bean_property("trustStoreType", "PKCS12")
        )
        return f"""{_bean_property("sslEnabled", "true")}
        {_bean_property("useIgniteSslContextFactory", "false")}
        {_bean_property("sslClientAuth", "true" if self.ssl.get("client_auth") else "false")}
        <property name="sslContextFactory">
          <bean class="org.apache.ignite.ssl.SslContextFactory">
            {_bean_property("keyStoreFilePath", self.ssl["keystore"])}
            {_bean_property("keyStorePassword", self.ssl["keystore_password"])}
            {_bean_property("keyStoreType", "PKCS12")}
            {trust}
          </bean>
        </property>"""

    def _answers(self, port: int) -> bool:
        if self.ssl:  # a plaintext handshake cannot succeed; the port accepting is enough
            return port_open(port)
        return handshake_ok("127.0.0.1", port, any_answer=self.authentication)

    def java_command(self, node: NodeSpec, libs: Path) -> list[str]:
        java = os.environ.get("JAVA", shutil.which("java") or "java")
        return [
            java,
            f"-Xms{self.heap_mb}m",
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseG1GC",
            "-Djava.net.preferIPv4Stack=true",
            "-DIGNITE_UPDATE_NOTIFIER=false",
            "-DIGNITE_NO_ASCII=true",
            "-DIGNITE_QUIET=true",
            "-DIGNITE_PERFORMANCE_SUGGESTIONS_DISABLED=true",
            *JAVA_MODULE_FLAGS,
            "-cp",
            f"{libs}/*",
            MAIN_CLASS,
            str(self.config_path(node)),
        ]

    # ---- lifecycle ----

    def start(self, quiet: bool = True, attempts: int = 3) -> IgniteCluster:
        """Starts every node and waits until each has logged a successful start and answers a
        handshake. Ignite 2.17 sometimes dies in its very first partition exchange
        ("Failed to execute affinity operation on cache groups", apache/ignite#12621); such a
        start is retried from scratch, up to `attempts` times. Whatever ends a start early (an
        error, Ctrl-C) stops the nodes it had started."""
        libs = install(self.version, quiet=quiet, progress=False if quiet else None)
        running = [i for i, alive in enumerate(self.pids_alive()) if alive]
        if running:
            raise ServerError(f"cluster '{self.name}' already has running nodes {running}; stop it first")
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(libs, quiet)
                return self
            except BaseException as e:
                self.stop(timeout=5)
                if not isinstance(e, ServerError) or attempt == attempts or "exited during start-up" not in str(e):
                    raise
                if not quiet:
                    print(f"an Ignite node died during start-up; retrying ({attempt}/{attempts - 1})", flush=True)
        return self

    def _start_once(self, libs: Path, quiet: bool) -> None:
        self.launch_nodes(libs, quiet)
        for spec in self.node_specs():
            self._wait_ready(spec)
        self._wait_topology()
        if self.persistence:
            activate("127.0.0.1", self.port, *(("ignite", "ignite") if self.authentication else (None, None)))

    def _wait_ready(self, spec: NodeSpec) -> None:
        deadline = time.monotonic() + self.start_timeout
        pid = self.node_pid(spec)
        log = spec.work_dir / "node.log"
        while time.monotonic() < deadline:
            if pid is None or not pid_alive(pid):
                raise ServerError(f"Ignite node {spec.index} exited during start-up.\n{self.log_tail(spec.index)}")
            started = "Ignite node started OK" in log.read_text(errors="replace")
            if started and self._answers(spec.client_port):
                return
            time.sleep(0.25)
        raise ServerError(
            f"Ignite node {spec.index} did not start and answer a handshake on port {spec.client_port} "
            f"within {self.start_timeout:.0f}s.\n{self.log_tail(spec.index)}"
        )

    def _wait_topology(self) -> None:
        """With several nodes: waits until the first node's log shows all of them joined."""
        if self.nodes == 1:
            return
        deadline = time.monotonic() + self.start_timeout
        wanted = f"servers={self.nodes},"
        while time.monotonic() < deadline:
            logs = [self.log_path(i).read_text(errors="replace") for i in range(self.nodes)]
            if all(wanted in text for text in logs):
                return
            time.sleep(0.25)
        raise ServerError(f"the {self.nodes} nodes did not form one cluster.\n{self.log_tail(0)}")

    def status(self) -> list[dict[str, Any]]:
        out = []
        for spec in self.node_specs():
            pid = self.node_pid(spec)
            alive = pid is not None and pid_alive(pid)
            out.append(
                {
                    "node": spec.index,
                    "pid": pid,
                    "alive": alive,
                    "port": spec.client_port,
                    "answers": alive and self._answers(spec.client_port),
                    "log": str(spec.work_dir / "node.log"),
                }
            )
        return out


def handshake_ok(host: str, port: int, timeout: float = 2.0, *, any_answer: bool = False) -> bool:
    """True when a thin-client handshake at 1.7.0 (no credentials) on host:port succeeds, or with
    `any_answer`, when the node answers it at all (a node with authentication refuses it)."""
    body = struct.pack("<BhhhB", 1, 1, 7, 0, 2) + struct.pack("<Bi", 12, 0)
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack("<i", len(body)) + body)
            head = s.recv(5)
            return len(head) == 5 and (any_answer or head[4] == 1)
    except OSError:
        return False


def _string(value: str) -> bytes:
    data = value.encode("utf-8")
    return struct.pack("<Bi", 9, len(data)) + data


def _frame(sock: socket.socket) -> bytes:
    head = _recv_exactly(sock, 4)
    return _recv_exactly(sock, struct.unpack("<i", head)[0])


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ServerError("the node closed the connection")
        data += chunk
    return data


def activate(
    host: str, port: int, username: str | None = None, password: str | None = None, timeout: float = 60.0
) -> None:
    """Activates a persistent cluster (a new one starts inactive) with the thin client's cluster
    API: a 1.7.0 handshake that announces feature 2 (cluster states), then op 5001 with ACTIVE."""
    features = struct.pack("<Bi", 12, 1) + bytes([1 << 2])
    body = struct.pack("<BhhhB", 1, 1, 7, 0, 2) + features
    if username is not None:
        body += _string(username) + _string(password or "")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack("<i", len(body)) + body)
        if _frame(sock)[:1] != b"\x01":
            raise ServerError(f"the node at {host}:{port} refused the handshake for activation")
        request = struct.pack("<hqB", 5001, 1, 1)  # op, request id, state ACTIVE
        sock.sendall(struct.pack("<i", len(request)) + request)
        response = _frame(sock)
        flags = struct.unpack_from("<h", response, 8)[0]
        if flags & 1:
            raise ServerError(
                f"activating the cluster at {host}:{port} failed (status {struct.unpack_from('<i', response, 10)[0]})"
            )


# Options that only one generation's start takes: name -> (generation, default).
_GENERATION_OPTIONS = {
    "region_mb": (2, 512),
    "discovery_port": (2, 27500),
    "communication_port": (2, 27100),
    "persistence": (2, False),
    "authentication": (2, False),
    "network_port": (3, 3344),
    "rest_port": (3, 10300),
    "storage_mb": (3, 256),
    "username": (3, None),
    "password": (3, None),
    "ssl_keystore": (3, None),
    "ssl_keystore_password": (3, None),
    "ssl_truststore": (3, None),
    "ssl_truststore_password": (3, None),
}


# Secrets of `start`, each also from a file (`--<option>-file PATH`) or an environment variable:
# a value on the command line is visible to every user of the machine (ps) and kept in shell
# history. Option -> its environment variable.
SECRET_OPTIONS = {
    "password": "IGNITE_FAST_PASSWORD",
    "ssl_keystore_password": "IGNITE_FAST_SSL_KEYSTORE_PASSWORD",
    "ssl_truststore_password": "IGNITE_FAST_SSL_TRUSTSTORE_PASSWORD",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ignite-fast server", description="Run local Apache Ignite nodes.")
    sub = parser.add_subparsers(dest="command", required=True)
    install_parser = sub.add_parser("install", help="fetch the Ignite jars with Maven")
    version_help = f"Ignite version (default {IGNITE_VERSION}, or {server_ignite3.IGNITE3_VERSION} with --ignite 3)"
    install_parser.add_argument("--version", help=version_help)
    install_parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a bar of the bytes Maven fetches, on stderr (default: when stderr is a terminal)",
    )
    start = sub.add_parser("start", help="start a cluster and wait until it answers")
    start.add_argument("--nodes", type=int, default=1)
    start.add_argument("--port", type=int, default=10800, help="client port of the first node")
    start.add_argument("--heap-mb", type=int, default=1024, help="JVM heap per node")
    start.add_argument("--version", help=version_help)
    ignite2 = start.add_argument_group("Ignite 2.x only")
    ignite2.add_argument("--region-mb", type=int, help="data region size per node (default 512)")
    ignite2.add_argument("--discovery-port", type=int, help="(default 27500)")
    ignite2.add_argument("--communication-port", type=int, help="(default 27100)")
    ignite2.add_argument("--persistence", action="store_true", help="native persistence (the cluster starts active)")
    ignite2.add_argument(
        "--authentication",
        action="store_true",
        help="require a username and password (implies --persistence; user ignite/ignite)",
    )
    ignite3 = start.add_argument_group("Ignite 3.x only")
    ignite3.add_argument("--network-port", type=int, help="cluster network port of the first node (default 3344)")
    ignite3.add_argument("--rest-port", type=int, help="REST port of the first node (default 10300)")
    ignite3.add_argument("--storage-mb", type=int, help="default storage profile size per node (default 256)")
    ignite3.add_argument("--username", help="basic authentication with this one user (needs --password)")
    ignite3.add_argument("--ssl-keystore", help="TLS on the client port: the node's PKCS12 keystore")
    ignite3.add_argument(
        "--ssl-truststore", help="require client certificates signed by a CA of this PKCS12 truststore"
    )
    what = {"password": "the user's password", "ssl_keystore_password": "the keystore's password"}
    for name, variable in SECRET_OPTIONS.items():
        flag = f"--{name.replace('_', '-')}"
        secret = what.get(name, "the truststore's password")
        ignite3.add_argument(f"{flag}-file", metavar="PATH", help=f"{secret}, from this file (or set {variable})")
        ignite3.add_argument(flag, help=f"{secret} (visible in ps: prefer {flag}-file or {variable})")
    for name in ("start", "stop", "status"):
        p = start if name == "start" else sub.add_parser(name, help=f"{name} the cluster")
        p.add_argument(
            "--name", help="cluster name (keeps work directories apart; default: 'default', 'ignite3' for 3.x)"
        )
    for p in sub.choices.values():
        p.add_argument(
            "--ignite",
            type=int,
            choices=(2, 3),
            help="Ignite generation (default 2; stop and status follow what start recorded under --name)",
        )
    return parser


def _generation(args: argparse.Namespace) -> int:
    if args.ignite is not None:
        return int(args.ignite)
    if args.command in ("stop", "status") and args.name is not None:
        recorded = recorded_cluster(args.name)
        if recorded is not None and recorded.get("ignite") == 3:
            return 3
    return 2


def _read_secrets(args: argparse.Namespace, generation: int, parser: argparse.ArgumentParser) -> None:
    """Sets each secret option of `start` from its file or its environment variable when it is
    not given itself; a secret given on the command line works, with a warning on stderr."""
    for name, variable in SECRET_OPTIONS.items():
        flag = f"--{name.replace('_', '-')}"
        given, path = getattr(args, name), getattr(args, f"{name}_file")
        if generation != 3:
            if path is not None:
                parser.error(f"{flag}-file is an option of Ignite 3.x only")
            continue  # `_start_options` refuses the option itself
        if given is not None and path is not None:
            parser.error(f"give {flag} or {flag}-file, not both")
        if given is not None:
            print(
                f"warning: {flag} on the command line is visible to every user of this machine (ps) and stays "
                f"in shell history; use {flag}-file or {variable}",
                file=sys.stderr,
            )
        elif path is not None:
            try:
                setattr(args, name, Path(path).read_text(encoding="utf-8").rstrip("\r\n"))
            except (OSError, UnicodeDecodeError) as e:
                parser.error(f"cannot read {flag}-file {path}: {e}")
        elif os.environ.get(variable):
            setattr(args, name, os.environ[variable])


def _start_options(args: argparse.Namespace, generation: int, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The generation's own start options, with their defaults; another generation's is an error."""
    options = {}
    for name, (owner, default) in _GENERATION_OPTIONS.items():
        given = getattr(args, name)
        if owner != generation:
            if given not in (None, False):
                parser.error(f"--{name.replace('_', '-')} is an option of Ignite {owner}.x only")
            continue
        options[name] = default if given is None else given
    return options


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    cluster: IgniteCluster | server_ignite3.Ignite3Cluster
    try:
        generation = _generation(args)
        name = getattr(args, "name", None) or ("ignite3" if generation == 3 else "default")
        if args.command == "install":
            pinned = server_ignite3.IGNITE3_VERSION if generation == 3 else IGNITE_VERSION
            installer = server_ignite3.install if generation == 3 else install
            print(installer(pinned if args.version is None else args.version, progress=args.progress))
        elif args.command == "start":
            _read_secrets(args, generation, parser)
            options = _start_options(args, generation, parser)
            common = {"nodes": args.nodes, "port": args.port, "heap_mb": args.heap_mb, "name": name}
            if args.version is not None:
                common["version"] = args.version
            if generation == 3:
                ssl = {name: options.pop(f"ssl_{name}") for name in server_ignite3.SSL_SETTINGS}
                options["ssl"] = server_ignite3.ssl_settings(**ssl)
                cluster = server_ignite3.Ignite3Cluster(**common, **options)
            else:
                options["persistence"] = options["persistence"] or options["authentication"]
                cluster = IgniteCluster(**common, **options)
            cluster.start(quiet=False)
            print(f"Ignite {cluster.version} is up: {', '.join(cluster.addresses)} (logs in {cluster.cluster_dir})")
        elif args.command == "stop":
            (server_ignite3.Ignite3Cluster.load(name) if generation == 3 else IgniteCluster.load(name)).stop()
            print("stopped")
        elif args.command == "status":
            rows = (server_ignite3.Ignite3Cluster.load(name) if generation == 3 else IgniteCluster.load(name)).status()
            for row in rows:
                state = f" state={row['state']}" if "state" in row else ""
                print(
                    f"node {row['node']}: pid={row['pid']} alive={row['alive']} port={row['port']}{state} "
                    f"answers={row['answers']} log={row['log']}"
                )
            return 0 if rows and all(r["answers"] for r in rows) else 1
    except ServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
