"""Keras ``model.fit`` that resumes an epoch where it stopped, with
:class:`ignite_fast.keras.ResumableBackup` (issue 25), on both generations: the session node's cache
(backups on igfs://) and the Ignite 3 node's table (backups in a local directory).

A training process (this module run as a script) fits a small model for two epochs over an
IgniteDataset, saving every 20 batches (counted across epochs, as Keras counts them); in the
second epoch, three batches after its second save there, it is SIGKILLed. Started again, ``fit``
restores the weights, the epoch and the dataset's position, and trains on the rest of that
epoch: the keys trained on before the save and those after the restart are every key exactly
once. A backup whose position was changed, or is of another cache, is refused with
PositionError before any row is read.
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

import keras
import numpy as np
import tensorflow as tf

from ignite_fast import IgniteDataset
from ignite_fast.keras import ResumableBackup

KEYS = 4_000
OTHER_KEYS = 300
EPOCHS = 2
SAVE_FREQ = 20


@dataclass(frozen=True)
class Source:
    """One generation's data: KEYS keys 0..KEYS-1 in ``name`` (value column ``value``)."""

    ignite: int
    hosts: list[str]
    name: str
    other: str
    key: str
    value: str
    batch: int  # fewer rows than a partition holds: saves fall inside partitions

    def dataset(self, name: str | None = None) -> IgniteDataset:
        return IgniteDataset(
            name or self.name, hosts=self.hosts, ignite=self.ignite, batch_size=self.batch, resumable=True
        )


