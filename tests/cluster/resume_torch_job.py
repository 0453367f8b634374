"""A training process of test_resume_torch.py, killed mid-epoch and started again: it iterates a
StatefulDataLoader over IgniteIterableDataset (workers persist, so that epochs are counted) and
writes the keys of every batch it consumes, one JSON line per batch, written (the file closed)
before the next batch: a SIGKILL loses none of them.

First run (``--save-after K --kill-after M``): after batch K it saves ``loader.state_dict()``
(torch.save to ``--state``: a file, or an ``igfs://`` URL through fsspec, which publishes it
whole on close) and writes the line ``"checkpoint"``, consumes M more batches (read again after
the restart: they were not checkpointed), then SIGKILLs itself. Second run (``--resume
--epochs E``): loads the state, consumes the rest of the epoch and E - 1 whole epochs more, each
after a line ``"epoch"``, then writes ``{"epochs": [...]}``: the epoch of every reader's state.

Under torchrun (``RANK`` set) the ranks agree on a plan through a gloo process group, each rank
writes files of its own (``.rank<r>`` appended), and no rank kills itself before every rank has
saved its state (a barrier): the first death makes torchrun end the others.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import sys
from typing import Any

import fsspec
import torch
from torchdata.stateful_dataloader import StatefulDataLoader

from ignite_fast.pytorch import IgniteIterableDataset


def dataset_states(state: Any) -> list[dict]:
    """Every reader's state (``{"position", "epoch"}``) in a loader's state, wherever torchdata keeps it."""
    if isinstance(state, dict):
        if set(state) == {"position", "epoch"}:
            return [state]
        return [found for value in state.values() for found in dataset_states(value)]
    return []


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", required=True)
    parser.add_argument("--ignite", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--key", required=True, help="the batch's key column")
    parser.add_argument("--workers", type=int, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--state", required=True, help="a file or an igfs:// URL")
    parser.add_argument("--keys", required=True)
    parser.add_argument("--save-after", type=int)
    parser.add_argument("--kill-after", type=int, default=3)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()

    dist = None
    if "RANK" in os.environ:
        import torch.distributed as dist

        dist.init_process_group("gloo")
        args.state += f".rank{dist.get_rank()}"
        args.keys += f".rank{dist.get_rank()}"

    hosts = args.hosts.split(",")
    dataset = IgniteIterableDataset(args.name, hosts=hosts, ignite=args.ignite, batch_size=args.batch_size)
    loader = StatefulDataLoader(dataset, batch_size=None, num_workers=args.workers, persistent_workers=args.workers > 0)
    if args.resume:
        with fsspec.open(args.state, "rb") as f:
            loader.load_state_dict(torch.load(io.BytesIO(f.read())))

    def write(value: Any) -> None:
        with open(args.keys, "a") as keys:  # closed: what is written survives a SIGKILL
            keys.write(json.dumps(value) + "\n")

    for epoch in range(args.epochs):
        if epoch:
            write("epoch")
        for consumed, batch in enumerate(loader, 1):
            write(batch[args.key].tolist())
            if consumed == args.save_after:
                with fsspec.open(args.state, "wb") as f:
                    torch.save(loader.state_dict(), f)
                write("checkpoint")
            if args.save_after is not None and consumed == args.save_after + args.kill_after:
                if dist is not None:
                    dist.barrier()  # every rank has saved its state
                os.kill(os.getpid(), signal.SIGKILL)
    if args.save_after is not None:
        print(f"the epoch ended before batch {args.save_after + args.kill_after}", file=sys.stderr)
        return 3
    write({"epochs": [state["epoch"] for state in dataset_states(loader.state_dict())]})
    if dist is not None:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
