"""Ray on the three-node cluster, with a real local Ray cluster of three Ray nodes on this machine
(``ray.cluster_utils.Cluster``): ``read_ignite`` as a Ray Data datasource (every entry once, the
types of ``to_arrow``, read tasks on the Ray node beside their partitions' primary), Ray Train's
``TorchTrainer`` training the digits from ``read_ignite`` shards with its checkpoints on igfs and
resuming from them after a worker is killed, and ``TensorflowTrainer`` with ``IgniteDataset``.

The trainers run in ``examples/ray_train_digits.py``, in a fresh interpreter connected to this
module's Ray cluster: TensorFlow and PyTorch's triton each bundle LLVM and abort in one process.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import ray
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.cache_config import CacheMode
from pyignite.datatypes.prop_codes import PROP_BACKUPS_NUMBER, PROP_CACHE_MODE, PROP_NAME
from ray.cluster_utils import Cluster
from ray.experimental import get_object_locations

import ignite_fast
from ignite_fast.errors import InvalidArgumentError
from ignite_fast.igfs_fsspec import IgfsFileSystem
from ignite_fast.ray import numpy_columns, plan_reads, ray_nodes_beside, read_ignite
from ignite_fast.reading import split_by_primary
from node_fixtures import TRIO_PORT

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "ray_train_digits.py"
ROWS = 30_000
RAY_NODES = 3
CPUS_PER_RAY_NODE = 2


# Pure logic first (no cluster).


def test_read_tasks_take_partitions_of_one_primary_each():
    a, b, c = b"a" * 16, b"b" * 16, b"c" * 16
    primaries = [a] * 6 + [b] * 3 + [c]
    groups = split_by_primary(range(10), primaries, tasks=5)
    assert sorted(p for g in groups for p in g) == list(range(10))  # every partition once
    assert all(len({primaries[p] for p in g}) == 1 for g in groups)  # one primary per task
    per_node = collections.Counter(primaries[g[0]] for g in groups)
    assert per_node == {a: 3, b: 2, c: 1}  # shares by partitions, at least one per node
    assert len(split_by_primary(range(10), primaries, tasks=100)) == 10  # no more tasks than partitions


def test_ray_nodes_beside_ignite_nodes_by_host():
    ignite = {b"1": "127.0.0.1:10800", b"2": "127.0.0.1:10801", b"3": "10.9.9.9:10800", b"4": "127.0.0.1:10802"}
    ray_nodes = [("rb", "192.0.2.7"), ("ra", "192.0.2.7"), ("rz", "10.1.1.1")]
    beside = ray_nodes_beside(ignite, ray_nodes, driver_ip="192.0.2.7")
    # Loopback is the driver's host; its three Ignite nodes are dealt over its two Ray nodes in order.
    assert beside == {b"1": "ra", b"2": "rb", b"4": "ra"}  # 10.9.9.9 has no Ray node


def test_ignite3_node_names_split_like_node_ids():
    primaries = ["node-b", "node-a", "node-b", "", "node-a", "node-b"]  # "": no primary named yet
    groups = split_by_primary(range(6), primaries, tasks=3)
    assert sorted(p for g in groups for p in g) == list(range(6))
    assert all(len({primaries[p] for p in g}) == 1 for g in groups)


def test_blocks_become_the_numpy_columns_put_batches_takes():
    table = pa.table(
        {
            "key": pa.array([1, 2, 3], pa.int64()),
            "name": pa.array(["a", None, "héllo"]),
            "blob": pa.array([b"ab", b"cd", None]),
            "pixels": pa.array([[1, 2], [3, 4], [5, 6]], pa.list_(pa.uint8(), 2)),
            "at": pa.array([1, None, 3], pa.timestamp("ms")),
            "time": pa.array([5, 6, None], pa.time64("ns")),
        }
    ).slice(1)  # an offset into every buffer
    columns = numpy_columns(table)
    assert columns["key"].tolist() == [2, 3]
    assert columns["name"].dtype == np.dtype("S6")  # UTF-8 bytes, padded to the longest
    assert columns["name"].mask.tolist() == [True, False]
    assert columns["name"][1] == "héllo".encode()
    assert columns["blob"].shape == (2, 2)
    assert columns["blob"].mask.tolist() == [[False, False], [True, True]]  # a null row is masked whole
    assert columns["blob"][0].tolist() == [99, 100]
    assert columns["pixels"].tolist() == [[3, 4], [5, 6]]
    assert columns["pixels"].dtype == np.uint8
    assert columns["at"].dtype == np.dtype("datetime64[ms]")
    assert columns["time"].dtype == np.dtype("timedelta64[ns]")
    assert columns["time"].mask.tolist() == [False, True]
    with pytest.raises(InvalidArgumentError, match="rows of 1 and 2 elements"):
        numpy_columns(pa.table({"x": pa.array([[1], [1, 2]])}))
    with pytest.raises(InvalidArgumentError, match="struct"):
        numpy_columns(pa.table({"x": pa.array([{"a": 1}])}))


# On the three-node Ignite cluster and a three-node Ray cluster.


@pytest.fixture(scope="module")
def ray_cluster():
    """Three Ray nodes on this machine (two CPUs each, small object stores); this process is
    the driver. Shut down at the end of the module."""
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": CPUS_PER_RAY_NODE,
            "object_store_memory": 150 << 20,
            "include_dashboard": False,
        },
    )
    try:
        for _ in range(RAY_NODES - 1):
            cluster.add_node(num_cpus=CPUS_PER_RAY_NODE, object_store_memory=150 << 20)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address)
        ray.data.DataContext.get_current().enable_progress_bars = False
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


@pytest.fixture(scope="module")
def trio(trio):
    """The shared three-node cluster with this module's caches: `ray_mixed` (columns of several
    types), `ray_replicated` and `ray_digits`, the partitioned ones with one backup."""
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    for name in ("ray_mixed", "ray_digits"):
        writer.get_or_create_cache({PROP_NAME: name, PROP_BACKUPS_NUMBER: 1})
    writer.get_or_create_cache({PROP_NAME: "ray_replicated", PROP_CACHE_MODE: CacheMode.REPLICATED})
    writer.close()
    client = ignite_fast.Client(trio.addresses)
    rng = np.random.default_rng(17)
    keys = np.arange(ROWS, dtype=np.int64)
    columns = {
        "label": (keys % 10).astype(np.int32),
        "small": (keys % 100).astype(np.int8),
        "wide": keys * 3,
        "score": rng.random(ROWS),
        "ratio": rng.random(ROWS).astype(np.float32),
        "flag": keys % 3 == 0,
        "name": np.array([f"row-{k}-{'é' * (k % 4)}" for k in range(ROWS)]),
        "pixels": rng.integers(0, 256, (ROWS, 128), dtype=np.uint8),
    }
    client.put_batches("ray_mixed", {"key": keys, "val": columns}, type_name="RayMixed")
    client.put_batches("ray_replicated", {"key": keys[:1000], "val": columns["wide"][:1000]})
    loaded = subprocess.run(
        [sys.executable, str(EXAMPLE), "--load", "--hosts", ",".join(trio.addresses), "--cache", "ray_digits"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr
    return trio


def _blocks(dataset: ray.data.Dataset) -> list:
    """The dataset's blocks, as references (the dataset runs)."""
    return list(dataset.to_arrow_refs())


