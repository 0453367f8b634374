"""What the two node launchers (``server`` for Ignite 2.x, ``server_ignite3`` for 3.x) share: where
jars and work directories live, fetching jars with Maven behind a progress bar, and the node
processes themselves (started in a session of their own, found again through a pid file, signalled
as a group).

Standalone, like the launchers: only the standard library and ``_progress``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, cast

from ._progress import bytes_bar


class ServerError(RuntimeError):
    """A node could not be installed, started or stopped; the message carries its log."""


class ClusterNameError(ServerError, ValueError):
    """A cluster name that is not a plain name: it would lead outside the launcher's home."""


class VersionError(ServerError, ValueError):
    """Not a release number of the launcher's Ignite generation."""


# A cluster's name is a directory of its own under <home>/clusters, which `start` wipes: a plain
# name only (no separator, not "." or ".."), starting with a letter or a digit so that it reads
# as no option in a node's command line.
_CLUSTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def check_cluster_name(name: object) -> str:
    """``name`` when it is a plain cluster name (letters, digits, ``.``, ``_``, ``-``, starting
    with a letter or a digit, at most 64 characters), else :class:`ClusterNameError`."""
    if not isinstance(name, str) or _CLUSTER_NAME.fullmatch(name) is None:
        raise ClusterNameError(
            f"cluster name {name!r} is not a plain name: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit (it names a directory under the launcher's home)"
        )
    return name


_VERSION = re.compile(r"(\d{1,3})\.\d{1,3}\.\d{1,3}")


def check_version(version: object, generation: int) -> str:
    """``version`` when it is a release number of Ignite ``generation`` (``2.14.0``), else
    :class:`VersionError`: it names a directory under the launcher's home, which `install` replaces."""
    found = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if found is None or int(found.group(1)) != generation:
        raise VersionError(f"{version!r} is not an Ignite {generation}.x version (say {generation}.x.y)")
    return version  # type: ignore[return-value]


def clusters_dir() -> Path:
    return home_dir() / "clusters"


def cluster_dir(name: str) -> Path:
    """The work directory of cluster ``name`` (checked: a plain name), never a link elsewhere."""
    path = clusters_dir() / check_cluster_name(name)
    if path.is_symlink():
        raise ClusterNameError(f"{path} is a symbolic link: the launcher keeps clusters in directories of its own")
    return path


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path``, readable and writable by its owner alone: it may hold
    passwords. Created with that mode (never readable by others, not even for a moment)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        os.fchmod(fd, 0o600)  # a file that was there before keeps its mode otherwise
        f.write(text)


def recorded_cluster(name: str) -> dict[str, Any] | None:
    """What `start` recorded about the cluster `name` (either generation), or None."""
    try:
        return cast("dict[str, Any]", json.loads((cluster_dir(name) / "cluster.json").read_text()))
    except (OSError, ValueError):
        return None


def home_dir() -> Path:
    """Where jars and node work directories live (``IGNITE_FAST_HOME``, default ~/.cache/ignite_fast)."""
    return Path(os.environ.get("IGNITE_FAST_HOME", Path.home() / ".cache" / "ignite_fast"))


# ---- Maven ----

# Maven's line for each file it has fetched: "Downloaded from central: <url> (1.2 MB at 3.4 MB/s)".
_DOWNLOADED = re.compile(r"Downloaded from [^:]+: (?P<url>\S+) \((?P<size>[\d.]+) (?P<unit>[kMG]?B)\b")
_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9}  # Maven counts in powers of ten


def maven_download(line: str) -> tuple[str, int] | None:
    """``(file name, bytes)`` when ``line`` is Maven reporting a file it fetched, else None."""
    found = _DOWNLOADED.search(line)
    if found is None:
        return None
    return found["url"].rsplit("/", 1)[-1], round(float(found["size"]) * _UNITS[found["unit"]])


