"""The main job, end to end on real parts (``make demo`` runs it):

1. start a local Apache Ignite node;
2. load an MNIST-shaped cache of 70,000 binary objects ``{pixels: byte[784], label: int}``: the
   1,797 real handwritten digits bundled with scikit-learn (8x8, upscaled to 28x28), then shifted
   and re-inked copies of the real training digits (every fifth real digit is held out and never
   copied), written by ``Client.put_batches``;
3. train a small Keras classifier from ``IgniteDataset``, with its checkpoints on ``igfs://``
   (files kept in the same cluster), and save the trained model there too;
4. reload the model from ``igfs://``, score the held-out real digits read from the cache, write the
   predictions back into a cache (key -> predicted label), print the accuracy computed from that
   cache and draw a PNG of held-out digits read back from Ignite with their predicted labels;
5. read the whole cache with ignite_fast's numpy iterator, with its batched tf.data adaptor and
   with pyignite 0.6.1 (the thin client Apache Ignite publishes for Python): rows/s and MB/s side
   by side, best of three passes each;
6. stop the node.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# TensorFlow reads these once, when it loads: set them before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # no C++ INFO/WARNING lines from TensorFlow's own logger

HOST = "127.0.0.1"
CACHE_ROWS = 70_000  # MNIST's size (60,000 training and 10,000 test images)
SIDE = 28  # MNIST's images are 28x28, the digit centred in a 20x20 box
HELD_OUT_EVERY = 5  # every fifth real digit is held out for scoring
BATCH = 128
MODEL_URL = "igfs:///demo/models/digits.keras"
CHECKPOINTS_URL = "igfs:///demo/checkpoints"


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def info(message: str) -> None:
    print(f"    {message}", flush=True)


# --- TensorFlow, without its start-up noise --------------------------------------------------

# What TensorFlow's native libraries write to stderr while they load and look for devices, on
# every CPU-only machine. Its libraries log through absl before anyone initialises absl's logging,
# so TF_CPP_MIN_LOG_LEVEL does not reach these lines; they are dropped, anything else is passed on.
_TF_STARTUP_NOISE = re.compile(
    r"All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|\] oneDNN custom operations are on"
    r"|\] Could not find cuda drivers on your machine"
    r"|\] failed call to cuInit"
    r"|\] This TensorFlow binary is optimized to use available CPU instructions"
    r"|^To enable the following instructions: .* rebuild TensorFlow"
)


@contextmanager
def _native_stderr_without(noise: re.Pattern[str]) -> Iterator[None]:
    """Sends file descriptor 2 (where native libraries write) to a temporary file for the block,
    then writes back every line that ``noise`` does not match; all of them if the block fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            sys.stderr.write("".join(line for line in lines if failed or not noise.search(line)))
            sys.stderr.flush()


@functools.cache
def tensorflow() -> Any:
    """TensorFlow, imported and its devices listed (when it probes for CUDA) without the noise."""
    with _native_stderr_without(_TF_STARTUP_NOISE):
        import tensorflow as tf

        tf.config.list_physical_devices()
    return tf


# --- the cache ---------------------------------------------------------------------------------


def linear_resize_matrix(size: int, of: int) -> Any:
    """The ``size x of`` matrix of linear interpolation from ``of`` samples to ``size`` (pixel
    centres aligned): ``m @ image @ m.T`` resizes a square image bilinearly."""
    import numpy as np

    at = np.clip((np.arange(size) + 0.5) * of / size - 0.5, 0, of - 1)
    low = np.floor(at).astype(int)
    high = np.minimum(low + 1, of - 1)
    matrix = np.zeros((size, of), dtype=np.float32)
    np.add.at(matrix, (np.arange(size), low), 1 - (at - low))
    np.add.at(matrix, (np.arange(size), high), at - low)
    return matrix


