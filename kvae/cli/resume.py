"""Resuming an interrupted `kvae train` from its `BackupAndRestore` folder."""

import csv
import io
import json
import os
from pathlib import Path

# Options that define the model, the data or the optimisation: a resumed run
# must use the same ones, or the backup does not belong to it.
RUN_DEFINING = (
    "data", "data_name", "batch_size", "latent_dim", "hidden", "architecture",
    "likelihood", "beta", "learning_rate", "binarize", "seed", "event_shape",
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
    kept = [r for r in rows if int(r["epoch"]) < start_epoch]
    if not kept:
        path.unlink()
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(buffer.getvalue())
    os.replace(tmp, path)
