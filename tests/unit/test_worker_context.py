"""Who a worker is (ignite_fast.distributed.worker_context) from each engine's environment, and
which node is its home (choose_home): pure logic, no node needed. The same against real engines
and a real cluster: tests/cluster/test_torchrun.py."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import types

import pytest

from ignite_fast.distributed import (
    JOB_ID_ENV,
    NodeEndpoint,
    WorkerContext,
    choose_home,
    is_this_host,
    job_id_from_store,
    worker_context,
)
from ignite_fast.errors import IgniteConnectionError, InvalidArgumentError


def test_one_worker_alone():
    assert worker_context({}) == WorkerContext()


def test_torchrun():
    env = {
        "RANK": "3",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
        "LOCAL_WORLD_SIZE": "2",
        "GROUP_RANK": "1",
        "MASTER_ADDR": "10.0.0.1",
        "MASTER_PORT": "29400",
        "TORCHELASTIC_RUN_ID": "digits-7",
        "TORCHELASTIC_RESTART_COUNT": "2",
    }
    context = worker_context(env)
    assert context == WorkerContext(
        rank=3,
        world_size=4,
        local_rank=1,
        local_world_size=2,
        node_rank=1,
        job_id="digits-7",
        attempt=None,  # torchrun's count is per agent: not an attempt every worker agrees on
        restarts=2,
        engine="torchrun",
    )
    assert context.slot == 3
    # torchrun's default rendezvous id is "none", which names no job. Where the workers share
    # torchrun's store, they agree on a job id there (job_id_from_store) ...
    shared = worker_context({**env, "TORCHELASTIC_RUN_ID": "none", "TORCHELASTIC_USE_AGENT_STORE": "True"})
    assert shared.job_id is None
    assert shared.job_store == "10.0.0.1:29400"
    # ... else their own store's address, fresh for each run, names it.
    assert worker_context({**env, "TORCHELASTIC_RUN_ID": "none"}).job_id == "none-10.0.0.1_29400"
    assert worker_context({**env, "TORCHELASTIC_RUN_ID": "none", JOB_ID_ENV: "mine"}) == WorkerContext(
        rank=3,
        world_size=4,
        local_rank=1,
        local_world_size=2,
        node_rank=1,
        job_id="mine",
        restarts=2,
        engine="torchrun",
    )


def test_a_loopback_master_names_a_job_of_this_host_only(monkeypatch):
    """Jobs on two hosts may both have their master at 127.0.0.1:29500: the host tells them apart."""
    env = {"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
    ids = []
    for host in ("gpu-1", "gpu-2"):
        monkeypatch.setattr(socket, "gethostname", lambda host=host: host)
        ids.append(worker_context(env).job_id)
    assert ids == ["gpu-1-127.0.0.1_29500", "gpu-2-127.0.0.1_29500"]


def _torchrun_env(rank: int, port: int) -> dict[str, str]:
    """A worker's environment under torchrun without --rdzv-id, the store shared (its default)."""
    return {
        "RANK": str(rank),
        "WORLD_SIZE": "2",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(port),
        "TORCHELASTIC_RUN_ID": "none",
        "TORCHELASTIC_USE_AGENT_STORE": "True",
    }


def test_runs_at_the_same_store_address_get_their_own_job_ids():
    """Two torchrun runs without --rdzv-id whose store has the same address (one after the
    other here; at once on two hosts with the default 127.0.0.1:29500): each run's workers agree
    on one job id, and the two runs' ids differ, so neither takes or removes the other's plan
    records. The store plays torchrun agent's, which lives as long as the run."""
    from datetime import timedelta

    import torch.distributed as dist

    ids = []
    port = 0
    for _run in range(2):
        agent = dist.TCPStore("127.0.0.1", port, 1, True, timedelta(seconds=30), wait_for_workers=False)
        port = agent.port
        contexts = [worker_context(_torchrun_env(rank, port)) for rank in range(2)]
        assert {c.job_store for c in contexts} == {f"127.0.0.1:{port}"}
        agreed = {job_id_from_store(c.job_store, timeout=30) for c in contexts}
        assert len(agreed) == 1
        assert job_id_from_store(contexts[1].job_store, timeout=30) in agreed  # a restarted worker
        ids.append(agreed.pop())
        del agent
    assert ids[0] != ids[1]
    assert all(re.fullmatch(r"torchrun-[0-9a-f]{32}", i) for i in ids), ids


def test_no_store_to_agree_at_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens on it
    with pytest.raises(IgniteConnectionError, match="--rdzv-id or IGNITE_FAST_JOB_ID"):
        job_id_from_store(f"127.0.0.1:{port}", timeout=1)