def mnist_shaped_digits(rows: int, seed: int = 7) -> tuple[Any, Any, int]:
    """``(pixels uint8 [rows, 784], labels int32 [rows], real)``: the first ``real`` rows are
    scikit-learn's real digits upscaled to 28x28 (each in a centred 20x20 box, as MNIST's); the
    others are copies of the real training digits (keys not held out), each shifted by up to three
    pixels and re-inked (contrast 0.7-1.3, a little noise), so they are distinct images of real
    handwriting and the held-out digits are never among them."""
    import numpy as np
    from sklearn.datasets import load_digits

    digits = load_digits()
    real = len(digits.images)
    resize = linear_resize_matrix(20, digits.images.shape[1])
    box = resize @ (digits.images.astype(np.float32) / 16) @ resize.T  # 8x8 -> 20x20, bilinear
    upscaled = np.zeros((real, SIDE, SIDE), dtype=np.float32)
    margin = (SIDE - box.shape[1]) // 2
    upscaled[:, margin : margin + box.shape[1], margin : margin + box.shape[2]] = box

    rng = np.random.default_rng(seed)
    trainable = np.flatnonzero(np.arange(real) % HELD_OUT_EVERY != 0)
    source = rng.choice(trainable, rows - real)
    copies = upscaled[source] * rng.uniform(0.7, 1.3, (len(source), 1, 1)).astype(np.float32)
    shifts = rng.integers(-3, 4, (len(source), 2))
    for dy in range(-3, 4):  # roll each group of equal shifts at once (the margin keeps the ink inside)
        for dx in range(-3, 4):
            group = (shifts[:, 0] == dy) & (shifts[:, 1] == dx)
            copies[group] = np.roll(copies[group], (dy, dx), axis=(1, 2))
    copies += rng.normal(0.0, 0.03, copies.shape).astype(np.float32)

    images = np.concatenate([upscaled, copies])
    pixels = np.clip(np.rint(images * 255), 0, 255).astype(np.uint8).reshape(rows, SIDE * SIDE)
    labels = np.concatenate([digits.target, digits.target[source]]).astype(np.int32)
    return pixels, labels, real


def load_digits_into(port: int, cache_name: str, rows: int) -> int:
    """Writes the digits with ignite_fast's bulk writer; returns how many of them are real."""
    import numpy as np

    from ignite_fast.client import Client

    pixels, labels, real = mnist_shaped_digits(rows)
    written = Client(HOST, port).put_batches(
        cache_name,
        {"key": np.arange(rows, dtype=np.int64), "val": {"pixels": pixels, "label": labels}},
        type_name="Digit",
    )
    info(f"{written:,} objects written ({written * (8 + pixels.shape[1] + 4) / 1e6:.0f} MB of keys and values)")
    return real


def is_held_out(key: Any, real: int) -> Any:
    """The rows kept out of training: every fifth of the real digits (numpy or tensor keys)."""
    return (key < real) & (key % HELD_OUT_EVERY == 0)


# --- training and scoring -----------------------------------------------------------------------


def train(port: int, cache_name: str, rows: int, real: int, epochs: int) -> float:
    import numpy as np

    tf = tensorflow()

    from ignite_fast.tf import IgniteDataset, register_igfs_filesystem

    register_igfs_filesystem()  # igfs:// for tf.io.gfile, checkpoints and SavedModels

    tf.keras.utils.set_random_seed(7)
    # The drop-in, element by element, exactly as with tf.contrib.ignite.
    dataset = IgniteDataset(cache_name=cache_name, port=port)
    info(f"element spec: {dataset.element_spec}")

    def features(element: dict[str, Any]) -> tuple[Any, Any]:
        x = tf.cast(element["val"]["pixels"], tf.float32) / 255.0
        return tf.reshape(x, [SIDE * SIDE]), element["val"]["label"]

    held_out = int(is_held_out(np.arange(rows), real).sum())
    # The generator's length is unknown to Keras: repeat the rows and say how many steps an epoch
    # has, so that Keras never runs into the end of the data.
    train_ds = (
        dataset.filter(lambda e: tf.logical_not(is_held_out(e["key"], real)))
        .map(features)
        .shuffle(4096, seed=7)
        .repeat()
        .batch(BATCH)
        .prefetch(2)
    )
    test_ds = dataset.filter(lambda e: is_held_out(e["key"], real)).map(features).batch(held_out)

    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(SIDE * SIDE,)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=tf.keras.optimizers.Adam(0.002), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    epoch = tf.Variable(0, dtype=tf.int64)
    checkpoints = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=model, epoch=epoch), CHECKPOINTS_URL, max_to_keep=3
    )
    checkpoints.restore_or_initialize()  # a rerun on a persistent cluster resumes here

    Callback: Any = tf.keras.callbacks.Callback

    class CheckpointToIgfs(Callback):  # type: ignore[misc]  # Keras has no type hints: Callback is Any
        def on_epoch_end(self, index: int, logs: dict[str, Any] | None = None) -> None:
            epoch.assign_add(1)
            checkpoints.save(checkpoint_number=int(epoch.numpy()))

    # shuffle=False: the dataset shuffles itself (Keras warns that it would ignore its own shuffle).
    model.fit(
        train_ds,
        epochs=epochs,
        steps_per_epoch=(rows - held_out) // BATCH,
        shuffle=False,
        verbose=2,
        callbacks=[CheckpointToIgfs()],
    )
    _, accuracy = model.evaluate(test_ds, steps=1, verbose=0)
    model.save(MODEL_URL)
    info(f"checkpoints: {[c.rsplit('/', 1)[1] for c in checkpoints.checkpoints]} in {CHECKPOINTS_URL}")
    info(f"model saved to {MODEL_URL} ({tf.io.gfile.stat(MODEL_URL).length:,} bytes)")
    return float(accuracy)


