"""Resuming an epoch with torchdata's StatefulDataLoader over IgniteIterableDataset (issue 25), on
both generations: the three-node Ignite 2 cluster's cache and the two-node Ignite 3 cluster's table.

A training process (resume_torch_job.py, plain python or two torchrun ranks) saves the loader's
state mid-epoch (to igfs:// on Ignite 2), consumes a few batches more and is SIGKILLed; started
again, it loads the state, finishes the epoch and reads one more. The keys consumed up to the
checkpoint and those of the second run's first epoch are every key exactly once, and so are those
of its next epoch (which the readers' states count as epoch 1). A state of another cache or
world size is refused before any row is read, from the DataLoader's workers as from the main
process; a state saved at an epoch's end resumes as StatefulDataLoader defines it (nothing left
of that epoch, then whole epochs).
"""

from __future__ import annotations

import collections
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pytest
import torch
from pyignite import Client as PyIgniteClient
from pyignite.datatypes.cache_config import CacheMode
from pyignite.datatypes.prop_codes import PROP_CACHE_MODE, PROP_NAME
from resume_torch_job import dataset_states
from torch.utils.data import DataLoader
from torchdata.stateful_dataloader import StatefulDataLoader

from ignite_fast import ScanPosition
from ignite_fast.errors import InvalidArgumentError, PositionError
from ignite_fast.pytorch import IgniteIterableDataset
from node_fixtures import TRIO_PORT, put_numbers, put_numbers3

JOB = Path(__file__).with_name("resume_torch_job.py")
KEYS = 20_000
OTHER_KEYS = 200


@dataclass(frozen=True)
class Source:
    """One generation's data: KEYS keys 0..KEYS-1 in ``name``, OTHER_KEYS in ``other``."""

    ignite: int
    hosts: list[str]
    name: str
    other: str
    key: str  # the batch's key column
    batch: int  # fewer rows than a partition holds: checkpoints fall inside partitions

    def dataset(self, name: str | None = None, **options) -> IgniteIterableDataset:
        return IgniteIterableDataset(
            name or self.name, hosts=self.hosts, ignite=self.ignite, batch_size=self.batch, **options
        )

    def keys(self, batches: Iterator[dict]) -> list[int]:
        return [k for batch in batches for k in batch[self.key].tolist()]

    def state_url(self, run: Path) -> str:
        """Where a job saves its loader's state: igfs on Ignite 2, a local file on Ignite 3."""
        if self.ignite == 2:
            return f"igfs://{self.hosts[0]}/pytest/resume_torch/{run.name}/state.pt"
        return str(run / "state.pt")


@pytest.fixture(scope="module")
def cache2(trio) -> Source:
    put_numbers(TRIO_PORT, "resume_torch", KEYS, backups=1)
    put_numbers(TRIO_PORT, "resume_torch_other", OTHER_KEYS, backups=1)
    return Source(2, trio.addresses, "resume_torch", "resume_torch_other", "key", 16)


@pytest.fixture(scope="module")
def table3(ignite3_pair) -> Source:
    put_numbers3(ignite3_pair, "RESUME_TORCH", KEYS)
    put_numbers3(ignite3_pair, "RESUME_TORCH_OTHER", OTHER_KEYS)
    return Source(3, ignite3_pair.addresses, "RESUME_TORCH", "RESUME_TORCH_OTHER", "ID", 100)


@pytest.fixture(params=[2, 3], ids=["ignite2", "ignite3"])
def source(request) -> Source:
    return request.getfixturevalue("cache2" if request.param == 2 else "table3")


def _job(source: Source, run: Path, workers: int, *args: str, torchrun: bool = False):
    command = [
        str(JOB),
        f"--hosts={','.join(source.hosts)}",
        f"--ignite={source.ignite}",
        f"--name={source.name}",
        f"--key={source.key}",
        f"--workers={workers}",
        f"--batch-size={source.batch}",
        f"--state={source.state_url(run)}",
        f"--keys={run / 'keys.jsonl'}",
        *args,
    ]
    if torchrun:
        command = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *command]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, *command], capture_output=True, text=True, timeout=300, cwd=run, env=env)


