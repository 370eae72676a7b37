"""`FiniteBackupAndRestore`: Keras' `BackupAndRestore` with atomic, finite backups.

A backup is one folder `state-<n>/` holding the weights (model and optimizer)
and the position they belong to (`position.json`: the epoch to run next and
the steps of it already done). It is written as a hidden `.tmp-state-<n>/`
and renamed into place when complete, so a backup is whole or absent: a kill
between writing the weights and writing the position can never pair one
epoch's weights with another's position. The newest two states are kept;
restoring takes the newest readable one and falls back to the one before.
"""

import json
import math
import os
import re
import shutil
from pathlib import Path

import keras

from kvae import keras_internals

WEIGHTS = "weights.weights.h5"  # Keras' save_weights insists on the suffix
POSITION = "position.json"
_STATE = re.compile(r"state-(\d{8})")


def states(backup_dir):
    """The complete backups in `backup_dir`, newest first, as `(number, path)`."""
    backup_dir = Path(backup_dir)
    if not backup_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in backup_dir.iterdir() if (m := _STATE.fullmatch(p.name)) and p.is_dir()]
    return sorted(found, reverse=True)


def read_position(state_dir):
    """`(epoch, step)` recorded in a backup folder, or None if it is missing or unreadable."""
    try:
        position = json.loads((Path(state_dir) / POSITION).read_text())
        epoch, step = int(position["epoch"]), int(position["step"])
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if epoch < 0 or step < 0 or not (Path(state_dir) / WEIGHTS).is_file():
        return None
    return epoch, step


def position(backup_dir):
    """`(epoch, step)` the newest readable backup resumes at; `(0, 0)` when there is none."""
    for _, path in states(backup_dir):
        found = read_position(path)
        if found is not None:
            return found
    return 0, 0


def drop_newest(backup_dir):
    """Removes the newest backup, so the one before becomes the latest (workers one backup ahead roll back)."""
    found = states(backup_dir)
    if found:
        shutil.rmtree(found[0][1])


def _fsync(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FiniteBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, written atomically and skipping epochs whose loss is NaN or Inf.

    `TerminateOnNaN` stops training mid-epoch, but Keras still ends the epoch,
    and a plain `BackupAndRestore` would then write the NaN weights over the
    last good backup, so a restarted run could only resume into the
    divergence. This one keeps the last epoch whose loss was finite. Each
    backup (weights and position together) is one folder renamed into place
    when complete, and the previous one is kept until the new one is
    (`double_checkpoint=True`): a run killed at any moment, even mid-write,
    resumes from a complete backup, and an unreadable latest backup falls
    back to the one before. The backup stays after `fit` returns
    (`delete_checkpoint=False`), so a caller can remove it once the trained
    model is safely saved, as `kvae train` does.

    With `save_freq=N` it also backs up every N training steps (and still at
    every epoch's end), recording the epoch and the steps of it already done.
    Keras itself restores only the epoch; `kvae train --backup-every N` reads
    the step too (`kvae.callbacks.backup.position`) and resumes on the
    batches the epoch had left, so the run ends with the weights of an
    uninterrupted one. Set `step_offset` to the steps already done when a
    `fit` starts mid-epoch.

    Args:
        backup_dir: str or Path. Where the backup lives; the same folder
            resumes a restarted run.
        double_checkpoint: bool. Keep the previous backup too.
        delete_checkpoint: bool. Delete the backup when `fit` ends.
        save_freq: `"epoch"` or int. Also back up every this many steps.
        **kwargs: the rest of `keras.callbacks.BackupAndRestore`'s arguments.

    Example:

    >>> import tempfile, numpy as np, keras, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, likelihood="gaussian_fixed")
    >>> vae.compile(optimizer="adam")
    >>> folder = tempfile.mkdtemp()
    >>> backup = kvae.callbacks.FiniteBackupAndRestore(folder)
    >>> history = vae.fit(np.zeros((8, 4), "float32"), epochs=2, verbose=0, callbacks=[backup])
    >>> kvae.callbacks.backup.position(folder)
    (2, 0)
    """

    def __init__(self, backup_dir, double_checkpoint=True, delete_checkpoint=False, save_freq="epoch", **kwargs):
        super().__init__(str(backup_dir), double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint, save_freq=save_freq, **kwargs)
        self.backup_path = Path(backup_dir)
        # Steps of the current epoch done before this `fit` began (a run resumed mid-epoch).
        self.step_offset = 0
        self._epoch_in_progress = self._saved_at = 0

    def on_train_begin(self, logs=None):
        self.restore()

    def restore(self):
        """Loads the newest readable backup into the model; returns its `(epoch, step)` (`(0, 0)`: none)."""
        found = states(self.backup_path)
        for _, path in found:
            at = read_position(path)
            if at is None:
                continue
            if self.model.optimizer is not None and not self.model.optimizer.built:
                self.model.optimizer.build(self.model.trainable_variables)  # its variables are in the file
            try:
                self.model.load_weights(path / WEIGHTS)
            except (OSError, ValueError):
                continue  # unreadable (e.g. a disk fault); the one before is complete
            keras_internals.set_initial_epoch(self.model, at[0])
            return at
        if found:
            raise ValueError(
                f"backup folder {str(self.backup_path)!r} holds no readable backup ({len(found)} damaged); "
                "pass --overwrite (or another backup folder) to start again"
            )
        return 0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_in_progress = epoch
        self._saved_at = self.step_offset

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        done = self.step_offset + batch + 1  # steps of this epoch done (batch: the call's last step)
        steps = (self.params or {}).get("steps")
        if steps and done >= self.step_offset + steps:
            return  # the epoch's last call (Keras may report it past the end): on_epoch_end backs it up
        if done - self._saved_at < self.save_freq:
            return
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            return
        self._saved_at = done
        self.save(self._epoch_in_progress, done)

    def on_epoch_end(self, epoch, logs=None):
        self.step_offset = 0
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            return  # a diverged epoch: keep the last good backup
        self.save(epoch + 1, 0)  # also with a step frequency: an epoch's end is a backup

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            for _, path in states(self.backup_path):
                shutil.rmtree(path)

    def save(self, epoch, step):
        """Writes the model's weights at `(epoch, step)` as one new backup, then drops all but the last two."""
        self.backup_path.mkdir(parents=True, exist_ok=True)
        found = states(self.backup_path)
        number = found[0][0] + 1 if found else 1
        for leftover in self.backup_path.glob(".tmp-state-*"):
            shutil.rmtree(leftover)  # left by a run killed while writing it
        tmp = self.backup_path / f".tmp-state-{number:08d}"
        tmp.mkdir()
        self.model.save_weights(tmp / WEIGHTS)
        (tmp / POSITION).write_text(json.dumps({"epoch": int(epoch), "step": int(step)}))
        for name in (WEIGHTS, POSITION):
            _fsync(tmp / name)
        os.replace(tmp, self.backup_path / f"state-{number:08d}")  # the commit point
        _fsync(self.backup_path)
        keep = 2 if self.double_checkpoint else 1
        for _, path in [(number, None), *found][keep:]:
            shutil.rmtree(path)

    def _save_model(self):
        # Keras 3.15 calls this from its own hooks; every save here goes through `save`.
        self.save(self._current_epoch, self._last_batch_seen)