def score_from_igfs(port: int, cache_name: str, predictions_cache: str, real: int, picture: Path) -> float:
    """Loads the model back from igfs, scores the held-out digits read from the cache, writes the
    predictions into another cache, computes the accuracy from what that cache holds and draws
    held-out digits with the predictions read back from it."""
    import numpy as np

    tf = tensorflow()

    from ignite_fast import igfs
    from ignite_fast.client import Client
    from ignite_fast.tf import register_igfs_filesystem

    register_igfs_filesystem()  # igfs:// for tf.io.gfile, checkpoints and SavedModels

    client = Client(HOST, port)
    model = tf.keras.models.load_model(MODEL_URL)
    rows = list(client.scan(cache_name, batch_size=8192))
    keys = np.concatenate([b["key"] for b in rows])
    held_out = is_held_out(keys, real)
    keys = keys[held_out]
    pixels = np.concatenate([b["val"]["pixels"] for b in rows])[held_out]
    labels = np.concatenate([b["val"]["label"] for b in rows])[held_out]
    predicted = model.predict(pixels.astype(np.float32) / 255.0, verbose=0).argmax(axis=1)
    client.put_batches(predictions_cache, {"key": keys, "val": predicted.astype(np.int32)})

    stored: dict[int, int] = {}
    for batch in client.scan(predictions_cache):
        stored.update(zip(batch["key"].tolist(), batch["val"].tolist()))
    truth = dict(zip(keys.tolist(), labels.tolist()))
    correct = sum(truth[k] == v for k, v in stored.items())
    info(f"{len(stored)} predictions in cache '{predictions_cache}' (key -> predicted label)")

    # Four rows of ten: column d shows the first four held-out digits (by key) whose true label is d.
    by_key = np.argsort(keys)
    sample = np.stack([by_key[labels[by_key] == digit][:4] for digit in range(10)], axis=1).ravel()
    draw_predictions(
        picture,
        pixels[sample],
        [stored[k] for k in keys[sample].tolist()],
        labels[sample].tolist(),
        correct / len(stored),
    )
    info(f"picture of held-out digits with their predicted labels: {picture}")

    fs = igfs.IgniteFileSystem(HOST, port)
    info("igfs:///demo now holds:")
    for stat in fs.ls("/demo", recursive=True, detail=True):
        info(f"  {stat.path}{'/' if stat.is_dir else f'  ({stat.size:,} bytes)'}")
    return float(correct) / len(stored)


