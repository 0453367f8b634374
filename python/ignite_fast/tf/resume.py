"""How an :class:`~ignite_fast.tf.IgniteDataset` iterator resumes: its state is the scan position.

The pipeline is ``Dataset.from_tensors(0).repeat().scan(b"", step)``: ``step`` is a
``tf.py_function`` that takes the position bytes after the batches read so far (``b""`` before the
first) and returns the position after one more batch, with the batch. ``tf.train.Checkpoint`` saves
the ``scan``'s state (the position) and whatever the stages after it buffer (``unbatch``'s current
batch, a ``prefetch`` buffer), and nothing else: the open scans live in a :class:`Reader`, outside the
graph (hence ``ExternalStatePolicy.IGNORE``). The reader keeps the scans it left, by position:
sequential reading finds the scan it left at the position it is given; a restored checkpoint gives a
position no open scan is at, and a new scan opens from it.

The reader also keeps the positions after the recent batches of the iterator begun last, so that a
training loop that knows how many batches it consumed (Keras) can ask for the position after them,
though the pipeline reads ahead (:meth:`Reader.position`), and can start the next iterator from a
position (:meth:`Reader.resume_from`).
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from ignite_fast.errors import InvalidArgumentError
from ignite_fast.position import ScanPosition

#: Idle scans a reader keeps open (an iterator left mid-epoch keeps one); the oldest is closed
#: beyond this, and reopened from its position if its iterator ever asks again.
IDLE_SCANS = 16
#: Positions kept per iterator: how far the pipeline may read ahead of the batch a training loop
#: asks the position after.
KEPT_POSITIONS = 256


class Scan(Protocol):
    """What a reader reads with: a :class:`~ignite_fast.resumable.ResumableScan` as the dataset
    reads it."""

    def __next__(self) -> Any: ...

    def position(self) -> ScanPosition: ...

    def close(self) -> None: ...


#: Opens a scan: ``(arguments, position or None, epoch)``; the arguments are those the pipeline
#: passes to each step (the connection arguments that may be tensors), as Python values.
Opener = Callable[[tuple[Any, ...], ScanPosition | None, int], Scan]


class _Run:
    """One iterator's scan, and the positions after its recent batches."""

    def __init__(self, scan: Scan, start: ScanPosition | None):
        self.scan = scan
        self.start = start
        self.batches = 0
        self.positions: deque[ScanPosition] = deque(maxlen=KEPT_POSITIONS)

    def read(self) -> tuple[bytes, Any] | None:
        """The state after the next batch (the position's bytes), and the batch."""
        try:
            batch = next(self.scan)
        except StopIteration:
            return None
        position = self.scan.position()
        self.batches += 1
        self.positions.append(position)
        return position.to_bytes(), batch

    def position(self, batches: int) -> ScanPosition | None:
        if batches > self.batches:
            raise InvalidArgumentError(f"the dataset's iterator has read {self.batches} batches, not {batches}")
        if batches == 0:
            return self.start
        back = self.batches - batches
        if back >= len(self.positions):
            raise InvalidArgumentError(
                f"the position after batch {batches} is no longer kept: the iterator has read {self.batches} "
                f"batches and keeps the positions of the last {KEPT_POSITIONS}"
            )
        return self.positions[-1 - back]


class Reader:
    """The scans behind a dataset's iterators, found by the position each iterator is at."""

    def __init__(self, open_scan: Opener):
        self._open_scan = open_scan
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple[Hashable, bytes], _Run] = OrderedDict()
        self._latest: _Run | None = None
        self._start: ScanPosition | None = None
        self._epoch = 0
        # the scans left open are closed with the dataset, or when the interpreter exits
        weakref.finalize(self, _close_all, self._idle, self._lock)

    def read(self, state: bytes, args: tuple[Any, ...]) -> tuple[bytes, Any] | None:
        """The position after the next batch from ``state`` (as bytes) and that batch; None at the
        end."""
        with self._lock:
            run = self._idle.pop((args, state), None)
        if run is None:
            run = self._open(state, args)
        try:
            read = run.read()
        except BaseException:
            run.scan.close()
            raise
        if read is None:
            run.scan.close()
            return None
        state, batch = read
        with self._lock:
            # two iterators at one position (two passes over one dataset at once): one scan each
            left = self._idle.pop((args, state), None)
            self._idle[(args, state)] = run
            while len(self._idle) > IDLE_SCANS:
                _, oldest = self._idle.popitem(last=False)
                oldest.scan.close()
        if left is not None:
            left.scan.close()
        return state, batch

    def _open(self, state: bytes, args: tuple[Any, ...]) -> _Run:
        with self._lock:
            if state:  # a restored checkpoint's position (PositionError if it is not a position)
                start: ScanPosition | None = ScanPosition.from_bytes(state)
            else:  # a new iterator: from the position given to resume_from, else a new epoch
                start, self._start = self._start, None
            epoch = self._epoch if start is None else start.epoch
            self._epoch = epoch + 1
        run = _Run(self._open_scan(args, start, epoch), start)
        with self._lock:
            self._latest = run
        return run

    def position(self, batches: int | None = None) -> ScanPosition | None:
        """The position of the iterator begun last after its first ``batches`` batches (all it has
        read: None); None before it read any, from the start of an epoch."""
        with self._lock:
            run = self._latest
            if run is None:
                if batches:
                    raise InvalidArgumentError("the dataset has no iterator yet")
                return self._start
            return run.position(run.batches if batches is None else batches)

    def resume_from(self, position: ScanPosition | None) -> None:
        """The next iterator begun starts at ``position`` (None: a new epoch)."""
        with self._lock:
            self._start = position


