"""Who a worker is (ignite_fast.distributed.worker_context) from each engine's environment, and
which node is its home (choose_home): pure logic, no node needed. The same against real engines
and a real cluster: tests/cluster/test_torchrun.py."""

from __future__ import annotations

import json

import pytest

from ignite_fast.distributed import NodeEndpoint, WorkerContext, choose_home, is_this_host, worker_context
from ignite_fast.errors import InvalidArgumentError


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
    # torchrun's default rendezvous id is "none": the store's address names the job instead.
    assert worker_context({**env, "TORCHELASTIC_RUN_ID": "none"}).job_id == "none-10.0.0.1_29400"


def test_kubeflow_pytorchjob_sets_rank_and_world_size():
    env = {"RANK": "1", "WORLD_SIZE": "3", "MASTER_ADDR": "train-master-0", "MASTER_PORT": "23456"}
    context = worker_context(env)
    assert (context.rank, context.world_size, context.local_rank, context.local_world_size) == (1, 3, 0, 1)
    assert context.engine == "env" and context.job_id == "train-master-0_23456" and context.attempt is None


def test_overrides_name_the_job_and_the_attempt():
    env = {"RANK": "0", "WORLD_SIZE": "2", "IGNITE_FAST_JOB_ID": "nightly/run 5", "IGNITE_FAST_ATTEMPT": "4"}
    context = worker_context(env)
    assert context.job_id == "nightly_run_5" and context.attempt == 4


def test_tf_config_counts_the_chief_then_the_workers():
    cluster = {"chief": ["a:2222"], "worker": ["a:2223", "b:2222", "b:2223"], "evaluator": ["c:1"]}

    def for_task(kind, index):
        return worker_context({"TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": kind, "index": index}})})

    chief, w0, w2 = for_task("chief", 0), for_task("worker", 0), for_task("worker", 2)
    assert (chief.rank, chief.world_size, chief.local_rank, chief.local_world_size) == (0, 4, 0, 2)
    assert (w0.rank, w0.local_rank) == (1, 1)
    assert (w2.rank, w2.local_rank, w2.local_world_size) == (3, 1, 2)
    assert chief.job_id == w2.job_id and chief.job_id.startswith("tf-") and chief.engine == "tf_config"
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
    assert is_this_host("127.0.0.1") and is_this_host("localhost")
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
