"""Resuming an epoch (issue 25): a read resumed at 90% of an epoch of MNIST-shaped rows, against a
full pass of the same read, in the same rounds.

Data: the one-node Ignite 2 cache of the throughput smoke (70,000 objects of 784 pixel bytes and an
int label; 1024 partitions) and the two-node Ignite 3 table (60,000 rows of an INT key, a
VARBINARY(784) and an INT label; 16 partitions).

Readers, each a full pass from no position and a resumed pass from the position taken once 90%
of the epoch's rows were read (kept as a job keeps it: bytes or a saved state, read back):

- core: ``client.resumable_scan``, with ``client.scan`` beside it (what a restart without a
  position repeats, and what keeping the position costs a full pass); on Ignite 3 also one
  ``client.scan`` query of a tenth of the partitions, the least a resume costs there;
- PyTorch: torchdata's ``StatefulDataLoader`` over ``IgniteIterableDataset`` (no workers), the
  resumed loader given the saved loader's ``state_dict()`` (through ``torch.save``); dataset and
  loader are made in every pass, as a restarted job makes them;
- TensorFlow: an iterator of ``IgniteDataset(..., batch_size=..., resumable=True)``, the resumed
  one restored by ``tf.train.Checkpoint(iterator=...)`` from a checkpoint written at 90%; the
  dataset is made in every pass; the dataset without ``resumable`` beside it (what the
  checkpointable pipeline costs a full pass).

A resumed pass re-reads the partitions open at the save (skipping, and checking, their rows read
before): its cost over the last tenth is what the ratio shows. The full and resumed passes
alternate within each round (conftest.interleave); reported: the resumed pass's time as a share
of the full pass's (median of per-round ratios), next to the full pass's MB/s and rows/s. No peer
client resumes: pyignite and pyignite_dbapi repeat the epoch (their full-pass rates are in the
throughput tables).

Ignite 3.1 holds every read-only query until the meta storage's safe time passes the query's start
(``MappingServiceImpl`` waits for the partitions' assignments as of then); an idle meta storage moves
its safe time on every ``ignite.system.idleSafeTimeSyncIntervalMillis``, 250 ms by default, so each
query of a read waits up to that long. The core reader on Ignite 3 is measured again with that
cluster setting lowered to META_SYNC_MS (and set back after): its scenario says so.
"""

from __future__ import annotations

import io
import json
import urllib.request
from contextlib import contextmanager

import pytest

import ignite_fast
from conftest import interleave, quiet_before_timing
from ignite_fast.position import ScanPosition

pytestmark = pytest.mark.headline

# Where the epoch is cut: the resumed pass reads the rest.
RESUME_AT = 0.9
BATCH_ROWS = 4096
# Rounds of each interleaved measurement (odd: the median is one round's ratio).
ROUNDS = 11
# The Ignite 3 meta storage's idle safe-time sync interval of the second measurement (ms).
META_SYNC_MS = 50
META_SYNC_KEY = "ignite.system.idleSafeTimeSyncIntervalMillis"


def _mnist(request, generation: int) -> dict:
    """The scenario's data (its cluster started on first use): name, rows, row_bytes, addresses,
    cluster, generation, key."""
    if generation == 2:
        cache = request.getfixturevalue("caches").get("mnist", 1)
        return {**cache, "row_bytes": cache["value_bytes"], "generation": 2, "key": "key"}
    return {**request.getfixturevalue("tables3")["mnist"], "generation": 3, "key": "ID"}


def _client(data: dict):
    return ignite_fast.Client(data["addresses"], ignite=data["generation"])


def _core_passes(data: dict, _directory) -> dict:
    """Full passes of ``scan`` and of ``resumable_scan``, and a ``resumable_scan`` resumed from the
    position at RESUME_AT of the epoch (through its bytes)."""
    client, name, key = _client(data), data["name"], data["key"]

    def read(batches) -> int:
        return sum(len(batch[key]) for batch in batches)

    with client.resumable_scan(name, batch_size=BATCH_ROWS) as scan:
        for _ in scan:
            if scan.position().rows >= RESUME_AT * data["rows"]:
                break
        saved = scan.position().to_bytes()
    # the rows the resumed pass gives, as its position at the save says
    rest = data["rows"] - ScanPosition.from_bytes(saved).rows

    def full_scan() -> int:
        rows = read(client.scan(name, batch_size=BATCH_ROWS))
        assert rows == data["rows"]
        return rows

    def full() -> int:
        with client.resumable_scan(name, batch_size=BATCH_ROWS) as scan:
            rows = read(scan)
        assert rows == data["rows"]
        return rows

    def resumed() -> int:
        with client.resumable_scan(name, ScanPosition.from_bytes(saved), batch_size=BATCH_ROWS) as scan:
            rows = read(scan)
        assert rows == rest
        return rows

    passes = {"full pass": full, "resumed at 90%": resumed, "full pass, scan": full_scan}
    if data["generation"] == 3:
        # What a resume on Ignite 3 costs at least: one query, whatever its partitions (Ignite 3.1
        # scans the whole table for each, and waits before it maps it), here of a tenth of the
        # partitions, all of one node (one query on that node).
        primaries = client.primaries(name)
        mine = [p for p, node in enumerate(primaries) if node == primaries[-1]]
        tenth = mine[: max(1, round((1 - RESUME_AT) * len(primaries)))]
        passes["one query of a tenth of the partitions"] = lambda: read(
            client.scan(name, batch_size=BATCH_ROWS, partitions=tenth)
        )
    return passes