def run_maven(cmd: list[str], cwd: Path, progress: bool | None) -> tuple[int, str]:
    """Runs Maven with a bar of the bytes it fetches, moved per file (a jar counts when it has
    arrived whole; the total is not known beforehand), named after the last one. Returns Maven's
    exit code and its output."""
    output = []
    with (
        subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(cwd)) as proc,
        bytes_bar(progress, "Maven") as bar,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if (fetched := maven_download(line)) is not None:
                bar.set_postfix_str(fetched[0], refresh=False)
                bar.update(fetched[1])
        return proc.wait(), "".join(output)


def copy_dependencies_command(mvn: str, pom: Path, output_dir: Path, *properties: str) -> list[str]:
    """The Maven command that copies the runtime dependencies of ``pom`` into ``output_dir``."""
    return [
        mvn,
        "-B",  # batch mode: one "Downloaded from" line per file, which the bar follows
        "-Dstyle.color=never",
        "-f",
        str(pom),
        *properties,
        "dependency:copy-dependencies",
        f"-DoutputDirectory={output_dir}",
        "-DincludeScope=runtime",
    ]


# ---- node processes ----


def start_process(cmd: list[str], work_dir: Path, log_name: str = "node.log") -> subprocess.Popen[bytes]:
    """Starts one node in a session of its own (so a signal reaches the whole group), its output
    into ``work_dir/log_name``, and records its pid in ``work_dir/pid``."""
    with open(work_dir / log_name, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=str(work_dir),
            start_new_session=True,
        )
    (work_dir / "pid").write_text(str(proc.pid))
    return proc


