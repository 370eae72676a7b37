"""Resuming an interrupted `kvae train` from its `BackupAndRestore` folder."""

import csv
import io
import json
import os
import shutil
from pathlib import Path

from kvae import atomic, distribute
from kvae.callbacks import FiniteBackupAndRestore

# Options that define the model, the data or the optimisation: a resumed run
# must use the same ones, or the backup does not belong to it.
RUN_DEFINING = (
    "data", "data_test", "image_size", "channels", "feature", "feature_dtype", "label_feature", "columns",
    "label_column", "cache", "data_name", "batch_size", "latent_dim", "hidden", "architecture",
    "likelihood", "beta", "learning_rate", "binarize", "seed", "event_shape", "dtype_policy",
    "prior", "prior_components", "posterior", "iaf_steps", "conditional", "objective", "iw_train_samples", "iw_gradient",
)


def has_backup(backup_dir):
    backup_dir = Path(backup_dir)
    return backup_dir.is_dir() and any(backup_dir.iterdir())


def check_same_run(config_path, config):
    """Raises if the interrupted run in the folder used other options."""
    config_path = Path(config_path)
    if not config_path.is_file():
        return
    saved = json.loads(config_path.read_text())
    changed = [k for k in RUN_DEFINING if k in saved and saved[k] != config.get(k)]
    if changed:
        detail = ", ".join(f"{k}: {saved[k]!r} then, {config.get(k)!r} now" for k in changed)
        raise ValueError(
            f"--out {str(config_path.parent)!r} holds an interrupted run with other options "
            f"({detail}); run the same command to resume it, or pass --overwrite to start again"
        )


def truncate_history(path, start_epoch):
    """Keeps the CSV rows of epochs before `start_epoch`: no epoch is listed twice."""
    path = Path(path)
    if not path.is_file():
        return
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
        fields = rows[0].keys() if rows else None
    # A row cut short by a kill mid-write has missing fields: drop it too.
    complete = [r for r in rows if None not in r.values() and r.get("epoch", "").isdigit()]
    kept = [r for r in complete if int(r["epoch"]) < start_epoch]
    if not kept:
        path.unlink()
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    atomic.write_text(path, buffer.getvalue())


def restore(make_model, strategy, backup_dir, save_every=None):
    """Builds the model and restores the last backup every worker has.

    Keras' `BackupAndRestore` keeps the latest backup and, with
    `double_checkpoint=True`, the one before (`*.bkp`). Workers killed at
    slightly different moments can have saved different steps (one backup
    apart at most: each ends in collectives they all join). They agree on the
    oldest before anyone builds the model (building is itself a collective:
    MultiWorkerMirroredStrategy broadcasts initial values), and the ones ahead
    roll back, so all resume from the same step with the same weights.

    Args:
        make_model: callable returning the compiled model.
        strategy: the `tf.distribute` strategy.
        backup_dir: Path. This worker's backup folder.
        save_every: int or None. Also back up every this many steps
            (`FiniteBackupAndRestore(save_freq=...)`).

    Returns:
        `(model, backup_callback, (epoch, step))`: resume at step `step` of
        epoch `epoch` (0-based; step 0 is the epoch's start).
    """
    backup_dir = Path(backup_dir)
    position = backup_position(backup_dir)
    if distribute.in_multi_worker_mode(strategy):
        target = min(distribute.gather_int(_encode(position), strategy))
        if _encode(position) > target:
            _roll_back(backup_dir)
            position = backup_position(backup_dir)
        if _encode(position) != target:
            raise RuntimeError(
                f"workers' backups disagree: this worker can restore {position}, another only "
                f"{_decode(target)} (epoch, step); delete {backup_dir.parent} to start again"
            )
    model = make_model()
    backup = FiniteBackupAndRestore(backup_dir, save_freq=save_every or "epoch")
    backup.set_model(model)
    with strategy.scope():  # restoring builds the optimizer's variables
        backup.on_train_begin()
    # Keras falls back to the previous backup if the latest file is unreadable.
    return model, backup, backup_position(backup_dir)


def backup_epoch(backup_dir):
    """The epoch a `BackupAndRestore` folder resumes at (0 when there is none)."""
    return backup_position(backup_dir)[0]


def backup_position(backup_dir):
    """`(epoch, step)` a backup resumes at: `(0, 0)` when there is none."""
    # Keras writes {"epoch": ..., "batch": ...}; FiniteBackupAndRestore's "batch" counts the steps done.
    path = Path(backup_dir) / "training_metadata.json"
    if not path.is_file():
        return 0, 0
    metadata = json.loads(path.read_text())
    return int(metadata["epoch"]), int(metadata.get("batch", 0))


_STEPS = 2**32  # (epoch, step) as one integer, for workers to compare


def _encode(position):
    return position[0] * _STEPS + position[1]


def _decode(value):
    return divmod(int(value), _STEPS)


def _roll_back(backup_dir):
    # *.bkp hold the epoch before the latest; none means the state before was "fresh".
    previous = [p for p in backup_dir.iterdir() if p.name.endswith(".bkp")]
    if not previous:
        shutil.rmtree(backup_dir)
        return
    for path in previous:
        os.replace(path, path.with_name(path.name[: -len(".bkp")]))