def _sorted_table(tables: list[pa.Table]) -> pa.Table:
    return pa.concat_tables(tables, promote_options="permissive").sort_by("key")


def test_read_ignite_reads_every_entry_once_with_the_types_of_to_arrow(trio, ray_cluster):
    dataset = read_ignite("ray_mixed", hosts=trio.addresses)
    table = _sorted_table(ray.get(_blocks(dataset)))
    keys = table["key"].to_numpy()
    # each key exactly once
    assert len(keys) == ROWS
    assert np.array_equal(keys, np.arange(ROWS))
    expected = ignite_fast.Client(trio.addresses).to_arrow("ray_mixed").sort_by("key")
    assert table.schema.equals(expected.schema), f"{table.schema}\n!=\n{expected.schema}"
    assert table.equals(expected)
    assert dataset.count() == ROWS  # and again: a dataset reads afresh each time it runs


def test_read_ignite_passes_the_scan_options(trio, ray_cluster):
    dataset = read_ignite("ray_mixed", hosts=trio.addresses, columns=["label", "pixels"], batch_size=1000)
    table = _sorted_table(ray.get(_blocks(dataset)))  # (Ray Data joins batches into blocks of 1 MB or more)
    assert table.column_names == ["key", "label", "pixels"]
    assert table.schema.field("pixels").type == pa.list_(pa.uint8(), 128)
    assert np.array_equal(table["label"].to_numpy(), np.arange(ROWS) % 10)
    # In numpy batches a fixed-size list is an array of arrays (iter_torch_batches stacks it).
    batch = next(iter(dataset.select_columns(["pixels", "label"]).iter_batches(batch_size=8, batch_format="numpy")))
    pixels = np.stack(batch["pixels"])
    assert pixels.shape == (8, 128)
    assert pixels.dtype == np.uint8
    assert batch["label"].dtype == np.int32


def test_a_replicated_cache_is_read_whole_by_one_task(trio, ray_cluster):
    client = ignite_fast.Client(trio.addresses)
    assert plan_reads(client, "ray_replicated") == []
    table = _sorted_table(ray.get(_blocks(read_ignite("ray_replicated", hosts=trio.addresses))))
    assert np.array_equal(table["key"].to_numpy(), np.arange(1000))
    assert np.array_equal(table["val"].to_numpy(), np.arange(1000) * 3)


