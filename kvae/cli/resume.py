"""Resuming an interrupted `kvae train` from its `BackupAndRestore` folder."""

from pathlib import Path

from kvae import distribute
from kvae.callbacks import FiniteBackupAndRestore
from kvae.callbacks import backup as backups

# Options that define the model, the data or the optimisation: a resumed run
# must use the same ones, or the backup does not belong to it.
RUN_DEFINING = (
    "data", "data_test", "image_size", "channels", "feature", "feature_dtype", "label_feature", "columns",
    "label_column", "cache", "data_name", "batch_size", "latent_dim", "hidden", "architecture",
    "likelihood", "beta", "learning_rate", "binarize", "seed", "event_shape", "dtype_policy",
    "prior", "prior_components", "posterior", "iaf_steps", "conditional", "objective", "iw_train_samples", "iw_gradient",
    "train_examples", "test_examples",
)


def has_backup(backup_dir):
    """Whether `backup_dir` holds a backup to resume from."""
    return bool(backups.states(backup_dir))


def changed_options(saved, config, strict=False):
    """The run-defining options that differ between a saved run's config and this one's.

    Options the saved config lacks (a run from an older kvae) are taken as
    unchanged, or as changed with `strict=True`.
    """
    return [k for k in RUN_DEFINING if (k in saved or strict) and saved.get(k) != config.get(k)]


def check_same_run(saved, config, run_dir):
    """Raises if the interrupted run in `run_dir` (its config `saved`) used other options."""
    changed = changed_options(saved, config)
    if changed:
        detail = ", ".join(f"{k}: {saved[k]!r} then, {config.get(k)!r} now" for k in changed)
        raise ValueError(
            f"--out {str(run_dir)!r} holds an interrupted run with other options "
            f"({detail}); run the same command to resume it, or pass --overwrite to start again"
        )


def restore(make_model, strategy, backup_dir, save_every=None, fresh=False):
    """Builds the model and restores the last backup every worker has.

    `FiniteBackupAndRestore` keeps the latest backup and the one before.
    Workers killed at slightly different moments can have saved different
    steps (one backup apart at most: each ends in collectives they all join).
    They agree on the oldest before anyone builds the model (building is
    itself a collective: MultiWorkerMirroredStrategy broadcasts initial
    values), and the ones ahead roll back, so all resume from the same step
    with the same weights.

    Args:
        make_model: callable returning the compiled model.
        strategy: the `tf.distribute` strategy.
        backup_dir: Path. This worker's backup folder.
        save_every: int or None. Also back up every this many steps
            (`FiniteBackupAndRestore(save_freq=...)`).
        fresh: bool. Start anew, whatever the folder holds (a stale backup
            its caller will clear).

    Returns:
        `(model, backup_callback, (epoch, step))`: resume at step `step` of
        epoch `epoch` (0-based; step 0 is the epoch's start).
    """
    backup_dir = Path(backup_dir)
    position = (0, 0) if fresh else backups.position(backup_dir)
    if distribute.in_multi_worker_mode(strategy):
        target = min(distribute.gather_int(_encode(position), strategy))
        if _encode(position) > target:
            backups.drop_newest(backup_dir)
            position = backups.position(backup_dir)
        if _encode(position) != target:
            raise RuntimeError(
                f"workers' backups disagree: this worker can restore {position}, another only "
                f"{_decode(target)} (epoch, step); delete {backup_dir.parent} to start again"
            )
    model = make_model()
    backup = FiniteBackupAndRestore(backup_dir, save_freq=save_every or "epoch")
    backup.set_model(model)
    if fresh:
        return model, backup, (0, 0)
    with strategy.scope():  # restoring builds the optimizer's variables
        position = backup.restore()  # the newest readable backup (an unreadable latest falls back)
    return model, backup, position


def backup_epoch(backup_dir):
    """The epoch a backup folder resumes at (0 when there is none)."""
    return backups.position(backup_dir)[0]


_STEPS = 2**32  # (epoch, step) as one integer, for workers to compare


def _encode(position):
    return position[0] * _STEPS + position[1]


def _decode(value):
    return divmod(int(value), _STEPS)
