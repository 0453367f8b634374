"""The node launchers (ignite_fast.server, server_ignite3) without starting a node: a cluster name
stays a plain name under the launcher's home, configuration values are quoted, secrets stay out
of argv, reprs and other users' reach, and a stale pid file makes no signal. Starting and
interrupting real nodes: tests/node/test_starting_nodes.py."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import ClassVar

import pytest

from ignite_fast import server
from ignite_fast._node_process import write_private
from ignite_fast.server import ClusterNameError, IgniteCluster, ServerError, VersionError
from ignite_fast.server_ignite3 import Ignite3Cluster

BAD_NAMES = ["/tmp/x", "..", ".", "a/b", "", "../..", "-rf", ".hidden", "a" * 65, "x\0y", "é"]
# Every character that XML, a parser's attribute normalisation or HOCON treats specially.
NASTY = "p\"w'd &amp; <x> ${HOME} \\n\n\ttab"


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("IGNITE_FAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("kind", [IgniteCluster, Ignite3Cluster])
def test_a_name_that_is_not_a_plain_name_is_refused(kind, name):
    with pytest.raises(ClusterNameError, match="not a plain name") as error:
        kind(name=name)
    assert isinstance(error.value, ServerError)
    assert isinstance(error.value, ValueError)


@pytest.mark.parametrize("name", ["default", "ignite3", "pytest-ignite3-pair", "run_7.b", "a" * 64])
def test_plain_names_are_taken(name, home):
    assert IgniteCluster(name=name).cluster_dir == home / "clusters" / name
    assert Ignite3Cluster(name=name).cluster_dir == home / "clusters" / name


@pytest.mark.parametrize("generation", ["2", "3"])
@pytest.mark.parametrize("command", ["start", "stop", "status"])
def test_a_directory_given_as_a_name_is_left_untouched(tmp_path, capsys, generation, command):
    victim = tmp_path / "precious"
    (victim / "node0").mkdir(parents=True)
    (victim / "keep.txt").write_text("data")
    sleeper = subprocess.Popen(["sleep", "60"])
    (victim / "node0" / "pid").write_text(str(sleeper.pid))
    try:
        for name in (str(victim), f"../../{victim.name}", str(victim.relative_to(tmp_path.parent))):
            assert server.main([command, "--ignite", generation, "--name", name]) == 1
            assert "is not a plain name" in capsys.readouterr().err
        assert (victim / "keep.txt").read_text() == "data"
        assert (victim / "node0" / "pid").exists()
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()


@pytest.mark.parametrize("version", ["../../etc", "/tmp", "2.17", "2.17.0/..", "", "3.1.0", "2.x.0", "12.0.0"])
def test_a_version_that_is_not_a_2x_release_is_refused_before_anything_is_touched(version, home):
    """The version names the directory of its jars under the launcher's home, which `install`
    replaces: anything but a release number of the launcher's generation is refused."""
    for make in (
        lambda: IgniteCluster(version=version),
        lambda: server.libs_dir(version),
        lambda: server.install(version),
    ):
        with pytest.raises(VersionError, match=r"is not an Ignite 2\.x version"):
            make()
    with pytest.raises(VersionError, match=r"is not an Ignite 3\.x version"):
        Ignite3Cluster(version=version.replace("3.1.0", "2.17.0"))
    assert not home.exists()