def _close_all(idle: OrderedDict[tuple[Hashable, bytes], _Run], lock: threading.Lock) -> None:
    with lock:
        runs = list(idle.values())
        idle.clear()
    for run in runs:
        run.scan.close()


#: What each step gives besides the position: whether a batch was read, the bounds of its runs of
#: rows (``"runs"`` form, else unused) and the batch's tensors (``tf.nest.flatten`` of the batch,
#: composites expanded).
Step = Callable[[bytes, tuple[Any, ...]], tuple[bytes, np.ndarray, list[Any]] | None]


def resumable_dataset(step: Step, spec: Any, args: list[tf.Tensor], form: str, runs: Any = None) -> tf.data.Dataset:
    """The pipeline around ``step`` (given ``args`` as Python values): batches of ``spec``
    (``form="batches"``), their rows (``"elements"``), or their rows with the ragged arrays where
    ``runs`` (``spec``'s structure, bools) is True made dense ``[None]`` tensors, run by run of rows
    of one length (``"runs"``)."""
    components = tf.nest.flatten(spec, expand_composites=True)
    empty = tf.nest.flatten(tf.nest.map_structure(_empty, spec), expand_composites=True)

    def body(state: tf.Tensor, *values: tf.Tensor) -> list[Any]:
        read = step(state.numpy(), tuple(value.numpy() for value in values))
        if read is None:
            return [state, False, np.zeros(0, np.int64), *empty]
        position, bounds, tensors = read
        return [position, True, bounds, *tensors]

    def scan_step(state: tf.Tensor, _: Any) -> tuple[tf.Tensor, Any]:
        out = tf.py_function(body, [state, *args], [tf.string, tf.bool, tf.int64, *(c.dtype for c in components)])
        for tensor, component in zip(out[3:], components):
            tensor.set_shape(component.shape)
        out[0].set_shape([])
        out[1].set_shape([])
        out[2].set_shape([None])
        return out[0], (out[1], out[2], tf.nest.pack_sequence_as(spec, out[3:], expand_composites=True))

    dataset = (
        tf.data.Dataset.from_tensors(0)
        .repeat()
        .scan(tf.constant(b""), _no_autograph(scan_step))
        .take_while(_no_autograph(lambda read, bounds, batch: read))
    )
    if form == "runs":
        dataset = dataset.flat_map(_no_autograph(lambda read, bounds, batch: _runs(batch, bounds, runs)))
    else:
        dataset = dataset.map(_no_autograph(lambda read, bounds, batch: batch))
        if form == "elements":
            dataset = dataset.unbatch()
    options = tf.data.Options()
    # The scans outside the graph are found again from the position the checkpoint holds.
    options.experimental_external_state_policy = tf.data.experimental.ExternalStatePolicy.IGNORE
    # No prefetch or parallel map of TensorFlow's own: a restored iterator reads from its
    # position first (and refuses a position of another dataset) rather than give batches a
    # buffer kept, and per-batch maps after it run in order, one batch at a time.
    options.experimental_optimization.apply_default_optimizations = False
    options.experimental_optimization.inject_prefetch = False
    return dataset.with_options(options)


def _empty(spec: Any) -> Any:
    """A value of ``spec`` without rows (what a step gives at the end, which ``take_while`` drops)."""
    if isinstance(spec, tf.RaggedTensorSpec):
        values = np.zeros([0, *[d or 0 for d in spec.shape[2:]]], spec.dtype.as_numpy_dtype)
        return tf.RaggedTensor.from_row_splits(values, np.zeros(1, np.int64), validate=False)
    return np.zeros([d or 0 for d in spec.shape], spec.dtype.as_numpy_dtype)


def _no_autograph(function: Callable[..., Any]) -> Callable[..., Any]:
    return tf.autograph.experimental.do_not_convert(function)  # type: ignore[no-any-return]


def _runs(batch: Any, bounds: tf.Tensor, runs: Any) -> tf.data.Dataset:
    """The rows of ``batch`` run by run (``bounds``: the first row of each run, then the row count),
    the ragged arrays marked in ``runs`` as dense ``[None]`` tensors."""

    def run(start: tf.Tensor, stop: tf.Tensor) -> tf.data.Dataset:
        rows = tf.nest.map_structure(lambda value, dense: _cut(value, dense, start, stop), batch, runs)
        # unbatch() would crash on a run of zero-length arrays, shape (rows, 0) (TF 2.21)
        return tf.data.Dataset.from_tensor_slices(rows)

    return tf.data.Dataset.from_tensor_slices((bounds[:-1], bounds[1:])).flat_map(_no_autograph(run))


def _cut(value: Any, dense: bool, start: tf.Tensor, stop: tf.Tensor) -> Any:
    rows = value[start:stop]
    return rows.to_tensor() if dense else rows
