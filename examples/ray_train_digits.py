"""Trains the digits classifier with Ray Train, reading the ``digits`` cache through Ray Data.

With ``--framework torch`` (the default) a ``TorchTrainer`` runs two workers: the training data is
``ignite_fast.ray.read_ignite`` (read tasks beside the Ignite nodes that hold their partitions),
each worker takes its share with ``ray.train.get_dataset_shard``, and the checkpoints go to
``igfs://`` in the same Ignite cluster (Ray Train takes a pyarrow file system: ours through
fsspec). A worker that dies makes Ray Train restart the group (``FailureConfig(max_failures=1)``),
which resumes from the latest checkpoint on igfs.

With ``--framework tensorflow`` a ``TensorflowTrainer`` runs the workers under
MultiWorkerMirroredStrategy (Ray sets ``TF_CONFIG``) and each reads its shard of the cache with
``IgniteDataset.for_input_context``.

    ignite-fast server start --nodes 2                                   # or use your cluster
    python examples/ray_train_digits.py --load --hosts 127.0.0.1:10800
    python examples/ray_train_digits.py --hosts 127.0.0.1:10800,127.0.0.1:10801 --ray-address auto

Every fifth key is held out; at the end the script prints one JSON line: the held-out accuracy,
epochs, where the checkpoint is, and which epoch the last attempt started from.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="127.0.0.1:10800", help="Ignite nodes, host:port,...")
    parser.add_argument("--cache", default="digits")
    parser.add_argument("--load", action="store_true", help="load scikit-learn's digits into the cache and exit")
    parser.add_argument("--ray-address", default=None, help="the Ray cluster (default: start a local one)")
    parser.add_argument("--framework", choices=["torch", "tensorflow"], default="torch")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batch-size", type=int, default=32, help="per worker")
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--storage", default=None, help="default igfs://<first host>/examples/ray-results")
    parser.add_argument("--name", default=None, help="the run's name under --storage (default: digits-<framework>)")
    parser.add_argument(
        "--fail-once",
        default=None,
        metavar="MARK",
        help="(for tests) worker 1 kills itself in the second epoch, once: it leaves the file MARK behind",
    )
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


def held_out_accuracy(predict, hosts: list[str], cache: str) -> tuple[float, int]:
    """Accuracy of ``predict`` (float pixels in [0, 1] -> logits as numpy) on the held-out keys."""
    import numpy as np

    from ignite_fast import Client

    correct = total = 0
    for batch in Client(hosts).scan(cache, columns=["pixels", "label"]):
        held_out = batch["key"] % 5 == 0
        logits = predict(batch["val"]["pixels"][held_out].astype(np.float32) / 255.0)
        correct += int(np.sum(np.argmax(logits, axis=1) == batch["val"]["label"][held_out]))
        total += int(np.sum(held_out))
    return correct / total, total


def die_once(mark: str | None, rank: int, epoch: int) -> None:
    """Worker 1 is killed (SIGKILL: no clean-up, as when a machine goes) in the second epoch,
    unless it was once already. The wait lets Ray Train's controller take in the first epoch's
    checkpoint (it polls the workers every 2 s)."""
    if mark is None or rank != 1 or epoch != 1 or os.path.exists(mark):
        return
    time.sleep(6)
    with open(mark, "w") as f:
        f.write(f"killed worker {rank} (pid {os.getpid()}) in epoch {epoch}\n")
    os.kill(os.getpid(), signal.SIGKILL)


def torch_loop(config: dict) -> None:
    """One Ray Train worker: its shard of the Ray dataset, DDP, a checkpoint per epoch."""
    import ray.train
    import ray.train.torch
    import torch
    from torch import nn

    context = ray.train.get_context()
    rank = context.get_world_rank()
    torch.manual_seed(7)  # the same initial weights on every worker
    model = ray.train.torch.prepare_model(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    optimizer = torch.optim.Adam(model.parameters(), lr=config["learning_rate"])
    start = 0
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is not None:  # a restart: carry on from the last epoch saved on igfs
        with checkpoint.as_directory() as directory:
            state = torch.load(os.path.join(directory, "state.pt"))
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["epoch"] + 1
        print(f"worker {rank}: resuming at epoch {start} from {checkpoint.path}", flush=True)
    shard = ray.train.get_dataset_shard("train")
    loss_of = nn.CrossEntropyLoss(reduction="none")
    for epoch in range(start, config["epochs"]):
        die_once(config["fail_once"], rank, epoch)
        rows, total_loss = 0, 0.0
        for batch in shard.iter_torch_batches(batch_size=config["batch_size"], drop_last=False):
            # Every rank must take the same number of steps: DDP averages the gradients across ranks
            # at each one, and a rank that skipped a batch (say, one of only held-out rows) left the
            # other waiting in backward() forever. Held-out rows weigh zero instead.
            train = (batch["key"] % 5 != 0).float()  # every fifth key is held out
            per_row = loss_of(model(batch["pixels"].float() / 255.0), batch["label"].long())
            loss = (per_row * train).sum() / train.sum().clamp(min=1.0)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            rows += int(train.sum())
            total_loss += float(loss.detach()) * int(train.sum())
        metrics = {"epoch": epoch, "rows": rows, "loss": total_loss / max(rows, 1), "started_at_epoch": start}
        with tempfile.TemporaryDirectory() as directory:
            saved = None
            if rank == 0:
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
                torch.save(state, os.path.join(directory, "state.pt"))
                saved = ray.train.Checkpoint.from_directory(directory)
            ray.train.report(metrics, checkpoint=saved)


def tensorflow_loop(config: dict) -> None:
    """One Ray Train worker under MultiWorkerMirroredStrategy: its shard through IgniteDataset."""
    import ray.train
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    strategy = tf.distribute.MultiWorkerMirroredStrategy()  # TF_CONFIG comes from Ray
    hosts, cache, global_batch = config["hosts"], config["cache"], config["batch_size"] * config["workers"]

    def pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        shard = IgniteDataset.for_input_context(
            context, cache, hosts=hosts, batch_size=512, columns=["pixels", "label"]
        )
        return (
            shard.unbatch()
            .filter(lambda e: tf.not_equal(e["key"] % 5, 0))  # every fifth key is held out
            .map(lambda e: (tf.cast(e["val"]["pixels"], tf.float32) / 255.0, e["val"]["label"]))
            .repeat()  # shards differ in size: every worker takes the same number of steps
            .batch(context.get_per_replica_batch_size(global_batch), drop_remainder=True)
        )

    tf.keras.utils.set_random_seed(7)  # the same initial weights on every worker
    with strategy.scope():
        model = tf.keras.Sequential(
            [tf.keras.Input(shape=(64,)), tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)]
        )
        optimizer = tf.keras.optimizers.Adam(config["learning_rate"])
        optimizer.build(model.trainable_variables)
    loss_of = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")
    batches = iter(strategy.distribute_datasets_from_function(pipeline))

    @tf.function
    def train_step(iterator):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(loss_of(y, model(x, training=True)), global_batch_size=global_batch)
            optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
            return loss

        return strategy.reduce("SUM", strategy.run(replica_step, args=next(iterator)), axis=None)

    rank = ray.train.get_context().get_world_rank()
    for epoch in range(config["epochs"]):
        losses = [float(train_step(batches)) for _ in range(config["steps_per_epoch"])]
        metrics = {"epoch": epoch, "loss": sum(losses) / len(losses), "started_at_epoch": 0}
        with tempfile.TemporaryDirectory() as directory:
            saved = None
            if rank == 0:  # Ray Train keeps a run's metrics with its checkpoints
                if epoch == config["epochs"] - 1:
                    accuracy, rows = held_out_accuracy(lambda x: model(x).numpy(), hosts, cache)
                    metrics.update(accuracy=accuracy, held_out=rows)
                model.save_weights(os.path.join(directory, "digits.weights.h5"))
                saved = ray.train.Checkpoint.from_directory(directory)
            ray.train.report(metrics, checkpoint=saved)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    hosts = [h for h in args.hosts.split(",") if h]
    if args.load:
        load(hosts, args.cache)
        return 0

    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig

    from ignite_fast import Client
    from ignite_fast.ray import igfs_storage, read_ignite

    ray.init(address=args.ray_address)
    # Ray Data's progress bars would bury the training's lines.
    ray.data.DataContext.get_current().enable_progress_bars = False
    # Checkpoints on igfs: Ray Train takes a pyarrow file system, igfs is one through fsspec.
    storage_path, storage_filesystem = igfs_storage(args.storage or f"igfs://{hosts[0]}/examples/ray-results")
    run = RunConfig(
        name=args.name or f"digits-{args.framework}",
        storage_path=storage_path,
        storage_filesystem=storage_filesystem,
        failure_config=FailureConfig(max_failures=1),
        checkpoint_config=CheckpointConfig(num_to_keep=2),
    )
    config = {
        "hosts": hosts,
        "cache": args.cache,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "workers": args.workers,
        "fail_once": args.fail_once,
    }
    # An epoch is one pass over the training rows (four fifths of the cache) by all workers together.
    rows = sum(len(batch["key"]) for batch in Client(hosts).scan(args.cache, columns=["label"]))
    config["steps_per_epoch"] = max(1, rows * 4 // 5 // (args.batch_size * args.workers))
    scaling = ScalingConfig(num_workers=args.workers, use_gpu=False)
    started = time.monotonic()
    if args.framework == "torch":
        from ray.train.torch import TorchTrainer

        # Read tasks wait on the network most of the time: a quarter of a CPU each, so that a restarted
        # worker group and the reads of its new attempt never wait on each other for CPUs.
        digits = read_ignite(args.cache, hosts=hosts, columns=["pixels", "label"], num_cpus=0.25)
        trainer = TorchTrainer(
            torch_loop, train_loop_config=config, scaling_config=scaling, run_config=run, datasets={"train": digits}
        )
    else:
        from ray.train.tensorflow import TensorflowTrainer

        trainer = TensorflowTrainer(tensorflow_loop, train_loop_config=config, scaling_config=scaling, run_config=run)
    result = trainer.fit()
    seconds = time.monotonic() - started

    summary = {
        "framework": args.framework,
        "accuracy": result.metrics.get("accuracy"),
        "held_out": result.metrics.get("held_out"),
        "epochs": result.metrics["epoch"] + 1,
        "started_at_epoch": result.metrics["started_at_epoch"],
        "loss": result.metrics["loss"],
        "checkpoint": None if result.checkpoint is None else result.checkpoint.path,
        "seconds": round(seconds, 1),
    }
    if args.framework == "torch" and result.checkpoint is not None:
        import torch
        from torch import nn

        with result.checkpoint.as_directory() as directory:
            state = torch.load(os.path.join(directory, "state.pt"))
        model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
        # prepare_model wrapped it in DistributedDataParallel: its names start with "module."
        model.load_state_dict({k.removeprefix("module."): v for k, v in state["model"].items()})
        with torch.no_grad():
            accuracy, rows = held_out_accuracy(lambda x: model(torch.from_numpy(x)).numpy(), hosts, args.cache)
        summary.update(accuracy=accuracy, held_out=rows)
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