def _leaf_rows(batch) -> int:
    """Rows of a batch: the length of its first array (batches nest dicts of arrays)."""
    while isinstance(batch, dict):
        batch = next(iter(batch.values()))
    return len(batch)


def _torch_passes(data: dict, _directory) -> dict:
    import torch
    from torchdata.stateful_dataloader import StatefulDataLoader

    from ignite_fast.pytorch import IgniteIterableDataset

    def loader():
        dataset = IgniteIterableDataset(
            data["name"], hosts=data["addresses"], batch_size=BATCH_ROWS, ignite=data["generation"]
        )
        return StatefulDataLoader(dataset, batch_size=None, num_workers=0)

    saving = loader()
    rows = 0
    for batch in saving:
        rows += _leaf_rows(batch)
        if rows >= RESUME_AT * data["rows"]:
            break
    buffer = io.BytesIO()
    torch.save(saving.state_dict(), buffer)
    saved, rest = buffer.getvalue(), data["rows"] - rows

    def full() -> int:
        rows = sum(_leaf_rows(batch) for batch in loader())
        assert rows == data["rows"]
        return rows

    def resumed() -> int:
        resuming = loader()
        resuming.load_state_dict(torch.load(io.BytesIO(saved), weights_only=True))
        rows = sum(_leaf_rows(batch) for batch in resuming)
        assert rows == rest
        return rows

    return {"full pass": full, "resumed at 90%": resumed}


def _tf_passes(data: dict, directory) -> dict:
    import tensorflow as tf

    def dataset(resumable: bool = True):
        return ignite_fast.IgniteDataset(
            data["name"], hosts=data["addresses"], batch_size=BATCH_ROWS, ignite=data["generation"], resumable=resumable
        )

    def rows_of(batch) -> int:
        return int(tf.shape(tf.nest.flatten(batch)[0])[0])

    iterator = iter(dataset())
    rows = 0
    for batch in iterator:
        rows += rows_of(batch)
        if rows >= RESUME_AT * data["rows"]:
            break
    saved = tf.train.Checkpoint(iterator=iterator).write(str(directory / "at90"))
    rest = data["rows"] - rows

    def full(resumable: bool = True) -> int:
        rows = sum(rows_of(batch) for batch in dataset(resumable))
        assert rows == data["rows"]
        return rows

    def resumed() -> int:
        iterator = iter(dataset())
        tf.train.Checkpoint(iterator=iterator).read(saved).assert_consumed()
        rows = sum(rows_of(batch) for batch in iterator)
        assert rows == rest
        return rows

    return {"full pass": full, "resumed at 90%": resumed, "full pass, not resumable": lambda: full(False)}


FACES = {"core": _core_passes, "pytorch": _torch_passes, "tensorflow": _tf_passes}


@pytest.mark.parametrize("face", list(FACES))
@pytest.mark.parametrize("generation", [2, 3], ids=["ignite2", "ignite3"])
def test_resume_at_90_percent(benchmark, request, tmp_path, generation, face):
    data = _mnist(request, generation)
    passes = FACES[face](data, tmp_path)
    for run in passes.values():
        run()
    quiet_before_timing(data["cluster"])
    scenario = f"resume {face}, Ignite {generation}"
    interleave(benchmark, data["cluster"], scenario, "full pass", passes, data["row_bytes"], rounds=ROUNDS)


@contextmanager
def _meta_storage_sync(cluster, ms: int):
    """The cluster's META_SYNC_KEY set to ``ms`` (through node 0's REST API), and set back after."""
    url = f"http://127.0.0.1:{cluster.node_specs()[0].rest_port}/management/v1/configuration/cluster"

    def update(value: int) -> None:
        body = f"{META_SYNC_KEY}={value}".encode()
        request = urllib.request.Request(url, data=body, method="PATCH", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()

    with urllib.request.urlopen(f"{url}/ignite.system", timeout=30) as response:
        before = json.loads(response.read())["idleSafeTimeSyncIntervalMillis"]
    update(ms)
    try:
        yield
    finally:
        update(before)


def test_resume_at_90_percent_ignite3_meta_sync(benchmark, request, tmp_path):
    """The core reader on Ignite 3 with the meta storage's idle sync at META_SYNC_MS."""
    data = _mnist(request, 3)
    with _meta_storage_sync(data["cluster"], META_SYNC_MS):
        passes = _core_passes(data, tmp_path)
        for run in passes.values():
            run()
        quiet_before_timing(data["cluster"])
        scenario = f"resume core, Ignite 3, {META_SYNC_KEY}={META_SYNC_MS} (server setting)"
        interleave(benchmark, data["cluster"], scenario, "full pass", passes, data["row_bytes"], rounds=ROUNDS)
