"""Trains the digits classifier with PyTorch (DDP, gloo) under torchrun, on one machine or many,
with no launcher of ours: torchrun starts, rendezvous and restarts the workers.

Each rank reads its shard of the ``digits`` cache through ``IgniteIterableDataset``: the ranks
agree on one plan per attempt (every rank's home node, the Ignite node on its own machine,
gathered over torch.distributed; rank 0 plans, balanced by entries and local partitions first;
the plan broadcast), and each rank's DataLoader workers share its shard. Rank 0 checkpoints the
model, the optimizer, the epoch and the step counter to ``igfs://`` at the end of every epoch
(``torch.save`` into an IGFS file); a restarted job resumes there and the step carries on. When
the cluster's topology changes mid-epoch (an Ignite node joins or leaves), the dataset raises
TopologyChangedError, the worker exits with status 200, and torchrun restarts the job, which
makes a fresh plan.

    ignite-fast server start --nodes 2                                   # or use your cluster
    python examples/torchrun_digits.py --load --hosts 127.0.0.1:10800
    # on every machine (here: two "machines" on one host), beside its Ignite node:
    torchrun --nnodes=2 --nproc-per-node=2 --max-restarts=3 --rdzv-backend=c10d \\
        --rdzv-endpoint=127.0.0.1:29400 --rdzv-id=digits-1 \\
        examples/torchrun_digits.py --hosts 127.0.0.1:10800,127.0.0.1:10801 --epochs 10

Every fifth key is held out; at the end rank 0 prints the held-out accuracy.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="127.0.0.1:10800", help="Ignite nodes, host:port,... (give them all)")
    parser.add_argument("--cache", default="digits")
    parser.add_argument("--load", action="store_true", help="load scikit-learn's digits into the cache and exit")
    parser.add_argument("--epochs", type=int, default=10, help="epochs in all (not per restart)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per batch, per rank")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--loader-workers", type=int, default=2, help="DataLoader workers per rank")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="an igfs:// file (default igfs://<first host>/examples/torchrun-digits/checkpoint.pt)",
    )
    parser.add_argument("--keys-out", default=None, help="a directory: each rank saves the keys it read, per epoch")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds to sleep per step (for demos)")
    return parser.parse_args(argv)


def load(hosts: list[str], cache: str) -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    from ignite_fast import Client

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images.reshape(-1, 64) * 255 / 16), 0, 255).astype(np.uint8)
    columns = {"pixels": pixels, "label": digits.target.astype(np.int32)}
    rows = Client(hosts).put_batches(
        cache, {"key": np.arange(len(pixels), dtype=np.int64), "val": columns}, type_name="Digit"
    )
    print(f"loaded {rows} digits into {cache!r}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    hosts = [h for h in args.hosts.split(",") if h]
    if args.load:
        load(hosts, args.cache)
        return 0
    from ignite_fast.distributed import exit_on_topology_change

    with exit_on_topology_change():  # TopologyChangedError: exit 200, and torchrun restarts the job
        return train(args, hosts)


def train(args: argparse.Namespace, hosts: list[str]) -> int:
    import torch
    import torch.distributed as dist
    from torch.distributed.algorithms.join import Join
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data import DataLoader

    from ignite_fast import Client, igfs
    from ignite_fast.distributed import home_node
    from ignite_fast.pytorch import IgniteIterableDataset, process_context

    dist.init_process_group("gloo")  # before the dataset: the ranks agree on its plan through it
    context = process_context()
    rank = context.rank

    def say(message: str) -> None:
        # One write per line: torchrun gives the ranks of an agent one stdout, and print()'s
        # separate write of the newline let two ranks' lines run together.
        sys.stdout.write(f"[rank {rank} restart {context.restarts}] {message}\n")
        sys.stdout.flush()

    dataset = IgniteIterableDataset(args.cache, hosts=hosts, batch_size=args.batch_size, columns=["pixels", "label"])
    plan = dataset.plan
    if plan is not None:
        local = "?" if plan.local_partitions is None else plan.local_partitions[rank]
        say(
            f"pid {os.getpid()} home {home_node(Client(hosts), context)}: {len(plan[rank])} partitions, "
            f"{local} on its home node, topology {plan.topology}"
        )
    loader = DataLoader(dataset, batch_size=None, num_workers=args.loader_workers)

    checkpoint = args.checkpoint or f"igfs://{hosts[0]}/examples/torchrun-digits/checkpoint.pt"
    fs = igfs.connect(checkpoint, backups=1)  # the file system's caches keep a backup (when made here)
    path = igfs.split_url(checkpoint)[2]

    torch.manual_seed(7)  # the same initial weights on every rank
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    model = DistributedDataParallel(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    epoch = step = 0
    if fs.exists(path):
        with fs.open(path, "rb") as f:
            state = torch.load(f)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        epoch, step = state["epoch"], state["step"]
        say(f"resuming from igfs://{hosts[0]}{path} at epoch {epoch} step {step}")
    else:
        say("starting at epoch 0 step 0")

    started = time.monotonic()
    while epoch < args.epochs:
        keys = []
        loss = torch.zeros(())
        with Join([model]):  # ranks may get a batch more or less than the others
            for batch in loader:
                train = batch["key"] % 5 != 0  # every fifth key is held out
                x = batch["val"]["pixels"][train].float() / 255
                loss = torch.nn.functional.cross_entropy(model(x), batch["val"]["label"][train].long())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                step += 1
                keys += batch["key"].tolist()
                time.sleep(args.step_delay)
        epoch += 1
        if args.keys_out:
            os.makedirs(args.keys_out, exist_ok=True)
            topology = "none" if plan is None or plan.topology is None else plan.topology[0]
            name = f"rank-{rank}-epoch-{epoch - 1}-topology-{topology}.json"
            with open(os.path.join(args.keys_out, name), "w") as out:
                json.dump(keys, out)
        if rank == 0:  # a file is published whole on close, so a crash mid-save leaves the last one
            with fs.open(path, "wb", makedirs=True) as f:
                state = {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch, "step": step}
                torch.save(state, f)
        say(f"epoch {epoch - 1} done: step {step}, {len(keys)} rows, loss {float(loss.detach()):.4f}")
    say(f"finished at epoch {epoch} step {step} in {time.monotonic() - started:.1f} s")

    if rank == 0:
        correct = total = 0
        with torch.no_grad():
            for batch in Client(hosts).scan(args.cache, columns=["pixels", "label"]):
                held_out = batch["key"] % 5 == 0
                logits = net(torch.from_numpy(batch["val"]["pixels"][held_out]).float() / 255)
                correct += int((logits.argmax(dim=1).numpy() == batch["val"]["label"][held_out]).sum())
                total += int(held_out.sum())
        say(f"held-out accuracy {correct / total:.4f} on {total} rows")
    dist.barrier()  # no rank leaves before rank 0 is done
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
