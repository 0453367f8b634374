"""Keras training that resumes an epoch where it stopped: :class:`ResumableBackup`.

Keras's ``BackupAndRestore(save_freq=N)`` saves the weights every N batches, but restores only the
epoch: a ``model.fit`` restarted after a kill reads that epoch again from its start. This callback
is ``BackupAndRestore`` that also saves the position of an
:class:`~ignite_fast.tf.dataset.IgniteDataset` with the weights, and on restore has the dataset
continue from it: the epoch goes on with the rows not yet trained on, each read once.
"""

from __future__ import annotations

import json
from typing import Any

import tensorflow as tf

from ignite_fast.errors import InvalidArgumentError
from ignite_fast.position import ScanPosition
from ignite_fast.tf.dataset import IgniteDataset


class ResumableBackup(tf.keras.callbacks.BackupAndRestore):  # type: ignore[misc]  # Keras has no type hints
    """``keras.callbacks.BackupAndRestore`` that saves ``dataset``'s position with the weights.

    >>> ds = IgniteDataset("digits", batch_size=256)                          # doctest: +SKIP
    >>> backup = ResumableBackup("igfs://host/backup/run1", ds, save_freq=100)  # doctest: +SKIP
    >>> model.fit(ds.map(to_xy), epochs=5, callbacks=[backup])                # doctest: +SKIP

    ``dataset`` is the :class:`IgniteDataset` (with ``batch_size=``) that ``model.fit`` reads, with
    any per-batch ``map`` after it, so that a training step is one batch the dataset read (no
    ``unbatch``/``rebatch``/``filter`` in between). ``backup_dir`` may be an ``igfs://`` URL
    (register the file system first: :func:`ignite_fast.tf.gfile.register_igfs_filesystem`).
    Every ``save_freq`` batches (or at each epoch's end, ``"epoch"``) the weights are saved, then
    the training metadata with the dataset's position after the batches trained on. On restart,
    the weights and the epoch are restored and the dataset's next iterator reads the rest of that
    epoch; a position that is not the dataset's (another cache, selection or format, or changed
    bytes) raises :class:`~ignite_fast.errors.PositionError` before anything is read.

    What stays Keras's: the weights are written before the metadata, so a kill between the two
    leaves weights newer than the position (the batches in between are trained on again); with
    ``double_checkpoint=True`` a corrupted backup falls back to the previous one, as in Keras.
    Keras counts an epoch's batches on the first epoch of a ``fit`` when the dataset's length is
    unknown (an ``IgniteDataset``'s is), and ends later epochs after as many: when ``fit``
    resumes mid-epoch, the first epoch is shorter, so pass ``steps_per_epoch`` or end the resumed
    ``fit`` with that epoch (``epochs=`` the epoch it resumes plus one) and call ``fit`` again.
    """

    def __init__(self, backup_dir: str, dataset: IgniteDataset, save_freq: Any = "epoch", **options: Any):
        if not isinstance(dataset, IgniteDataset):
            raise InvalidArgumentError(
                f"ResumableBackup keeps the position of an IgniteDataset, got {type(dataset).__name__}"
            )
        if dataset.batch_size is None:
            raise InvalidArgumentError(
                "ResumableBackup needs an IgniteDataset with batch_size=: a training step is one batch it reads"
            )
        super().__init__(backup_dir, save_freq=save_freq, **options)
        self.dataset = dataset

    def on_train_begin(self, logs: Any = None) -> None:
        super().on_train_begin(logs)  # the weights and the epoch
        position = None
        if tf.io.gfile.exists(self._training_metadata_path):
            with tf.io.gfile.GFile(self._training_metadata_path, "r") as f:
                saved = json.loads(f.read()).get("position")
            if saved is not None:
                position = ScanPosition.from_bytes(saved.encode("ascii"))
        self.dataset.resume_from(position)

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        # BackupAndRestore counts epochs from 0 in every fit, also one that resumed at a later
        # epoch; its mid-epoch saves must name the epoch being trained
        self._current_epoch = epoch

    def _save_model(self) -> None:
        super()._save_model()  # the weights, then Keras's metadata: the epoch, the batch
        epoch, position = self._current_epoch, None
        if self.save_freq != "epoch":  # mid-epoch: after the batches trained on so far
            position = self.dataset.position(self._last_batch_seen + 1)
            if position is not None and position.done:  # the epoch's last batch: the next begins
                epoch, position = epoch + 1, None
        with tf.io.gfile.GFile(self._training_metadata_path, "w") as f:
            metadata = {
                "epoch": epoch,
                "batch": self._last_batch_seen,
                "position": None if position is None else position.to_bytes().decode("ascii"),
            }
            f.write(json.dumps(metadata))