def draw_predictions(path: Path, pixels: Any, predicted: list[int], truth: list[int], accuracy: float) -> None:
    """A grid of digits (rows of ten), each titled with its predicted label: black when right,
    red with the true label when wrong. Drawn with matplotlib's Agg canvas (no display needed)."""
    from matplotlib.figure import Figure

    columns = 10
    grid_rows = -(-len(pixels) // columns)
    figure = Figure(figsize=(columns * 1.1, grid_rows * 1.3 + 0.6), layout="constrained")
    figure.suptitle(f"Held-out digits read back from Ignite, predicted labels (accuracy {accuracy:.1%})")
    for i, axes in enumerate(figure.subplots(grid_rows, columns, squeeze=False).flat):
        axes.set_axis_off()
        if i >= len(pixels):
            continue
        axes.imshow(pixels[i].reshape(SIDE, SIDE), cmap="gray_r", vmin=0, vmax=255)
        right = predicted[i] == truth[i]
        axes.set_title(
            str(predicted[i]) if right else f"{predicted[i]} (is {truth[i]})", color="black" if right else "red"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)


# --- read throughput ----------------------------------------------------------------------------

PASSES = 3
# pyignite's rate on this cache hardly moves with its page size (256 to 4096 entries tried: within
# the machine's noise); it spends its time making a Python object per row, not waiting for pages.
PYIGNITE_PAGE_SIZE = 1024


def best_seconds(one_pass: Callable[[], int], rows: int, warm_up: int) -> float:
    """The fastest of PASSES full reads after ``warm_up`` untimed ones, each checked to have read
    every row."""
    best = float("inf")
    for timed in [False] * warm_up + [True] * PASSES:
        started = time.perf_counter()
        read = one_pass()
        if timed:
            best = min(best, time.perf_counter() - started)
        if read != rows:
            raise RuntimeError(f"a pass read {read:,} rows of {rows:,}")
    return best


def measure_reads(port: int, cache_name: str, rows: int) -> None:
    tf = tensorflow()
    from pyignite import Client as PyigniteClient  # type: ignore[import-untyped]

    from ignite_fast.client import Client
    from ignite_fast.tf import IgniteDataset

    client = Client(HOST, port)

    def numpy_pass() -> int:
        return sum(len(batch["key"]) for batch in client.scan(cache_name, batch_size=4096))

    batched = IgniteDataset(cache_name, port=port, batch_size=4096)

    def tf_pass() -> int:
        return sum(int(tf.shape(batch["key"])[0]) for batch in batched)

    peer = PyigniteClient()
    peer.connect(HOST, port)

    def pyignite_pass() -> int:
        read = 0
        with peer.get_cache(cache_name).scan(page_size=PYIGNITE_PAGE_SIZE) as cursor:
            for _key, _value in cursor:
                read += 1
        return read

    # (name, one pass, untimed passes first): the node's JIT settles after a few passes at a new
    # page size (training read 16 MB pages); the tf.data adaptor reads the numpy iterator's pages;
    # pyignite's passes take seconds each, spent making Python objects, so its best of three is warm.
    readers = [
        ("ignite_fast numpy batches (4096 rows)", numpy_pass, 3),
        ("IgniteDataset(batch_size=4096)", tf_pass, 1),
        (f"pyignite 0.6.1 scan (page_size={PYIGNITE_PAGE_SIZE})", pyignite_pass, 0),
    ]
    # With TensorFlow loaded a full garbage collection walks some 400,000 objects (about 150 ms, as
    # long as a pass here): collect now and freeze what is alive, so no pass pays for older garbage.
    gc.collect()
    gc.freeze()
    seconds = {name: best_seconds(one_pass, rows, warm_up) for name, one_pass, warm_up in readers}
    peer.close()

    row_bytes = 8 + SIDE * SIDE + 4
    pyignite_seconds = seconds[readers[-1][0]]
    info(f"{'reader':<40} {'rows/s':>12} {'MB/s':>9} {'vs pyignite':>12}")
    for name, best in seconds.items():
        info(
            f"{name:<40} {rows / best:>12,.0f} {rows * row_bytes / best / 1e6:>9,.1f} {pyignite_seconds / best:>11.1f}x"
        )
    info(f"MB/s counts each row's key, pixels and label ({row_bytes} bytes); ignite_fast gives them as numpy")
    info("arrays and tensors, pyignite as one Python object per row")


# --- the run ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    from ignite_fast._node_process import home_dir
    from ignite_fast.server import IgniteCluster, ServerError

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=10800)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=CACHE_ROWS, help="rows in the cache (at least 1,797)")
    parser.add_argument("--cache", default="digits")
    parser.add_argument("--picture", type=Path, default=home_dir() / "demo" / "predicted-digits.png")
    args = parser.parse_args(argv)
    os.environ["IGFS_HOST"], os.environ["IGFS_PORT"] = HOST, str(args.port)

    demo_started = time.perf_counter()
    cluster = IgniteCluster(nodes=1, port=args.port, name="demo", region_mb=512, heap_mb=1024)
    step(f"starting a local Apache Ignite {cluster.version} node on {HOST}:{args.port}")
    started = time.perf_counter()
    try:
        cluster.start(quiet=False)
    except ServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    info(f"up in {time.perf_counter() - started:.1f}s (log: {cluster.log_path(0)})")
    try:
        step(f"loading {args.rows:,} MNIST-shaped digits into cache '{args.cache}' as {{pixels: byte[], label: int}}")
        real = load_digits_into(args.port, args.cache, args.rows)
        info(f"keys 0-{real - 1}: scikit-learn's {real:,} real digits, upscaled from 8x8; the rest: shifted copies")

        step("training a Keras classifier from IgniteDataset (every fifth real digit held out), checkpoints on igfs://")
        accuracy = train(args.port, args.cache, args.rows, real, args.epochs)

        step("reloading the model from igfs://, scoring the held-out digits, writing predictions to a cache")
        stored_accuracy = score_from_igfs(args.port, args.cache, f"{args.cache}_predictions", real, args.picture)
        info(f"accuracy computed from the predictions cache: {stored_accuracy:.3f}")

        step(f"reading all {args.rows:,} rows three ways, best of {PASSES} passes each after warming up")
        measure_reads(args.port, args.cache, args.rows)

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
    info(f"the demo took {time.perf_counter() - demo_started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