def test_a_ray_worker_adds_rays_job_id(monkeypatch):
    class Context:
        def get_job_id(self):
            return "02000000"

    ray = types.SimpleNamespace(is_initialized=lambda: True, get_runtime_context=Context)
    monkeypatch.setitem(sys.modules, "ray", ray)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "10.0.0.7", "MASTER_PORT": "41234"}.items():
        monkeypatch.setenv(name, value)
    assert worker_context().job_id == "ray-02000000-10.0.0.7_41234"
    monkeypatch.setenv(JOB_ID_ENV, "chosen")
    assert worker_context().job_id == "chosen"


def test_kubeflow_pytorchjob_sets_rank_and_world_size():
    env = {"RANK": "1", "WORLD_SIZE": "3", "MASTER_ADDR": "train-master-0", "MASTER_PORT": "23456"}
    context = worker_context(env)
    assert (context.rank, context.world_size, context.local_rank, context.local_world_size) == (1, 3, 0, 1)
    assert context.engine == "env"
    assert context.job_id == "train-master-0_23456"
    assert context.attempt is None


def test_overrides_name_the_job_and_the_attempt():
    env = {"RANK": "0", "WORLD_SIZE": "2", "IGNITE_FAST_JOB_ID": "nightly/run 5", "IGNITE_FAST_ATTEMPT": "4"}
    context = worker_context(env)
    assert context.job_id == "nightly_run_5"
    assert context.attempt == 4


def test_tf_config_counts_the_chief_then_the_workers():
    cluster = {"chief": ["a:2222"], "worker": ["a:2223", "b:2222", "b:2223"], "evaluator": ["c:1"]}

    def for_task(kind, index):
        return worker_context({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})})

    chief, w0, w2 = for_task("chief", 0), for_task("worker", 0), for_task("worker", 2)
    assert (chief.rank, chief.world_size, chief.local_rank, chief.local_world_size) == (0, 4, 0, 2)
    assert (w0.rank, w0.local_rank) == (1, 1)
    assert (w2.rank, w2.local_rank, w2.local_world_size) == (3, 1, 2)
    assert chief.job_id == w2.job_id
    assert chief.job_id.startswith("tf-")
    assert chief.engine == "tf_config"
    evaluator = for_task("evaluator", 0)
    assert (evaluator.rank, evaluator.world_size) == (0, 1)  # it reads the whole cache


@pytest.mark.parametrize(
    "env",
    [
        {"RANK": "2", "WORLD_SIZE": "2"},
        {"RANK": "x", "WORLD_SIZE": "2"},
        {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "2", "LOCAL_WORLD_SIZE": "2"},
        {"TF_CONFIG": "{not json"},
        {"TF_CONFIG": json.dumps({"cluster": {"worker": ["a:1"]}})},
    ],
)
def test_a_broken_environment_is_refused(env):
    with pytest.raises(InvalidArgumentError):
        worker_context(env)


def _node(n: int, port: int, *hosts: str) -> NodeEndpoint:
    return NodeEndpoint(bytes([n]) * 16, port, hosts)


def test_this_hosts_addresses():
    assert is_this_host("127.0.0.1")
    assert is_this_host("localhost")
    assert not is_this_host("192.0.2.254")  # TEST-NET-1: no machine has it
    assert not is_this_host("no-such-host.invalid")


def test_home_is_the_node_on_this_host():
    ours = {"10.0.0.2"}
    nodes = [
        _node(1, 10800, "10.0.0.1", "127.0.0.1"),
        _node(2, 10800, "10.0.0.2", "127.0.0.1"),
        _node(3, 10800, "10.0.0.3", "127.0.0.1"),
    ]
    for slot in range(3):  # loopback, which every node lists, does not make a node ours
        assert choose_home(nodes, slot, ours.__contains__) == nodes[1]
    assert nodes[1].address == "10.0.0.2:10800"
    assert choose_home(nodes, 0, {"10.9.9.9"}.__contains__) is None


def test_workers_spread_over_the_nodes_sharing_their_host():
    nodes = [_node(n, 10910 + n, "127.0.0.1") for n in (2, 0, 1)]  # listed in any order
    homes = [choose_home(nodes, slot, lambda h: False).address for slot in range(4)]
    assert homes == ["127.0.0.1:10910", "127.0.0.1:10911", "127.0.0.1:10912", "127.0.0.1:10910"]
    assert WorkerContext(rank=3, world_size=4, local_rank=1, local_world_size=2, node_rank=1).slot == 3


def test_an_ipv6_node_address():
    assert _node(1, 10800, "fe80::1%eth0", "fd00::5").address == "[fd00::5]:10800"


def test_ignite_fast_train_is_retired_and_says_what_to_use(capsys):
    from ignite_fast import cli

    assert cli.main(["train", "--workers", "2", "script.py"]) == 2
    assert "torchrun" in capsys.readouterr().err