def test_read_tasks_run_beside_their_partitions_primary(trio, ray_cluster):
    client = ignite_fast.Client(trio.addresses)
    groups = plan_reads(client, "ray_mixed")
    # One read per Ray node: here three Ignite nodes and three Ray nodes share the host, one each.
    ray_nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(groups) == RAY_NODES
    assert {g.ray_node for g in groups} == ray_nodes
    assert sorted(p for g in groups for p in g.partitions) == list(range(1024))
    assert all(len(set(g.primaries)) == 1 for g in groups)  # each Ray node beside one primary
    tasks = RAY_NODES * CPUS_PER_RAY_NODE * 2  # two per CPU, shared out by partitions
    assert all(g.tasks == round(tasks * len(g.partitions) / 1024) for g in groups), groups
    node_of_key = {}
    for group in groups:
        for batch in client.scan("ray_mixed", partitions=group.partitions, columns=[]):
            node_of_key.update(dict.fromkeys(batch["key"].tolist(), group.ray_node))

    # The tasks' workers are up after the reads above: a task is placed on its node unless that
    # node has no free CPU at that moment (the constraint is soft).
    blocks = _blocks(read_ignite("ray_mixed", hosts=trio.addresses))
    locations = get_object_locations(blocks)
    tables = ray.get(blocks)
    local = 0
    for block, table in zip(blocks, tables):
        expected = {node_of_key[k] for k in table["key"].to_pylist()}
        assert len(expected) == 1  # a block holds the partitions of one read
        local += expected.pop() in locations[block]["node_ids"]
    share = local / len(blocks)
    print(f"blocks made on the Ray node beside their primary: {local} of {len(blocks)}")
    assert share >= 0.75, f"{local} of {len(blocks)} blocks made beside their primary"


def _run_example(trio, tmp_path, ray_cluster, *args: str) -> dict:
    """Runs the example against this module's clusters; returns its summary (the last line)."""
    command = [
        sys.executable,
        str(EXAMPLE),
        "--hosts",
        ",".join(trio.addresses),
        "--cache",
        "ray_digits",
        "--ray-address",
        ray_cluster.address,
        "--storage",
        f"igfs://{trio.addresses[0]}/pytest-ray/{tmp_path.name}",
        *args,
    ]
    # Well inside the test's own time limit, so that a run that hangs shows what it printed.
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=420, cwd=ROOT)
    except subprocess.TimeoutExpired as timeout:
        printed = "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else part
            for part in (timeout.stdout or "", timeout.stderr or "")
        )
        pytest.fail(f"the example ran for more than {timeout.timeout} s; its last output:\n{printed[-12000:]}")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-8000:]
    # The summary is the driver's last line of its own; Ray's forwarded worker lines may follow it.
    summaries = [line for line in proc.stdout.splitlines() if line.startswith('{"framework"')]
    assert summaries, output[-8000:]
    return json.loads(summaries[-1])


def test_torch_trainer_trains_from_read_ignite_and_resumes_from_igfs_after_a_worker_is_killed(
    trio, ray_cluster, tmp_path
):
    mark = tmp_path / "killed"
    summary = _run_example(trio, tmp_path, ray_cluster, "--name", "torch", "--epochs", "6", "--fail-once", str(mark))
    assert mark.read_text().startswith("killed worker 1")  # a worker was SIGKILLed in epoch 1...
    assert summary["started_at_epoch"] == 1, summary  # ...and the last attempt resumed from epoch 0's checkpoint
    assert summary["epochs"] == 6, summary
    assert summary["accuracy"] >= 0.9, summary
    assert summary["held_out"] == 360, summary
    # The checkpoints are on igfs: the last two kept (CheckpointConfig(num_to_keep=2)).
    igfs = IgfsFileSystem(*trio.addresses[0].split(":"))
    run_dir = f"/pytest-ray/{tmp_path.name}/torch"
    assert summary["checkpoint"].startswith(run_dir + "/checkpoint_"), summary
    checkpoints = [
        p for p in igfs.ls(run_dir, detail=False) if re.fullmatch(r"checkpoint_[0-9-]+_[0-9.-]+", p.rsplit("/", 1)[1])
    ]
    assert len(checkpoints) == 2, checkpoints
    assert summary["checkpoint"] in checkpoints, checkpoints
    assert igfs.info(summary["checkpoint"] + "/state.pt")["size"] > 10_000


def test_tensorflow_trainer_reads_shards_through_ignite_dataset(trio, ray_cluster, tmp_path):
    summary = _run_example(trio, tmp_path, ray_cluster, "--framework", "tensorflow", "--name", "tf", "--epochs", "6")
    assert summary["epochs"] == 6, summary
    assert summary["accuracy"] >= 0.9, summary
    assert summary["held_out"] == 360, summary
    igfs = IgfsFileSystem(*trio.addresses[0].split(":"))
    assert igfs.info(summary["checkpoint"] + "/digits.weights.h5")["size"] > 10_000
