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
    "data", "data_name", "batch_size", "latent_dim", "hidden", "architecture",
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


def restore(make_model, strategy, backup_dir):
    """Builds the model and restores the last completed epoch every worker has.

    Keras' `BackupAndRestore` keeps the latest epoch and, with
    `double_checkpoint=True`, the one before (`*.bkp`). Workers killed at
    slightly different moments can have saved different epochs (one apart at
    most: each epoch ends in collectives they all join). They agree on the
    oldest before anyone builds the model (building is itself a collective:
    MultiWorkerMirroredStrategy broadcasts initial values), and the ones ahead
    roll back, so all resume from the same epoch with the same weights.

    Returns:
        `(model, backup_callback, start_epoch)`.
    """
    backup_dir = Path(backup_dir)
    epoch = backup_epoch(backup_dir)
    if distribute.in_multi_worker_mode(strategy):
        target = min(distribute.gather_int(epoch, strategy))
        if epoch > target:
            _roll_back(backup_dir)
            epoch = backup_epoch(backup_dir)
        if epoch != target:
            raise RuntimeError(
                f"workers' backups disagree: this worker can restore epoch {epoch}, another "
                f"only epoch {target}; delete {backup_dir.parent} to start again"
            )
    model = make_model()
    backup = FiniteBackupAndRestore(backup_dir)
    backup.set_model(model)
    with strategy.scope():  # restoring builds the optimizer's variables
        backup.on_train_begin()
    # Keras falls back to the previous epoch if the latest file is unreadable.
    return model, backup, backup_epoch(backup_dir)


def backup_epoch(backup_dir):
    """The epoch a `BackupAndRestore` folder resumes at (0 when there is none)."""
    # Keras writes {"epoch": ..., "batch": ...} to training_metadata.json.
    path = Path(backup_dir) / "training_metadata.json"
    return int(json.loads(path.read_text())["epoch"]) if path.is_file() else 0


def _roll_back(backup_dir):
    # *.bkp hold the epoch before the latest; none means the state before was "fresh".
    previous = [p for p in backup_dir.iterdir() if p.name.endswith(".bkp")]
    if not previous:
        shutil.rmtree(backup_dir)
        return
    for path in previous:
        os.replace(path, path.with_name(path.name[: -len(".bkp")]))
