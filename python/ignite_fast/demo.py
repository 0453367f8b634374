"""The main job, end to end on real parts (``make demo`` runs it):

1. start a local Apache Ignite node;
2. load scikit-learn's bundled digits (1,797 8x8 images) into a cache as binary objects
   ``{pixels: byte[64], label: int}``;
3. train a small Keras classifier from ``IgniteDataset`` and print its accuracy on held-out rows
   (every fifth key);
4. print the read throughput of the numpy iterator and of the tf.data adaptor;
5. stop the node.
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

    from ignite_fast import Client

    digits = load_digits()
    pixels = np.clip(np.rint(digits.images.reshape(len(digits.images), 64) * 255 / 16), 0, 255).astype(np.uint8)
    labels = digits.target.astype(np.int32)
    return Client("127.0.0.1", port).put_batches(
        cache_name, {"key": np.arange(len(pixels), dtype=np.int64), "val": {"pixels": pixels, "label": labels}},
        type_name="Digit")


def train(port: int, cache_name: str, epochs: int) -> float:
    import tensorflow as tf

    from ignite_fast import IgniteDataset

    tf.keras.utils.set_random_seed(7)
    # The drop-in, element by element, exactly as with tf.contrib.ignite.
    dataset = IgniteDataset(cache_name=cache_name, port=port, page_size=512)
    print(f"    element spec: {dataset.element_spec}", flush=True)

    def features(element):
        x = tf.cast(element["val"]["pixels"], tf.float32) / 255.0
        return tf.reshape(x, [64]), element["val"]["label"]

    held_out = lambda e: tf.equal(e["key"] % 5, 0)  # noqa: E731
    train_ds = dataset.filter(lambda e: tf.logical_not(held_out(e))).map(features).shuffle(2048, seed=7).batch(32).prefetch(2)
    test_ds = dataset.filter(held_out).map(features).batch(256)

    model = tf.keras.Sequential([
        tf.keras.Input(shape=(64,)),
        tf.keras.layers.Dense(128, activation="relu"),
        tf.keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_ds, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(test_ds, verbose=0)
    return float(accuracy)


def measure_reads(port: int, cache_name: str, seconds: float = 2.0) -> None:
    import tensorflow as tf

    from ignite_fast import Client, IgniteDataset

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
        extra = f", {nbytes / elapsed / 1e6:.1f} MB/s of decoded columns" if nbytes else \
            " (this cache is one batch per pass, so tf.data's per-pass iterator set-up dominates)"
        print(f"    {name}: {rows / elapsed:,.0f} rows/s over {passes} full scans{extra}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=10800)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--cache", default="digits")
    args = parser.parse_args(argv)

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

        step("training a Keras classifier from IgniteDataset (every fifth key held out)")
        accuracy = train(args.port, args.cache, args.epochs)

        step("measuring read throughput")
        measure_reads(args.port, args.cache)

        step(f"held-out accuracy: {accuracy:.3f}")
        if accuracy < 0.85:
            print("accuracy is lower than this model reaches on digits; something is wrong", file=sys.stderr)
            return 1
    finally:
        step("stopping the node")
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
