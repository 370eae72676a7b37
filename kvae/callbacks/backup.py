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

    Args:
        backup_dir: str or Path. Where the backup lives; the same folder
            resumes a restarted run.
        double_checkpoint: bool. Also keep the previous epoch's backup.
        delete_checkpoint: bool. Delete the backup when `fit` ends.
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

    def __init__(self, backup_dir, double_checkpoint=True, delete_checkpoint=False, **kwargs):
        super().__init__(str(backup_dir), double_checkpoint=double_checkpoint,
                         delete_checkpoint=delete_checkpoint, **kwargs)

    def on_epoch_end(self, epoch, logs=None):
        if logs and not math.isfinite(float(logs.get("loss", 0.0))):
            return  # a diverged epoch: keep the last good backup
        super().on_epoch_end(epoch, logs)
