"""The main job, end to end on real parts (``make demo`` runs it):

1. start a local Apache Ignite node;
2. load scikit-learn's bundled digits (1,797 8x8 images) into a cache as binary objects
   ``{pixels: byte[64], label: int}``;
3. train a small Keras classifier from ``IgniteDataset``, with its checkpoints on ``igfs://``
   (files kept in the same cluster), and save the trained model there too;
4. reload the model from ``igfs://``, score the held-out rows (every fifth key) read from the
   cache, write the predictions back into a cache (key -> predicted label) and print the accuracy
   computed from that cache;
5. print the read throughput of the numpy iterator and of the tf.data adaptor;
6. stop the node.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def load_digits_into(port: int, cache_name: str) -> int:
    """Writes the digits with ignite_fast's bulk writer as binary objects {pixels: byte[64], label: int}."""
    import numpy as np
    from sklearn.datasets import load_digits

    from ignite_fast.client import Client

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images.reshape(len(digits.images), 64) * 255 / 16), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int32)
    return Client("127.0.0.1", port).put_batches(
        cache_name,
        {"key": np.arange(len(pixels), dtype=np.int64), "val": {"pixels": pixels, "label": labels}},
        type_name="Digit",
    )


MODEL_URL = "igfs:///demo/models/digits.keras"
CHECKPOINTS_URL = "igfs:///demo/checkpoints"


def train(port: int, cache_name: str, epochs: int) -> float:
    import tensorflow as tf

    from ignite_fast.tf import IgniteDataset, register_igfs_filesystem

    register_igfs_filesystem()  # igfs:// for tf.io.gfile, checkpoints and SavedModels

    tf.keras.utils.set_random_seed(7)
    # The drop-in, element by element, exactly as with tf.contrib.ignite.
    dataset = IgniteDataset(cache_name=cache_name, port=port, page_size=512)
    print(f"    element spec: {dataset.element_spec}", flush=True)

    def features(element):
        x = tf.cast(element["val"]["pixels"], tf.float32) / 255.0
        return tf.reshape(x, [64]), element["val"]["label"]

    held_out = lambda e: tf.equal(e["key"] % 5, 0)  # noqa: E731
    train_ds = (
        dataset.filter(lambda e: tf.logical_not(held_out(e))).map(features).shuffle(2048, seed=7).batch(32).prefetch(2)
    )
    test_ds = dataset.filter(held_out).map(features).batch(256)

    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(64,)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    epoch = tf.Variable(0, dtype=tf.int64)
    checkpoints = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, epoch=epoch), CHECKPOINTS_URL, max_to_keep=3
    )
    checkpoints.restore_or_initialize()  # a rerun on a persistent cluster resumes here

    class CheckpointToIgfs(tf.keras.callbacks.Callback):
        def on_epoch_end(self, index, logs=None):
            epoch.assign_add(1)
            checkpoints.save(checkpoint_number=int(epoch.numpy()))

    model.fit(train_ds, epochs=epochs, verbose=2, callbacks=[CheckpointToIgfs()])
    _, accuracy = model.evaluate(test_ds, verbose=0)
    model.save(MODEL_URL)
    print(f"    checkpoints: {[c.rsplit('/', 1)[1] for c in checkpoints.checkpoints]} in {CHECKPOINTS_URL}", flush=True)
    print(f"    model saved to {MODEL_URL} ({tf.io.gfile.stat(MODEL_URL).length:,} bytes)", flush=True)
    return float(accuracy)