def test_the_command_line_takes_a_version_and_refuses_one_of_the_other_generation(home, capsys):
    assert server.main(["install", "--version", "../../etc"]) == 1
    assert server.main(["install", "--version", ""]) == 1  # not the pin in disguise
    assert server.main(["install", "--ignite", "3", "--version", "2.17.0"]) == 1
    assert server.main(["start", "--version", "3.1.0", "--port", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("is not an Ignite 2.x version") == 3
    assert "'2.17.0' is not an Ignite 3.x version" in err
    assert not home.exists()


def test_load_and_the_recorded_cluster_refuse_a_path():
    with pytest.raises(ClusterNameError):
        IgniteCluster.load("/etc")
    with pytest.raises(ClusterNameError):
        Ignite3Cluster.load("../x")


@pytest.mark.parametrize(
    ("kind", "other", "settings"),
    [
        (IgniteCluster, Ignite3Cluster, {"nodes": 2, "port": 11800, "region_mb": 256, "persistence": True}),
        (Ignite3Cluster, IgniteCluster, {"nodes": 2, "port": 11900, "username": "u", "password": NASTY}),
    ],
)
def test_a_recorded_cluster_loads_as_started_and_only_as_its_generation(kind, other, settings):
    cluster = kind(name="recorded", ssl={"keystore": "/k.p12", "keystore_password": NASTY}, **settings)
    cluster.cluster_dir.mkdir(parents=True)
    write_private(cluster.cluster_dir / "cluster.json", json.dumps(cluster.describe()))
    assert kind.load("recorded") == cluster
    assert kind.load("never-started") == kind(name="never-started")
    with pytest.raises(ServerError, match=f"Ignite {kind.generation}.x cluster: pass --ignite {kind.generation}"):
        other.load("recorded")


def test_a_cluster_directory_that_is_a_link_is_refused(home, tmp_path):
    (home / "clusters").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (home / "clusters" / "linked").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ClusterNameError, match="symbolic link"):
        _ = IgniteCluster(name="linked").cluster_dir


def test_xml_attributes_keep_quotes_and_white_space():
    ssl = {
        "keystore": '/stores/"server".p12',
        "keystore_password": NASTY,
        "truststore": "/stores/trust & co.p12",
        "truststore_password": NASTY[::-1],
    }
    cluster = IgniteCluster(name="quoting", ssl=ssl)
    root = ET.fromstring(cluster.node_config(cluster.node_specs()[0]).encode())
    values = {e.get("name"): e.get("value") for e in root.iter("{http://www.springframework.org/schema/beans}property")}
    assert values["keyStoreFilePath"] == ssl["keystore"]
    assert values["keyStorePassword"] == NASTY
    assert values["trustStoreFilePath"] == ssl["truststore"]
    assert values["trustStorePassword"] == NASTY[::-1]


def test_hocon_strings_are_json_strings():
    ssl = {"keystore": '/stores/"s".p12', "keystore_password": NASTY}
    cluster = Ignite3Cluster(name="quoting", username='us"er', password=NASTY, ssl=ssl)
    hocon = cluster.node_config(cluster.node_specs()[0])
    assert f"path: {json.dumps(ssl['keystore'])}, password: {json.dumps(NASTY)}" in hocon
    assert NASTY not in hocon  # unquoted, ${HOME} would be substituted and the newline end the value
    security = cluster.cluster_configuration()
    user = json.dumps(cluster.username)
    assert security is not None
    assert f"username: {user}, password: {json.dumps(NASTY)}" in security


def test_reprs_show_no_secret():
    ssl = {"keystore": "k.p12", "keystore_password": "store-secret", "truststore": "t", "truststore_password": "ts"}
    for cluster in (
        IgniteCluster(name="r", ssl=ssl),
        Ignite3Cluster(name="r", username="u", password="user-secret", ssl=ssl),
    ):
        text = repr(cluster)
        assert "secret" not in text
        assert "'ts'" not in text
        assert "name='r'" in text


def test_private_files_are_created_owner_only(tmp_path):
    before = os.umask(0)  # the most permissive: the mode given at creation alone decides
    try:
        fresh = tmp_path / "fresh.json"
        write_private(fresh, "{}")
        existing = tmp_path / "existing.xml"
        existing.write_text("old")
        existing.chmod(0o644)
        write_private(existing, "new")
    finally:
        os.umask(before)
    for path in (fresh, existing):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert existing.read_text() == "new"


def test_a_stale_pid_file_is_removed_and_its_process_left_alone(home):
    """A pid file whose pid now belongs to an unrelated process (after a reboot, say): `stop`
    sends it nothing, `status` calls the node dead, and the stale file goes."""
    cluster = IgniteCluster(name="stale")
    [spec] = cluster.node_specs()
    spec.work_dir.mkdir(parents=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (spec.work_dir / "pid").write_text(str(sleeper.pid))
        assert cluster.node_pid(spec) is None
        assert cluster.status()[0]["alive"] is False
        cluster.stop(timeout=1)
        assert sleeper.poll() is None, "the unrelated process was signalled"
        assert not (spec.work_dir / "pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def _wait_for_exec(pid: int, argument: str) -> None:
    """Until the child has exec'd: between fork and exec its command line is still pytest's."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    deadline = time.monotonic() + 30
    while argument.encode() not in cmdline.read_bytes():
        assert time.monotonic() < deadline, f"process {pid} never ran with {argument}"
        time.sleep(0.01)


def test_the_nodes_own_process_is_recognised_by_its_config_file(home):
    """A process started with the node's config file on its command line is the node's."""
    cluster = Ignite3Cluster(name="mine")
    [spec] = cluster.node_specs()
    spec.work_dir.mkdir(parents=True)
    config = str(cluster.config_path(spec))
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "--config-path", config])
    try:
        _wait_for_exec(proc.pid, config)
        (spec.work_dir / "pid").write_text(str(proc.pid))
        assert cluster.node_pid(spec) == proc.pid
        cluster.stop(timeout=10)
        assert proc.wait(timeout=10) is not None
    finally:
        proc.kill()
        proc.wait()


class _Started:
    """Takes the place of `start` for the command-line tests: what the CLI built, no node."""

    clusters: ClassVar[list] = []

    @staticmethod
    def start(cluster, quiet=True):
        _Started.clusters.append(cluster)
        return cluster


@pytest.fixture
def started(monkeypatch):
    _Started.clusters = []
    monkeypatch.setattr(Ignite3Cluster, "start", _Started.start)
    monkeypatch.setattr(IgniteCluster, "start", _Started.start)
    return _Started.clusters


START3 = ["start", "--ignite", "3", "--name", "secrets", "--username", "trainer", "--ssl-keystore", "k.p12"]


def test_secrets_from_files(tmp_path, started, capsys):
    (tmp_path / "pw").write_text("from-file\n")
    (tmp_path / "ks").write_text("store-file")
    args = [*START3, "--password-file", str(tmp_path / "pw"), "--ssl-keystore-password-file", str(tmp_path / "ks")]
    assert server.main(args) == 0
    [cluster] = started
    assert cluster.password == "from-file"
    assert cluster.ssl["keystore_password"] == "store-file"
    assert "warning" not in capsys.readouterr().err


def test_secrets_from_the_environment(started, monkeypatch, capsys):
    monkeypatch.setenv("IGNITE_FAST_PASSWORD", "from-env")
    monkeypatch.setenv("IGNITE_FAST_SSL_KEYSTORE_PASSWORD", "store-env")
    assert server.main(START3) == 0
    [cluster] = started
    assert cluster.password == "from-env"
    assert cluster.ssl["keystore_password"] == "store-env"
    assert "warning" not in capsys.readouterr().err


def test_a_secret_on_the_command_line_works_with_a_warning(started, monkeypatch, capsys):
    monkeypatch.setenv("IGNITE_FAST_PASSWORD", "from-env")  # the option given wins
    assert server.main([*START3, "--password", "on-argv", "--ssl-keystore-password", "ks"]) == 0
    [cluster] = started
    assert cluster.password == "on-argv"
    err = capsys.readouterr().err
    assert "warning: --password on the command line is visible" in err
    assert "--password-file" in err
    assert "warning: --ssl-keystore-password on the command line" in err


def test_a_secret_given_twice_or_unreadable_is_refused(tmp_path, started, capsys):
    (tmp_path / "pw").write_text("x")
    with pytest.raises(SystemExit) as both:
        server.main([*START3, "--password", "a", "--password-file", str(tmp_path / "pw")])
    assert both.value.code == 2
    assert "not both" in capsys.readouterr().err
    with pytest.raises(SystemExit) as missing:
        server.main([*START3, "--password-file", str(tmp_path / "absent")])
    assert missing.value.code == 2
    assert "cannot read --password-file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as other:
        server.main(["start", "--password-file", str(tmp_path / "pw")])
    assert other.value.code == 2
    assert "--password-file is an option of Ignite 3.x only" in capsys.readouterr().err
    assert not started
