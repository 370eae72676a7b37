"""`RunFolder`: a training run's folder, and the one writer of every file in it.

`kvae train` writes a run folder and `evaluate`, `report`, `sample`, `export`
read it; all of them go through this object, which

- knows the files a run holds (`OUTPUTS`) and marks the folder as kvae's
  (`.kvae-run`): it writes into a folder that is new, empty, or already a run
  folder, and refuses any other, so it never clears a user's files;
- is locked while written (`writing`): a second writer fails at once with
  the first one's pid, host and command, never half-overwrites it;
- writes each file whole or not at all (`kvae.atomic`), and runs
  `--overwrite` as a transaction: the new run is built in `.kvae-next/`
  beside the old one, which stays intact and resumable until the new run is
  complete and `commit` swaps it in (a journal makes a swap cut short by a
  kill finish on the next open);
- owns its backups (`backup_dir`): a backup folder records the run it
  belongs to, and a folder holding anything else is refused.
"""

import csv
import io
import json
import os
import shutil
from pathlib import Path

from kvae import atomic
from kvae import checks
from kvae.data.transforms import load_transform, save_transform
from kvae.preprocessing import attach

MODEL = "model.keras"
CONFIG = "config.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
EVALUATION = "evaluation.json"
TRANSFORM = "transform.json"
REPORT = "report.md"
PICTURES = ("samples.png", "reconstructions.png", "curves.png", "latent.png", "manifold.png", "traversal.png")
BACKUP = "backup"
# Every name kvae writes in a run folder; a name not listed here is the user's and is never touched.
OUTPUTS = (MODEL, CONFIG, HISTORY, METRICS, EVALUATION, TRANSFORM, REPORT, *PICTURES, "images", "tensorboard", BACKUP)

MARKER = ".kvae-run"
LOCK = ".kvae-lock"
NEXT = ".kvae-next"  # a run being built by --overwrite
OLD = ".kvae-old"  # the replaced run, during a swap
SWAP = ".kvae-swap"  # the swap's journal: present from the moment it is decided until it is done
BACKUP_MARKER = ".kvae-backup"
# Backup slots under a backup folder: the run folder's own run, and a run being built by --overwrite.
SLOTS = {False: "run", True: "next"}