def score_from_igfs(port: int, cache_name: str, predictions_cache: str) -> float:
    """Loads the model back from igfs, scores the held-out rows read from the cache, writes the
    predictions into another cache and computes the accuracy from what that cache holds."""
    import numpy as np
    import tensorflow as tf

    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()  # igfs:// for tf.io.gfile, checkpoints and SavedModels
    from ignite_fast import igfs
    from ignite_fast.client import Client

    client = Client("127.0.0.1", port)
    model = tf.keras.models.load_model(MODEL_URL)
    rows = [b for b in client.scan(cache_name, batch_size=4096)]
    keys = np.concatenate([b["key"] for b in rows])
    pixels = np.concatenate([b["val"]["pixels"] for b in rows])
    labels = np.concatenate([b["val"]["label"] for b in rows])
    held_out = keys % 5 == 0
    predicted = model.predict(pixels[held_out].astype(np.float32) / 255.0, verbose=0).argmax(axis=1)
    client.put_batches(predictions_cache, {"key": keys[held_out], "val": predicted.astype(np.int32)})
    stored: dict[int, int] = {}
    for batch in client.scan(predictions_cache):
        stored.update(zip(batch["key"].tolist(), batch["val"].tolist()))
    truth = dict(zip(keys.tolist(), labels.tolist()))
    correct = sum(truth[k] == v for k, v in stored.items())
    print(f"    {len(stored)} predictions in cache '{predictions_cache}' (key -> predicted label)", flush=True)
    fs = igfs.IgniteFileSystem("127.0.0.1", port)
    print("    igfs:///demo now holds:", flush=True)
    for stat in fs.ls("/demo", recursive=True, detail=True):
        print(f"      {stat.path}{'/' if stat.is_dir else f'  ({stat.size:,} bytes)'}", flush=True)
    return correct / len(stored)


def measure_reads(port: int, cache_name: str, seconds: float = 2.0) -> None:
    import tensorflow as tf

    from ignite_fast.client import Client
    from ignite_fast.tf import IgniteDataset

    client = Client("127.0.0.1", port)

    def numpy_pass():
        rows = nbytes = 0
        for batch in client.scan(cache_name, batch_size=4096):
            rows += len(batch["key"])
            nbytes += batch["val"]["pixels"].nbytes + batch["val"]["label"].nbytes + batch["key"].nbytes
        return rows, nbytes

    batched = IgniteDataset(cache_name, port=port, batch_size=4096, page_size=4096)

    def tf_pass():
        rows = 0
        for batch in batched:
            rows += int(tf.shape(batch["key"])[0])
        return rows, None

    for name, one_pass in (("numpy batches", numpy_pass), ("IgniteDataset(batch_size=4096)", tf_pass)):
        rows = passes = 0
        nbytes = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            r, b = one_pass()
            rows += r
            nbytes += b or 0
            passes += 1
        elapsed = time.perf_counter() - start
        extra = (
            f", {nbytes / elapsed / 1e6:.1f} MB/s of decoded columns"
            if nbytes
            else " (this cache is one batch per pass, so tf.data's per-pass iterator set-up dominates)"
        )
        print(f"    {name}: {rows / elapsed:,.0f} rows/s over {passes} full scans{extra}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=10800)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cache", default="digits")
    args = parser.parse_args(argv)
    os.environ["IGFS_HOST"], os.environ["IGFS_PORT"] = "127.0.0.1", str(args.port)

    from ignite_fast.server import IgniteCluster, ServerError

    cluster = IgniteCluster(nodes=1, port=args.port, name="demo", region_mb=512, heap_mb=1024)
    step(f"starting a local Apache Ignite {cluster.version} node on 127.0.0.1:{args.port}")
    started = time.perf_counter()
    try:
        cluster.start(quiet=False)
    except ServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"    up in {time.perf_counter() - started:.1f}s (log: {cluster.log_path(0)})", flush=True)
    try:
        step(f"loading scikit-learn's digits into cache '{args.cache}' as {{pixels: byte[], label: int}}")
        n = load_digits_into(args.port, args.cache)
        print(f"    {n} objects written", flush=True)

        step("training a Keras classifier from IgniteDataset (every fifth key held out), checkpoints on igfs://")
        accuracy = train(args.port, args.cache, args.epochs)

        step("reloading the model from igfs://, scoring the held-out rows, writing predictions to a cache")
        stored_accuracy = score_from_igfs(args.port, args.cache, f"{args.cache}_predictions")
        print(f"    accuracy computed from the predictions cache: {stored_accuracy:.3f}", flush=True)

        step("measuring read throughput")
        measure_reads(args.port, args.cache)

        step(f"held-out accuracy: {accuracy:.3f}")
        if abs(stored_accuracy - accuracy) > 1e-6:
            print("the reloaded model scored differently from the trained one", file=sys.stderr)
            return 1
        if accuracy < 0.85:
            print("accuracy is lower than this model reaches on digits; something is wrong", file=sys.stderr)
            return 1
    finally:
        step("stopping the node")
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
