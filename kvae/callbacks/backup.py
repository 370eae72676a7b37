"""`FiniteBackupAndRestore`: Keras' `BackupAndRestore` that never saves a diverged state."""

import math

import keras


class FiniteBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras' `BackupAndRestore`, skipping epochs whose loss is NaN or Inf.

    `TerminateOnNaN` stops training mid-epoch, but Keras still ends the epoch,
    and a plain `BackupAndRestore` would then write the NaN weights over the
    last good backup, so a restarted run could only resume into the
    divergence. This one keeps the last epoch whose loss was finite. By
    default it also keeps the epoch before (`double_checkpoint=True`: Keras
    falls back to it if the latest file is unreadable, e.g. cut short by a
    kill) and keeps the backup after `fit` returns (`delete_checkpoint=False`),
    so a caller can remove it once the trained model is safely saved, as
    `kvae train` does.

    With `save_freq=N` it also backs up every N training steps (and still at
    every epoch's end), recording in `training_metadata.json` the epoch and
    the steps of it already done (`"batch"`). Keras itself restores only the
    epoch; `kvae train --backup-every N` reads the step too and resumes on the
    batches the epoch had left, so the run ends with the weights of an
    uninterrupted one. Set `step_offset` to the steps already done when a
    `fit` starts mid-epoch.

    Args:
        backup_dir: str or Path. Where the backup lives; the same folder
            resumes a restarted run.
        double_checkpoint: bool. Also keep the previous epoch's backup.
        delete_checkpoint: bool. Delete the backup when `fit` ends.
        save_freq: `"epoch"` or int. Also back up every this many steps.
        **kwargs: the rest of `keras.callbacks.BackupAndRestore`'s arguments.

    Example:

    >>> import tempfile, numpy as np, keras, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, likelihood="gaussian_fixed")
    >>> vae.compile(optimizer="adam")
    >>> backup = kvae.callbacks.FiniteBackupAndRestore(tempfile.mkdtemp())
    >>> history = vae.fit(np.zeros((8, 4), "float32"), epochs=2, verbose=0, callbacks=[backup])
    >>> len(history.history["loss"])
    2
    """

    def __init__(self, backup_dir, double_checkpoint=True, delete_checkpoint=False, save_freq="epoch", **kwargs):
        super().__init__(str(backup_dir), double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint, save_freq=save_freq, **kwargs)
        # Steps of the current epoch done before this `fit` began (a run resumed mid-epoch).
        self.step_offset = 0
        self._epoch_in_progress = self._saved_at = 0

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
        # Keras writes {"epoch": _current_epoch, "batch": _last_batch_seen} and restores only the epoch;
        # here "batch" is the number of steps of that epoch already done, which `kvae train` resumes after.
        self._saved_at = done
        self._current_epoch, self._last_batch_seen = self._epoch_in_progress, done
        self._save_model()

    def on_epoch_end(self, epoch, logs=None):
        self.step_offset = 0
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            return  # a diverged epoch: keep the last good backup
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        self._save_model()  # also with a step frequency: an epoch's end is a backup