class RunFolder:
    """A kvae run folder: created, resumed, overwritten, read and committed in one place.

    Args:
        path: str or Path. The folder.
        argument: str. How errors name it (`--out` for `kvae train`,
            `RUN_DIR` for the other commands).

    Example:

    >>> import tempfile, os, kvae
    >>> run = kvae.RunFolder(os.path.join(tempfile.mkdtemp(), "run"))
    >>> with run.writing():
    ...     run.write_json(kvae.run_folder.CONFIG, {"latent_dim": 2})
    >>> run.config()
    {'latent_dim': 2}
    >>> sorted(os.listdir(run.path))
    ['.kvae-lock', '.kvae-run', 'config.json']
    """

    def __init__(self, path, argument="RUN_DIR", _parent=None):
        self.path = Path(path)
        self.argument = argument
        self._parent = _parent  # the run folder a staged (--overwrite) run will replace

    def __repr__(self):
        return f"RunFolder({str(self.path)!r})"

    @property
    def name(self):
        return str(self.path if self._parent is None else self._parent.path)

    # === Reading ===

    def file(self, name):
        """The path of one of the run's files (`OUTPUTS`)."""
        return self.path / name

    def holds_model(self):
        """Whether the folder holds a finished run (its model is written last)."""
        return self.file(MODEL).is_file()

    def holds_run(self):
        """Whether the folder holds a run, finished or interrupted."""
        return any(self.file(name).exists() for name in (MODEL, CONFIG, HISTORY, BACKUP))

    def config(self):
        """`config.json` as a dict ({} when absent), or a clear error naming the file."""
        path = self.file(CONFIG)
        if not path.is_file():
            return {}
        try:
            config = json.loads(path.read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ValueError(f"{self.argument} {self.name!r}: {CONFIG} is not valid JSON ({e})") from None
        if not isinstance(config, dict):
            raise ValueError(f"{self.argument} {self.name!r}: {CONFIG} must hold a JSON object of the run's "
                             f"options, received a {type(config).__name__}")
        return config

    def load_model(self):
        """The trained model (`safe_mode=True`), or a clear error: no folder, no model, an unreadable one."""
        import keras

        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.argument} {self.name!r} is not a folder")
        self.recover()
        path = self.file(MODEL)
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.argument} {self.name!r} has no {MODEL}: expected a folder written by `kvae train`"
            )
        try:
            return keras.saving.load_model(path, safe_mode=True)
        except Exception as e:  # zip, h5 and deserialisation errors all mean the same to a user
            reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise ValueError(f"{self.argument} {self.name!r}: {MODEL} is not a readable Keras model "
                             f"(truncated or corrupt: {reason})") from None

    def load(self):
        """`(model, config)` of a finished run.

        A run of kvae 0.1 trained on a table kept its standardisation beside
        the model (`transform.json`); its model is returned with it attached
        (`kvae.preprocessing.attach`), so it takes and scores raw rows as a
        new run's model does.
        """
        model = self.load_model()
        transform = self.transform()
        preprocessing = None if transform is None else transform.preprocessing()
        if preprocessing is not None and model.preprocessing.is_identity:
            model = attach(model, preprocessing)
        return model, self.config()

    def transform(self):
        """The input transform the run was trained through (`kvae.data.load_transform`), or None."""
        return load_transform(self.path)

    def served_transform(self):
        """The transform served signatures apply before the model (image decoding), or None.

        A standardisation is not one: `load` gives the model it as preprocessing.
        """
        transform = self.transform()
        return transform if transform is not None and transform.preprocessing() is None else None

    # === Ownership ===

    def foreign_entries(self):
        """Entries of the folder kvae did not write (empty for a new, empty or kvae run folder)."""
        if not self.path.exists():
            return []
        if not self.path.is_dir():
            return [self.path.name]
        if (self.path / MARKER).is_file():
            return []  # kvae's run folder; the user's own files in it are left alone
        # Unmarked: kvae's only if every entry is one kvae writes (a run folder from before the marker).
        # A project folder that happens to hold a `config.json` is not.
        entries = sorted(p.name for p in self.path.iterdir())
        return [name for name in entries if not _ours(name)]

    def check_writable(self):
        """Raises unless kvae may write here: a new or empty folder, or a kvae run folder."""
        foreign = self.foreign_entries()
        if foreign:
            shown = ", ".join(repr(n) for n in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            what = "is a file" if not self.path.is_dir() else f"holds files kvae did not write ({shown})"
            raise FileExistsError(
                f"{self.argument} {self.name!r} {what}; kvae writes a run only into a new or empty folder or a "
                "run folder of its own, and never clears other files: choose another folder"
            )
        parent = self.path.parent
        while not parent.exists():
            parent = parent.parent
        if not os.access(parent if not self.path.exists() else self.path, os.W_OK | os.X_OK):
            raise PermissionError(f"{self.argument} {self.name!r} is not writable (a read-only file system, or "
                                  "permission denied)")

    # === Writing ===

    def writing(self):
        """A context holding the folder's lock: the folder is created (and marked as kvae's) on entry.

        Raises `kvae.atomic.Locked` (a `FileExistsError`) if another process
        writes the folder, and `FileExistsError` if it is not kvae's.
        """
        self.check_writable()
        self.path.mkdir(parents=True, exist_ok=True)
        return _Writing(self)

    def _mark(self):
        if not (self.path / MARKER).is_file():
            atomic.write_text(self.path / MARKER, json.dumps({"format": 1}) + "\n")

    def start(self, config, transform=None, start_epoch=0):
        """Records a run as it starts or resumes: `config.json`, `transform.json`, history cut to `start_epoch`."""
        self.path.mkdir(parents=True, exist_ok=True)
        self._mark()
        self.write_json(CONFIG, config)
        self.save_transform(transform)
        truncate_history(self.file(HISTORY), start_epoch)

    def write_json(self, name, payload):
        """Writes `name` as JSON, whole or not at all."""
        atomic.write_text(self.file(name), json.dumps(payload, indent=2, sort_keys=True) + "\n")

    def write_text(self, name, text):
        """Writes `name` as text ending in a newline, whole or not at all."""
        atomic.write_text(self.file(name), text if text.endswith("\n") else text + "\n")

    def save_model(self, model):
        """Saves `model` as `model.keras`, whole or not at all."""
        with atomic.replacing(self.file(MODEL)) as tmp:  # keeps the ".keras" suffix Keras insists on
            model.save(tmp)

    def save_transform(self, transform):
        save_transform(self.path, transform)

    # === Overwriting ===

    @property
    def staged(self):
        """Whether this is a run being built to replace another (`--overwrite`)."""
        return self._parent is not None

    def stage(self):
        """The run that `--overwrite` builds beside this one (`.kvae-next/`), to `commit` in its place."""
        return RunFolder(self.path / NEXT, self.argument, _parent=self)

    def discard(self):
        """Deletes a staged run that will not be committed (only `.kvae-next/`, which kvae wrote)."""
        if self.staged and self.path.exists():
            shutil.rmtree(self.path)

    def commit(self):
        """Makes a staged run the run folder's run; for the folder's own run, there is nothing to swap."""
        if not self.staged:
            return
        parent = self._parent
        new = sorted(p.name for p in self.path.iterdir() if p.name in OUTPUTS and p.name != BACKUP)
        old = sorted(p.name for p in parent.path.iterdir() if p.name in OUTPUTS and p.name != BACKUP)
        atomic.write_text(parent.path / SWAP, json.dumps({"old": old, "new": new}) + "\n")  # the commit point
        parent.finish_swap()

    def recover(self):
        """Finishes a swap that a kill cut short after it was decided (under the folder's lock)."""
        if (self.path / SWAP).is_file():
            with self.writing():
                pass  # entering finishes it

    def finish_swap(self):
        """Completes a swap whose journal exists (after a kill, on the next open); idempotent."""
        journal = self.path / SWAP
        if not journal.is_file():
            return
        try:
            names = json.loads(journal.read_text())
        except ValueError:  # cut short while written: the swap was not decided
            journal.unlink()
            return
        staged, old_dir = self.path / NEXT, self.path / OLD
        old_dir.mkdir(exist_ok=True)
        for name in names["old"]:
            if (self.path / name).exists() and (name not in names["new"] or (staged / name).exists()):
                os.replace(self.path / name, old_dir / name)
        for name in names["new"]:
            if (staged / name).exists():
                os.replace(staged / name, self.path / name)
        shutil.rmtree(old_dir)
        if staged.exists():
            shutil.rmtree(staged)
        journal.unlink()

    # === Backups ===

    def _backup_root(self, backup_root):
        """The folder backups go in: `backup_root`, or the run folder's own `backup/`."""
        return Path(backup_root) if backup_root is not None else (self._parent or self).path / BACKUP

    def check_backup_root(self, backup_root=None):
        """Raises unless `backup_root` (None: `RUN/backup`) may hold this run's backup; writes nothing.

        A backup folder records the run folder it belongs to (`.kvae-backup`);
        one that belongs to another run, or holds files kvae did not write, is
        refused, never cleared.
        """
        if backup_root is None:
            return  # inside the run folder: it belongs to its run by place
        owner = self._parent or self
        root = Path(backup_root)
        if root.resolve() == owner.path.resolve():
            raise ValueError(f"--backup-dir must not be the run folder itself ({str(root)!r}); "
                             "give it a folder of its own")
        marker = root / BACKUP_MARKER
        if marker.is_file():
            try:
                found = json.loads(marker.read_text()).get("run")
            except (ValueError, AttributeError):
                found = None
            if found != str(owner.path.resolve()):
                raise FileExistsError(
                    f"--backup-dir {str(root)!r} holds the backup of another run ({found!r}); "
                    "give each run its own --backup-dir"
                )
        else:
            checks.no_foreign_files(root, "--backup-dir")

    def backup_path(self, backup_root=None, worker=None):
        """This run's backup folder under `backup_root` (default `RUN/backup`); reads nothing, writes nothing.

        The run folder's own run and a staged one keep their backups apart
        (`run/`, `next/`), so an interrupted `--overwrite` leaves the old
        run's backup as it was. Each worker of a multi-worker run has its own
        (`worker-<i>/`).
        """
        root = self._backup_root(backup_root)
        folder = root / SLOTS[self.staged]
        return folder if worker is None else folder / f"worker-{worker}"

    def claim_backup(self, backup_root=None):
        """Marks `backup_root` as this run's backup folder (checked first: see `check_backup_root`)."""
        self.check_backup_root(backup_root)
        root = self._backup_root(backup_root)
        marker = root / BACKUP_MARKER
        if marker.is_file():
            return
        created = not root.exists()
        root.mkdir(parents=True, exist_ok=True)
        atomic.write_text(marker, json.dumps({"run": str((self._parent or self).path.resolve()), "created": created}) + "\n")

    def delete_backup(self, backup_root=None, worker=None):
        """Deletes this run's backup once its model is saved; the backup folder too when kvae made it.

        Workers finishing together may race to remove the shared folders:
        whoever comes second finds them gone, which is the same end.
        """
        root = self._backup_root(backup_root)
        # A committed --overwrite replaced the folder's run: the old run's backup goes with it.
        slots = [root / SLOTS[True], root / SLOTS[False]] if self.staged else [root / SLOTS[False]]
        for slot in slots:
            shutil.rmtree(slot if worker is None else slot / f"worker-{worker}", ignore_errors=True)
        marker = root / BACKUP_MARKER
        try:
            for slot in slots:
                if slot.exists() and not any(slot.iterdir()):
                    slot.rmdir()
            if not marker.is_file() or any(p.name != BACKUP_MARKER for p in root.iterdir()):
                return
            try:
                created = json.loads(marker.read_text()).get("created", True)
            except ValueError:
                created = True
            marker.unlink()
            if created or backup_root is None:
                root.rmdir()
        except FileNotFoundError:
            pass  # another worker removed it first

    def discard_backup(self, backup_root=None, worker=None):
        """Deletes a staged run's stale backup (it is kvae's and belongs to no committed run)."""
        if not self.staged:
            return
        root = self._backup_root(backup_root)
        slot = root / SLOTS[True]
        shutil.rmtree(slot if worker is None else slot / f"worker-{worker}", ignore_errors=True)


def _ours(name):
    """Whether a name in a run folder is one kvae writes: an output, kvae's own state, or a write in progress."""
    name = atomic.written_name(name) or name  # `kvae.atomic`'s temporary sibling, left by a kill
    return name in OUTPUTS or name.startswith(".kvae-")


def _remove(path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


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


class _Writing:
    def __init__(self, run):
        self.run = run
        self._lock = atomic.locked(run.path / LOCK, atomic.holder_text(), f"{run.argument} {run.name!r}")

    def __enter__(self):
        self._lock.__enter__()
        try:
            self.run._mark()
            self.run.finish_swap()  # a swap a kill cut short
            for folder in (self.run.path, self.run.path / NEXT):
                for leftover in folder.glob(".tmp-*"):  # writes a kill cut short: kvae's, and never read
                    if _ours(leftover.name):
                        _remove(leftover)
        except BaseException:
            self._lock.__exit__(None, None, None)
            raise
        return self.run

    def __exit__(self, *exc):
        return self._lock.__exit__(*exc)
