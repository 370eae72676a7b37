"""The run folder: where `kvae train` writes and `evaluate`/`sample` read."""

import json
from pathlib import Path

import keras

from kvae import atomic

MODEL = "model.keras"
CONFIG = "config.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
EVALUATION = "evaluation.json"
SAMPLES = "samples.png"
RECONSTRUCTIONS = "reconstructions.png"
BACKUP = "backup"


def write_json(path, payload):
    """Writes JSON whole or not at all (`kvae.atomic`)."""
    atomic.write_text(path, json.dumps(payload, indent=2, sort_keys=True) + "\n")


def write_text(path, text):
    """Writes text whole or not at all, ending in a newline."""
    atomic.write_text(path, text if text.endswith("\n") else text + "\n")


def save_model(model, run_dir):
    with atomic.replacing(Path(run_dir) / MODEL) as tmp:  # keeps the ".keras" suffix Keras insists on
        model.save(tmp)


def load_run(run_dir):
    """Returns `(model, config)` of a finished run, or raises a clear error."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"RUN_DIR {str(run_dir)!r} is not a folder")
    model_path = run_dir / MODEL
    if not model_path.is_file():
        raise FileNotFoundError(
            f"RUN_DIR {str(run_dir)!r} has no {MODEL}: expected a folder written by `kvae train`"
        )
    config_path = run_dir / CONFIG
    config = json.loads(config_path.read_text()) if config_path.is_file() else {}
    model = keras.saving.load_model(model_path, safe_mode=True)
    return model, config