def _lines(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _split(lines: list, marker: str) -> list[list]:
    """The lines between markers."""
    parts: list[list] = [[]]
    for line in lines:
        if line == marker:
            parts.append([])
        else:
            parts[-1].append(line)
    return parts


def _keys(batches: list) -> list[int]:
    return [k for batch in batches for k in batch]


def _exactly_once(keys: list[int], total: int = KEYS) -> None:
    twice = [k for k, n in collections.Counter(keys).items() if n > 1]
    assert not twice, f"{len(twice)} keys read twice, e.g. {twice[:5]}"
    assert sorted(keys) == list(range(total)), f"{total - len(set(keys))} keys not read"


def _open_partitions(state: dict) -> int:
    """Partitions begun but not finished in a loader's saved state, over all its readers."""
    return sum(len(s["position"]["open"]) for s in dataset_states(state) if s["position"] is not None)


def _killed_and_resumed(source: Source, run: Path, workers: int, ranks: int = 1):
    """The first run saves its state mid-partition after batch 30 or soon after, and is killed 3
    batches later; the second resumes and reads one whole epoch more."""
    first = _job(source, run, workers, "--save-after=30", "--kill-after=3", torchrun=ranks > 1)
    output = first.stdout + first.stderr
    assert first.returncode == -9 or (ranks > 1 and first.returncode != 0 and "SIGKILL" in output), output
    assert "the epoch ended" not in output
    names = ["keys.jsonl"] if ranks == 1 else [f"keys.jsonl.rank{r}" for r in range(ranks)]
    checkpointed, discarded, states = [], [], []
    for r, name in enumerate(names):
        before, after = _split(_lines(run / name), "checkpoint")
        assert after, "nothing consumed after the checkpoint"  # read again after the restart
        checkpointed.append(_keys(before))
        discarded.append(_keys(after))
        (run / name).rename(run / f"{name}.first")
        url = source.state_url(run) + ("" if ranks == 1 else f".rank{r}")
        with fsspec.open(url, "rb") as f:
            states.append(torch.load(io.BytesIO(f.read())))
    # the checkpoint fell inside partitions: their rows read before it are skipped on resume
    assert sum(_open_partitions(state) for state in states) > 0

    second = _job(source, run, workers, "--resume", "--epochs=2", torchrun=ranks > 1)
    assert second.returncode == 0, second.stdout + second.stderr
    resumed, next_epoch = [], []
    for r, name in enumerate(names):
        lines = _lines(run / name)
        assert lines[-1] == {"epochs": [1] * max(workers, 1)}  # every reader counted the next epoch
        rest, whole = _split(lines[:-1], "epoch")
        assert set(discarded[r]) <= set(_keys(rest))
        resumed.append(_keys(rest))
        next_epoch.append(_keys(whole))
    if ranks > 1:
        assert not set(checkpointed[0] + resumed[0]) & set(checkpointed[1] + resumed[1])  # each rank its shard
    _exactly_once([k for r in range(ranks) for k in checkpointed[r] + resumed[r]])
    _exactly_once([k for keys in next_epoch for k in keys])


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_a_killed_process_resumes_the_epoch_reading_every_key_once(source, tmp_path, workers):
    _killed_and_resumed(source, tmp_path, workers)


def test_two_torchrun_ranks_killed_resume_the_epoch_reading_every_key_once(source, tmp_path):
    _killed_and_resumed(source, tmp_path, 2, ranks=2)


def _state_after(loader: StatefulDataLoader, batches: int) -> dict:
    for consumed, _ in enumerate(loader, 1):
        if consumed == batches:
            return loader.state_dict()
    raise AssertionError(f"fewer than {batches} batches")


@pytest.mark.parametrize("workers", [0, 2])
def test_a_state_of_another_cache_or_world_size_is_refused_before_any_row(source, workers):
    state = _state_after(StatefulDataLoader(source.dataset(shard=(0, 2)), batch_size=None, num_workers=workers), 3)
    for dataset, differs in (
        (source.dataset(source.other, shard=(0, 2)), f"'{source.name}'.*'{source.other}'"),
        (source.dataset(shard=(0, 3)), "world|shard"),
    ):
        loader = StatefulDataLoader(dataset, batch_size=None, num_workers=workers)
        loader.load_state_dict(state)
        batches = iter(loader)
        with pytest.raises(PositionError, match=differs):  # the worker's own error, its message kept
            next(batches)
    malformed = source.dataset()
    for bad in ({"position": None}, {"position": {"version": 99}, "epoch": 0}, {"position": None, "epoch": -1}):
        with pytest.raises(PositionError):
            malformed.load_state_dict(bad)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_state_saved_at_the_end_of_an_epoch_resumes_into_the_next(source, workers):
    loader = StatefulDataLoader(source.dataset(), batch_size=None, num_workers=workers)
    batches = sum(1 for _ in loader)
    # saved after the last batch, before the loader saw the end: nothing is left of the epoch
    last = _state_after(StatefulDataLoader(source.dataset(), batch_size=None, num_workers=workers), batches)
    resumed = StatefulDataLoader(source.dataset(), batch_size=None, num_workers=workers)
    resumed.load_state_dict(last)
    assert source.keys(resumed) == []
    _exactly_once(source.keys(resumed))  # then a whole epoch
    # saved once the loader saw the end: StatefulDataLoader starts the next epoch whole
    ended = StatefulDataLoader(source.dataset(), batch_size=None, num_workers=workers)
    _exactly_once(source.keys(ended))
    state = ended.state_dict()
    readers = dataset_states(state)
    assert len(readers) == max(workers, 1)
    for reader in readers:  # each at the end of epoch 0: every partition finished
        position = ScanPosition.from_dict(reader["position"])
        assert reader["epoch"] == 0
        assert position.done, position.describe()
    restarted = StatefulDataLoader(source.dataset(), batch_size=None, num_workers=workers)
    restarted.load_state_dict(state)
    _exactly_once(source.keys(restarted))
    if workers == 0:  # the dataset itself read it: epoch 1
        assert [reader["epoch"] for reader in dataset_states(restarted.state_dict())] == [1]


def test_a_replicated_cache_is_read_whole_but_where_a_reader_is_cannot_be_saved(cache2):
    writer = PyIgniteClient()
    writer.connect("127.0.0.1", TRIO_PORT)
    name = "resume_torch_replicated"
    cache = writer.get_or_create_cache({PROP_NAME: name, PROP_CACHE_MODE: CacheMode.REPLICATED})
    cache.put_all({i: i for i in range(OTHER_KEYS)})
    writer.close()
    dataset = cache2.dataset(name)
    _exactly_once(cache2.keys(DataLoader(dataset, batch_size=None, num_workers=2)), OTHER_KEYS)  # as before
    loader = StatefulDataLoader(dataset, batch_size=None)
    next(iter(loader))
    with pytest.raises(InvalidArgumentError, match="not partitioned"):
        loader.state_dict()
