"""Trains the digits classifier on several TensorFlow workers with MultiWorkerMirroredStrategy,
started by torchrun (one launcher for PyTorch and TensorFlow; no launcher of ours).

The workers' ``TF_CONFIG`` comes from torchrun's rendezvous
(``ignite_fast.distributed.tf_config_from_torchrun``). Each worker reads only its own partitions
of the ``digits`` cache: the plan the workers agree on (``for_input_context(..., plan="agree")``:
a plan record in Ignite, balanced by entries, each worker's home node first). Checkpoints go to
``igfs://`` in the same cluster, and a restarted job resumes from the latest checkpoint: the step
counter carries on where it was. A topology change mid-training raises TopologyChangedError: the
worker exits with status 200 and torchrun restarts the job.

    ignite-fast server start --nodes 2                                   # or use your cluster
    python examples/train_digits_multiworker.py --load --hosts 127.0.0.1:10800
    TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 torchrun --standalone --nproc-per-node=2 --max-restarts=3 \
        examples/train_digits_multiworker.py --hosts 127.0.0.1:10800,127.0.0.1:10801 --steps 600

Every fifth key is held out; at the end the first worker prints the held-out accuracy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", default="127.0.0.1:10800", help="Ignite nodes, host:port,... (give them all)")
    parser.add_argument("--cache", default="digits")
    parser.add_argument("--load", action="store_true", help="load scikit-learn's digits into the cache and exit")
    parser.add_argument("--steps", type=int, default=600, help="training steps in all (not per restart)")
    parser.add_argument("--global-batch", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.003)
    parser.add_argument("--checkpoint-every", type=int, default=50)
    parser.add_argument(
        "--checkpoint-dir", default=None, help="default igfs://<first host>/examples/digits-multiworker/checkpoints"
    )
    parser.add_argument(
        "--keys-out",
        default=None,
        help="a directory: each worker first reads its shard once and saves the keys it got there",
    )
    return parser.parse_args(argv)


def load(hosts: list[str], cache: str) -> None:
    import numpy as np
    from sklearn.datasets import load_digits

    from ignite_fast import Client

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images.reshape(-1, 64) * 255 / 16), 0, 255).astype(np.uint8)
    rows = Client(hosts).put_batches(
        cache,
        {
            "key": np.arange(len(pixels), dtype=np.int64),
            "val": {"pixels": pixels, "label": digits.target.astype(np.int32)},
        },
        type_name="Digit",
    )
    print(f"loaded {rows} digits into {cache!r}")


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    hosts = [h for h in args.hosts.split(",") if h]
    if args.load:
        load(hosts, args.cache)
        return 0

    from ignite_fast.distributed import exit_on_topology_change, tf_config_from_torchrun, worker_context

    if "TF_CONFIG" not in os.environ and "TORCHELASTIC_RUN_ID" in os.environ:
        tf_config_from_torchrun()  # before the strategy is made
    with exit_on_topology_change():  # TopologyChangedError: exit 200, and torchrun restarts the job
        return train(args, hosts, worker_context().restarts)


def train(args: argparse.Namespace, hosts: list[str], attempt: int) -> int:
    import numpy as np
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()  # igfs:// for tf.io.gfile, checkpoints and SavedModels
    from ignite_fast import Client, IgniteDataset

    checkpoint_dir = args.checkpoint_dir or f"igfs://{hosts[0]}/examples/digits-multiworker/checkpoints"
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    workers = strategy.num_replicas_in_sync  # one replica per worker on CPUs
    index = strategy.cluster_resolver.task_id or 0
    is_chief = index == 0

    def say(message: str) -> None:
        # One write per line, so that two workers' lines under one torchrun agent never run together.
        sys.stdout.write(f"[worker {index}] {message}\n")
        sys.stdout.flush()

    say(f"pid {os.getpid()}, attempt {attempt}")

    def shard(context: tf.distribute.InputContext) -> tf.data.Dataset:
        # This worker's partitions only, from the plan every worker agrees on.
        return IgniteDataset.for_input_context(
            context, args.cache, plan="agree", hosts=hosts, batch_size=512, columns=["pixels", "label"]
        )

    if args.keys_out:  # one plain pass over this worker's shard, to show what it reads
        context = tf.distribute.InputContext(
            num_input_pipelines=workers, input_pipeline_id=index, num_replicas_in_sync=workers
        )
        keys = np.concatenate([b["key"] for b in shard(context).as_numpy_iterator()])
        os.makedirs(args.keys_out, exist_ok=True)
        np.save(os.path.join(args.keys_out, f"worker-{index}-attempt-{attempt}.npy"), keys)
        say(f"read {len(keys)} keys from my shard")

    def training_pipeline(context: tf.distribute.InputContext) -> tf.data.Dataset:
        def example(element):
            return tf.cast(element["val"]["pixels"], tf.float32) / 255.0, element["val"]["label"]

        return (
            shard(context)
            .unbatch()
            .filter(lambda e: tf.not_equal(e["key"] % 5, 0))  # every fifth key is held out
            .map(example)
            .shuffle(2048, seed=index)
            .repeat()
            .batch(context.get_per_replica_batch_size(args.global_batch), drop_remainder=True)
            .prefetch(2)
        )

    batches = iter(strategy.distribute_datasets_from_function(training_pipeline))

    tf.keras.utils.set_random_seed(7)  # the same initial weights on every worker
    with strategy.scope():
        model = tf.keras.Sequential(
            [tf.keras.Input(shape=(64,)), tf.keras.layers.Dense(128, activation="relu"), tf.keras.layers.Dense(10)]
        )
        optimizer = tf.keras.optimizers.Adam(args.learning_rate)
        optimizer.build(model.trainable_variables)
        step = tf.Variable(0, dtype=tf.int64, trainable=False)
    checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer, step=step)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    if latest:
        checkpoint.restore(latest).assert_existing_objects_matched()
        say(f"resuming from {latest} at step {int(step.numpy())}")
    else:
        say("starting at step 0")
    # Every worker saves (the strategy wants them all in it); only the chief's copy is kept.
    write_dir = checkpoint_dir if is_chief else f"{checkpoint_dir}-worker-{index}-scratch"
    manager = tf.train.CheckpointManager(checkpoint, write_dir, max_to_keep=3)
    loss_of = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

    @tf.function
    def train_step(iterator):
        def replica_step(x, y):
            with tf.GradientTape() as tape:
                loss = tf.nn.compute_average_loss(
                    loss_of(y, model(x, training=True)), global_batch_size=args.global_batch
                )
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        loss = strategy.reduce("SUM", strategy.run(replica_step, args=next(iterator)), axis=None)
        step.assign_add(1)
        return loss

    started = time.monotonic()
    while int(step.numpy()) < args.steps:
        loss = train_step(batches)
        current = int(step.numpy())
        if current % args.checkpoint_every == 0 or current == args.steps:
            manager.save(checkpoint_number=current)
            if not is_chief:
                tf.io.gfile.rmtree(write_dir)
            say(f"step {current} loss {float(loss):.4f} checkpoint saved")
    say(f"finished at step {int(step.numpy())} in {time.monotonic() - started:.1f} s")

    if is_chief:
        correct = total = 0
        for batch in Client(hosts).scan(args.cache, columns=["pixels", "label"]):
            held_out = batch["key"] % 5 == 0
            logits = model(batch["val"]["pixels"][held_out].astype(np.float32) / 255.0)
            correct += int(np.sum(np.argmax(logits, axis=1) == batch["val"]["label"][held_out]))
            total += int(np.sum(held_out))
        say(f"held-out accuracy {correct / total:.4f} on {total} rows")
    # A last collective keeps every worker in the job until the chief is done with it, so that
    # none leaves early and is reported as lost.
    tf.function(lambda: strategy.reduce("SUM", strategy.run(lambda: tf.ones([])), axis=None))()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