def read_pid(work_dir: Path) -> int | None:
    try:
        return int((work_dir / "pid").read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def runs_with_argument(pid: int, argument: str) -> bool:
    """Whether process ``pid`` runs with ``argument`` in its command line (a node's config file,
    which no other process has): a pid file outlives its process, and after a reboot or a
    while its pid may be another program's."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return os.fsencode(argument) in args


def send_signal(pid: int, sig: int) -> None:
    """Signals the node's process group (it leads one), or the process alone if it has none."""
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def stop_processes(pids: list[int], timeout: float) -> None:
    """SIGTERM to every pid at once, then SIGKILL to those still alive after ``timeout`` seconds."""
    for pid in pids:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(pid):
            send_signal(pid, signal.SIGKILL)


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"(no log at {path})"
    return f"--- last {lines} lines of {path} ---\n" + "\n".join(text[-lines:])


@dataclass(kw_only=True)
class NodeProcesses:
    """What a launcher's cluster does with its node processes, whatever the Ignite generation:
    find their pids, stop them (SIGTERM, then SIGKILL), kill one as a crash would, and serve as a
    context manager; where it keeps its files and its nodes' addresses. A subclass gives
    `node_specs()` (each with a `work_dir`), `log_path(i)` and `start()`, which fills `_procs`.

    The settings every cluster has: ``nodes`` on 127.0.0.1, whose client ports are ``port``,
    ``port + 1``, ...; each node's JVM heap; the cluster's ``name`` (its work directories: logs,
    configs, pid files); the Ignite ``version``; how long a start may take; and TLS on the client
    port (``ssl``: each launcher names its keys; left out of the repr: it holds passwords).
    """

    generation: ClassVar[int]  # the Ignite major version the subclass launches

    nodes: int = 1
    port: int = 10800
    heap_mb: int = 1024
    name: str = "default"
    version: str = ""
    start_timeout: float = 180.0
    ssl: dict[str, Any] | None = field(default=None, repr=False)
    _procs: list[subprocess.Popen[bytes]] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        check_cluster_name(self.name)  # before anything is touched: `start` wipes the directory
        check_version(self.version, self.generation)

    @property
    def cluster_dir(self) -> Path:
        return cluster_dir(self.name)

    @property
    def addresses(self) -> list[str]:
        """Every node's client address (node i listens on `port + i`)."""
        return [f"127.0.0.1:{self.port + i}" for i in range(self.nodes)]

    def node_specs(self) -> list[Any]:
        """One spec a node, each with its `index`, `client_port`, `ports` (all it binds) and `work_dir`."""
        raise NotImplementedError

    def node_config(self, spec: Any) -> str:
        """The text of the node's configuration file (it may hold TLS store passwords)."""
        raise NotImplementedError

    def java_command(self, spec: Any, libs: Path) -> list[str]:
        raise NotImplementedError

    def launch_nodes(self, libs: Path, quiet: bool) -> None:
        """Starts every node's process, in a fresh cluster directory, once every port it would
        bind is free; then records the cluster in ``cluster.json`` for ``status`` and ``stop``
        from the command line (it holds the passwords: private, as the configurations are)."""
        for spec in self.node_specs():
            for p in spec.ports:
                if port_open(p):
                    raise ServerError(f"port {p} on 127.0.0.1 is already in use; pick other ports")
        shutil.rmtree(self.cluster_dir, ignore_errors=True)
        for spec in self.node_specs():
            spec.work_dir.mkdir(parents=True, exist_ok=True)
            write_private(self.config_path(spec), self.node_config(spec))
            proc = start_process(self.java_command(spec, libs), spec.work_dir)
            self._procs.append(proc)
            if not quiet:
                started = f"started Ignite {self.generation}.x node {spec.index} (pid {proc.pid})"
                print(f"{started}, client port {spec.client_port}", flush=True)
        write_private(self.cluster_dir / "cluster.json", json.dumps(self.describe()))

    def describe(self) -> dict[str, Any]:
        """The cluster's settings and generation, as ``cluster.json`` records them for :meth:`load`."""
        settings = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        return {"ignite": self.generation, **settings}

    @classmethod
    def load(cls, name: str) -> Any:
        """The cluster that `start` recorded under `name` (for `status` and `stop` from the CLI):
        one of these settings when nothing is recorded there; refused when it is of the other generation."""
        recorded = recorded_cluster(name)
        if recorded is None:
            return cls(name=name)
        if (generation := recorded.pop("ignite", 2)) != cls.generation:
            raise ServerError(f"cluster '{name}' is an Ignite {generation}.x cluster: pass --ignite {generation}")
        return cls(**recorded)

    def log_path(self, index: int = 0) -> Path:
        raise NotImplementedError

    def config_path(self, spec: Any) -> Path:
        """The node's configuration file: on its command line, so it tells the node's process
        from any other that has its pid."""
        raise NotImplementedError

    def start(self) -> Any:
        raise NotImplementedError

    def log_tail(self, index: int = 0, lines: int = 60) -> str:
        return log_tail(self.log_path(index), lines)

    def node_pid(self, spec: Any) -> int | None:
        """The pid of `spec`'s node, from its pid file; None if it has none, or when that pid is
        no longer the node's (it has ended, and the pid may be another process's now). A process
        this object started and that still runs is the node's: its command line may not be
        readable yet (the parent resumes while the kernel is still setting up the new program)."""
        pid = read_pid(spec.work_dir)
        if pid is None:
            return None
        if any(proc.pid == pid and proc.poll() is None for proc in self._procs):
            return pid
        return pid if runs_with_argument(pid, str(self.config_path(spec))) else None

    def pids_alive(self) -> list[bool]:
        return [(pid := self.node_pid(s)) is not None and pid_alive(pid) for s in self.node_specs()]

    def stop(self, timeout: float = 30.0) -> None:
        """Stops every node: SIGTERM, then SIGKILL after `timeout` seconds. A pid file whose
        process is not the node's (stale) is removed, its pid left alone."""
        stop_processes([p for s in self.node_specs() if (p := self.node_pid(s)) is not None and pid_alive(p)], timeout)
        for proc in self._procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self._procs.clear()
        for spec in self.node_specs():
            (spec.work_dir / "pid").unlink(missing_ok=True)

    def kill_node(self, index: int) -> None:
        """Kills one node at once (SIGKILL), as a crash would."""
        pid = self.node_pid(self.node_specs()[index])
        if pid is not None:
            send_signal(pid, signal.SIGKILL)

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
