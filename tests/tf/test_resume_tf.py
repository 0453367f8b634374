"""Resuming an epoch with ``tf.train.Checkpoint(iterator=iter(IgniteDataset(..., batch_size=B)))``
(issue 25), on both generations: the session node's cache (checkpoints on igfs://) and the Ignite 3
node's table (checkpoints in a local directory).

A training process (this module run as a script) iterates the dataset, saves a checkpoint of the
iterator after batch 30, consumes three batches more and is SIGKILLed; started again, it restores
the checkpoint and reads the rest of the epoch. The keys consumed up to the checkpoint and those
read after the restore are every key exactly once. A checkpoint of another cache's iterator, or a
corrupted one, is refused with PositionError before any row is read.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from ignite_fast import IgniteDataset, ScanPosition

KEYS = 20_000
OTHER_KEYS = 300


@dataclass(frozen=True)
class Source:
    """One generation's data: KEYS keys 0..KEYS-1 in ``name``, OTHER_KEYS in ``other``."""

    ignite: int
    hosts: list[str]
    name: str
    other: str
    key: str  # the element's key column
    batch: int  # fewer rows than a partition holds: checkpoints fall inside partitions

    def dataset(self, name: str | None = None) -> IgniteDataset:
        return IgniteDataset(
            name or self.name, hosts=self.hosts, ignite=self.ignite, batch_size=self.batch, resumable=True
        )


def _job() -> None:
    """The training process: ``--save-after`` batches, a checkpoint, ``--kill-after`` batches
    more and SIGKILL; or, when the checkpoint directory has one, a restore and the rest of the
    epoch. Every batch's keys go to ``--keys`` as a JSON line, the checkpoint as "checkpoint"."""
    parser = argparse.ArgumentParser()
    for name in ("hosts", "name", "key", "checkpoints", "keys"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("ignite", "batch-size", "save-after", "kill-after"):
        parser.add_argument(f"--{name}", type=int, default=0)
    args = parser.parse_args()
    if args.checkpoints.startswith("igfs://"):
        from ignite_fast.tf.gfile import register_igfs_filesystem

        register_igfs_filesystem()
    source = Source(args.ignite, args.hosts.split(","), args.name, "", args.key, args.batch_size)
    dataset = source.dataset()
    iterator = iter(dataset.prefetch(2))  # read-ahead: the buffered batches are in the checkpoint
    checkpoint = tf.train.Checkpoint(iterator=iterator)
    latest = tf.train.latest_checkpoint(args.checkpoints)
    with open(args.keys, "a") as out:

        def note(value: object) -> None:
            out.write(json.dumps(value) + "\n")
            out.flush()
            os.fsync(out.fileno())

        if latest is not None:
            checkpoint.restore(latest).assert_consumed()
            note("restored")
        for n, batch in enumerate(iterator, 1):
            note(batch[args.key].numpy().tolist())
            if latest is None and n == args.save_after:
                checkpoint.save(f"{args.checkpoints}/ckpt")
                note("checkpoint")
                position = dataset.position(n)
                note({"position": position.describe(), "rows": position.rows})
            if latest is None and n == args.save_after + args.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        note("end")


if __name__ == "__main__":
    _job()
    sys.exit(0)

import pytest  # noqa: E402 - the job above runs without pytest and the node fixtures

from ignite_fast.errors import PositionError  # noqa: E402
from node_fixtures import SESSION_PORT, put_numbers, put_numbers3  # noqa: E402

IGFS_URL = f"igfs://127.0.0.1:{SESSION_PORT}"


@pytest.fixture(scope="module")
def cache2(cluster) -> Source:
    put_numbers(SESSION_PORT, "resume_tf", KEYS, backups=0)
    put_numbers(SESSION_PORT, "resume_tf_other", OTHER_KEYS, backups=0)
    return Source(2, cluster.addresses, "resume_tf", "resume_tf_other", "key", 8)


@pytest.fixture(scope="module")
def table3(ignite3) -> Source:
    put_numbers3(ignite3, "RESUME_TF", KEYS)
    put_numbers3(ignite3, "RESUME_TF_OTHER", OTHER_KEYS)
    return Source(3, ignite3.addresses, "RESUME_TF", "RESUME_TF_OTHER", "ID", 100)


@pytest.fixture(params=[2, 3], ids=["ignite2", "ignite3"])
def source(request) -> Source:
    return request.getfixturevalue("cache2" if request.param == 2 else "table3")


@pytest.fixture
def checkpoints(source, tmp_path, igfs_name, monkeypatch) -> str:
    """Where the job keeps its checkpoints: igfs:// on Ignite 2 (a fresh file system), a local
    directory on Ignite 3."""
    if source.ignite == 2:
        monkeypatch.setenv("IGFS_FS_NAME", igfs_name)
        return f"{IGFS_URL}/resume_tf"
    return str(tmp_path / "checkpoints")


def _run(source: Source, checkpoints: str, keys: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        __file__,
        f"--hosts={','.join(source.hosts)}",
        f"--ignite={source.ignite}",
        f"--name={source.name}",
        f"--key={source.key}",
        f"--batch-size={source.batch}",
        f"--checkpoints={checkpoints}",
        f"--keys={keys}",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)


def _split(lines: list, marker: str) -> list[list]:
    parts: list[list] = [[]]
    for line in lines:
        if line == marker:
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def test_killed_after_a_checkpoint_resumes_exactly_once(source, checkpoints, tmp_path):
    keys = tmp_path / "keys.jsonl"
    first = _run(source, checkpoints, keys, "--save-after=30", "--kill-after=3")
    assert first.returncode == -signal.SIGKILL, first.stdout + first.stderr
    second = _run(source, checkpoints, keys)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = [json.loads(line) for line in keys.read_text().splitlines()]
    before, after_checkpoint = _split(lines, "checkpoint")
    discarded, resumed = _split(after_checkpoint, "restored")
    [described], discarded = discarded[:1], discarded[1:]
    assert len(before) == 30
    assert len(discarded) == 3
    assert resumed[-1] == "end"
    # the position the checkpoint holds counts the rows consumed before it
    assert described["rows"] == sum(len(batch) for batch in before), described
    read = [k for batch in before + resumed[:-1] for k in batch]
    twice = [k for k, n in collections.Counter(read).items() if n > 1]
    assert not twice, f"{len(twice)} keys read twice, e.g. {twice[:5]}"
    assert sorted(read) == list(range(KEYS))


def test_checkpoint_of_another_cache_or_corrupted_is_refused_before_reading(source, tmp_path):
    other = iter(source.dataset(source.other))
    next(other)
    saved = tf.train.Checkpoint(iterator=other).write(str(tmp_path / "other"))
    mine = iter(source.dataset())
    tf.train.Checkpoint(iterator=mine).read(saved).assert_consumed()
    kind = "cache" if source.ignite == 2 else "table"
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"position is of {kind}"):
        next(mine)
    # the dataset's own way in (the Keras callback's) raises PositionError itself
    position = _read_one(source, source.other)
    with pytest.raises(PositionError, match=f"position is of {kind}"):
        source.dataset().resume_from(position)


def _read_one(source: Source, name: str) -> ScanPosition:
    dataset = source.dataset(name)
    assert dataset.position() is None  # nothing read yet
    next(iter(dataset))
    position = dataset.position()
    assert position is not None
    assert 0 < position.rows <= source.batch
    return position