def _model() -> keras.Model:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _job() -> None:
    """The training process. Every batch read goes to ``--keys`` as a JSON line of its keys, in
    the order read; the callbacks add {"epoch": e} when an epoch begins and {"saved": b} after a
    save at batch b (0-based, within the epoch as this fit counts it)."""
    parser = argparse.ArgumentParser()
    for name in ("hosts", "name", "key", "value", "backup", "keys"):
        parser.add_argument(f"--{name}", required=True)
    for name in ("ignite", "batch-size", "kill-epoch"):
        parser.add_argument(f"--{name}", type=int, default=-1)
    args = parser.parse_args()
    if args.backup.startswith("igfs://"):
        from ignite_fast.tf.gfile import register_igfs_filesystem

        register_igfs_filesystem()
    out = open(args.keys, "a")  # noqa: SIM115 - open for the whole process, which is killed

    def note(value: object) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()
        os.fsync(out.fileno())

    def record(keys: tf.Tensor) -> np.int64:
        note(keys.numpy().tolist())
        return np.int64(0)

    def to_xy(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
        # the keys of every batch read, in order (the map runs batch by batch, as fit pulls them)
        recorded = tf.py_function(record, [batch[args.key]], tf.int64)
        recorded.set_shape([])
        x = tf.cast(batch[args.value], tf.float32)[:, None] / 1e4 + tf.cast(recorded, tf.float32)
        return x, x * 2.0

    class Noted(ResumableBackup):
        """Notes each save (Keras counts batches to the next save across epochs)."""

        def _save_model(self) -> None:
            super()._save_model()
            note({"saved": self._last_batch_seen})
            killer.saved.append((killer.epoch, self._last_batch_seen))

    class Killer(keras.callbacks.Callback):
        """Notes epochs; kills the process 3 batches after the second save in epoch ``--kill-epoch``."""

        def __init__(self) -> None:
            super().__init__()
            self.epoch = 0
            self.saved: list[tuple[int, int]] = []

        def on_epoch_begin(self, epoch: int, logs: object = None) -> None:
            self.epoch = epoch
            note({"epoch": epoch})

        def on_train_batch_end(self, batch: int, logs: object = None) -> None:
            saves = [b for e, b in self.saved if e == args.kill_epoch]
            if self.epoch == args.kill_epoch and len(saves) >= 2 and batch == saves[-1] + 3:
                os.kill(os.getpid(), signal.SIGKILL)

    source = Source(args.ignite, args.hosts.split(","), args.name, "", args.key, args.value, args.batch_size)
    dataset = source.dataset()
    killer = Killer()
    backup = Noted(args.backup, dataset, save_freq=SAVE_FREQ, delete_checkpoint=False)
    model = _model()
    model.fit(dataset.map(to_xy), epochs=EPOCHS, callbacks=[backup, killer], verbose=0)
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
    put_numbers(SESSION_PORT, "resume_keras", KEYS, backups=0)
    put_numbers(SESSION_PORT, "resume_keras_other", OTHER_KEYS, backups=0)
    return Source(2, cluster.addresses, "resume_keras", "resume_keras_other", "key", "val", 2)


@pytest.fixture(scope="module")
def table3(ignite3) -> Source:
    put_numbers3(ignite3, "RESUME_KERAS", KEYS)
    put_numbers3(ignite3, "RESUME_KERAS_OTHER", OTHER_KEYS)
    return Source(3, ignite3.addresses, "RESUME_KERAS", "RESUME_KERAS_OTHER", "ID", "V", 25)


@pytest.fixture(params=[2, 3], ids=["ignite2", "ignite3"])
def source(request) -> Source:
    return request.getfixturevalue("cache2" if request.param == 2 else "table3")


@pytest.fixture
def backup_dir(source, tmp_path, igfs_name, monkeypatch) -> str:
    """igfs:// on Ignite 2 (a fresh file system), a local directory on Ignite 3."""
    if source.ignite == 2:
        monkeypatch.setenv("IGFS_FS_NAME", igfs_name)
        from ignite_fast.tf.gfile import register_igfs_filesystem

        register_igfs_filesystem()
        return f"{IGFS_URL}/resume_keras"
    return str(tmp_path / "backup")


def _run(source: Source, backup: str, keys: Path, *args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        __file__,
        f"--hosts={','.join(source.hosts)}",
        f"--ignite={source.ignite}",
        f"--name={source.name}",
        f"--key={source.key}",
        f"--value={source.value}",
        f"--batch-size={source.batch}",
        f"--backup={backup}",
        f"--keys={keys}",
        *args,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(command, capture_output=True, text=True, timeout=400, env=env)


def _epochs(lines: list) -> list[tuple[int, list]]:
    """The lines of each epoch begun, with its number."""
    epochs: list[tuple[int, list]] = []
    for line in lines:
        if isinstance(line, dict) and "epoch" in line:
            epochs.append((line["epoch"], []))
        elif line != "end":
            epochs[-1][1].append(line)
    return epochs


def _exactly_once(keys: list[int]) -> None:
    twice = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert not twice, f"{len(twice)} keys read twice, e.g. {twice[:5]}"
    assert sorted(keys) == list(range(KEYS)), f"{KEYS - len(set(keys))} keys not read"


def test_fit_killed_mid_epoch_resumes_the_epoch(source, backup_dir, tmp_path):
    keys = tmp_path / "keys.jsonl"
    first = _run(source, backup_dir, keys, "--kill-epoch=1")
    assert first.returncode == -signal.SIGKILL, first.stdout + first.stderr
    killed = len(keys.read_text().splitlines())
    second = _run(source, backup_dir, keys)
    assert second.returncode == 0, second.stdout + second.stderr
    lines = [json.loads(line) for line in keys.read_text().splitlines()]
    (e0, whole), (e1, killed_epoch), (e1_again, resumed) = _epochs(lines[:killed]) + _epochs(lines[killed:])
    assert (e0, e1, e1_again) == (0, 1, 1)
    _exactly_once([k for batch in whole if isinstance(batch, list) for k in batch])
    # trained on before the kill: the batches up to the last save, as the saves counted them
    batches = [line for line in killed_epoch if isinstance(line, list)]
    saved = [line["saved"] for line in killed_epoch if isinstance(line, dict)][-1]
    trained = batches[: saved + 1]
    assert len(batches) > len(trained)  # batches were read after the save, and are read again
    after = [line for line in resumed if isinstance(line, list)]
    _exactly_once([k for batch in trained + after for k in batch])
    assert lines[-1] == "end"


def test_a_changed_or_foreign_position_is_refused_before_reading(source, backup_dir):
    dataset = source.dataset()
    model = _model()
    backup = ResumableBackup(backup_dir, dataset, save_freq=1, delete_checkpoint=False)
    x = dataset.map(lambda b: (tf.cast(b[source.value], tf.float32)[:, None],) * 2).take(1)
    model.fit(x, epochs=1, callbacks=[backup], verbose=0)
    path = f"{backup_dir}/training_metadata.json"
    with tf.io.gfile.GFile(path) as f:
        metadata = json.loads(f.read())
    assert metadata["position"] is not None
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps({**metadata, "position": metadata["position"].replace('"epoch":0', '"epoch":1')}))
    with pytest.raises(PositionError, match="changed"):
        _model().fit(x, epochs=1, callbacks=[ResumableBackup(backup_dir, dataset)], verbose=0)
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(json.dumps(metadata))
    other = source.dataset(source.other)
    kind = "cache" if source.ignite == 2 else "table"
    with pytest.raises(PositionError, match=f"position is of {kind}"):
        _model().fit(x, epochs=1, callbacks=[ResumableBackup(backup_dir, other)], verbose=0)
