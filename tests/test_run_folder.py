"""`kvae.RunFolder`: one locked writer, atomic commits, transactions, and never a file kvae did not write."""

import json
import os
import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

import kvae
from distributed import SCRIPTS, run
from kvae import atomic
from kvae.callbacks import backup as backups
from kvae.run_folder import BACKUP_MARKER, NEXT, SWAP, RunFolder
from kvae_cli import main

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_run_folder")

FAST = ["--epochs", "2", "--batch-size", "64", "--hidden", "8", "--latent-dim", "2", "--seed", "4", "--verbose", "0"]


def _tree(root):
    """Every path under `root` with its bytes (files) or None (folders): what 'unchanged' means."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


def _error(argv, capsys, code=2):
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _weights(path):
    return keras.saving.load_model(path / "model.keras").get_weights()


def _assert_same_weights(a, b):
    for x, y in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(y, x, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run of FAST's options (seed 4)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main(["train", "--out", str(out), *FAST]) == 0
    return out


# === Case 1: a folder kvae did not write is refused, never cleared ===

def test_a_backup_dir_holding_the_users_files_is_refused_and_left_as_it_was(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / "other_run").mkdir()
    before = _tree(tmp_path)
    err = _error(["train", "--out", str(tmp_path / "run"), "--backup-dir", str(tmp_path), *FAST], capsys)
    assert f"--backup-dir {str(tmp_path)!r} holds files kvae did not write ('notes.txt', 'other_run')" in err
    assert "never clears a folder it did not create" in err
    assert _tree(tmp_path) == before


def test_a_backup_dir_holding_another_runs_backup_is_refused(tmp_path, capsys):
    shared = tmp_path / "shared"
    RunFolder(tmp_path / "a").claim_backup(shared)  # run a's backup folder
    (shared / "run").mkdir()
    (shared / "run" / "state-00000001").mkdir()
    before = _tree(tmp_path)
    err = _error(["train", "--out", str(tmp_path / "b"), "--backup-dir", str(shared), *FAST], capsys)
    assert f"holds the backup of another run ({str((tmp_path / 'a').resolve())!r})" in err
    assert _tree(tmp_path) == before


def test_an_out_folder_holding_the_users_files_is_refused(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("keep")
    (out / "config.json").write_text("{}")  # a project's own config.json does not make it a run folder
    before = _tree(tmp_path)
    err = _error(["train", "--out", str(out), *FAST], capsys)
    assert "--out" in err and "holds files kvae did not write ('thesis.tex')" in err
    assert _tree(tmp_path) == before


@pytest.mark.slow
def test_a_custom_backup_dir_is_used_and_removed_only_if_kvae_made_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["train", "--out", str(tmp_path / "a"), "--backup-dir", str(empty), *FAST]) == 0
    assert empty.is_dir() and not any(empty.iterdir())  # the user's empty folder stays
    made = tmp_path / "made"
    assert main(["train", "--out", str(tmp_path / "b"), "--backup-dir", str(made), *FAST]) == 0
    assert not made.exists()  # kvae made it, kvae removed it


@pytest.mark.slow
def test_overwrite_keeps_the_users_own_files_in_a_run_folder(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "notes.txt").write_text("keep")
    assert main(["train", "--out", str(out), "--overwrite", *FAST[:-4], "--seed", "5", "--verbose", "0"]) == 0
    assert (out / "notes.txt").read_text() == "keep"
    assert json.loads((out / "config.json").read_text())["seed"] == 5
    assert not (out / NEXT).exists() and not (out / "backup").exists()


def test_export_to_a_folder_of_the_users_files_is_refused(tmp_path):
    vae = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=(8,))
    user = tmp_path / "userdir"
    user.mkdir()
    (user / "data.csv").write_text("1,2\n")
    before = _tree(tmp_path)
    with pytest.raises(FileExistsError, match=r"`filepath` '.*userdir' holds files kvae did not write \('data.csv'\)"):
        vae.export(user)
    base = tmp_path / "served"
    (base / "1").mkdir(parents=True)
    (base / "1" / "README").write_text("someone else's version")
    with pytest.raises(FileExistsError, match=r"holds files kvae did not write \('README'\)"):
        kvae.export.export_saved_model(vae, base, version=1, overwrite=True)
    assert _tree(tmp_path) == {**before, "served": None, "served/1": None, "served/1/README": b"someone else's version"}


@pytest.mark.slow
def test_a_killed_export_leaves_nothing_behind_on_the_next_run(tmp_path):
    vae = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=(8,))
    base = tmp_path / "served"
    kvae.export.export_saved_model(vae, base)
    # What kills at the commit points of an --overwrite of version 1 leave: its half-written
    # temporary folder, and version 1 moved aside just before the new one was to be moved in.
    half = base / ".tmp-1-abc"
    half.mkdir()
    (half / ".kvae-partial").write_text("pid 1")
    (half / "saved_model.pb").write_bytes(b"half")
    moved = base / ".old-1-def"
    moved.mkdir()
    (moved / ".kvae-partial").write_text("pid 1")
    os.replace(base / "1", moved / "version")
    (base / ".tmp-2-ghi").mkdir()  # killed between making its folder and marking it
    (base / "notes").mkdir()  # the user's: never touched
    (base / ".tmp-mine").mkdir()  # the user's too, though empty and hidden
    assert kvae.export.export_saved_model(vae, base).name == "2"  # version 1 was put back first
    assert sorted(p.name for p in base.iterdir()) == [".tmp-mine", "1", "2", "notes"]
    assert kvae.export.exported_by_kvae(base / "1")


@pytest.mark.slow
def test_a_live_exports_temporary_folder_is_not_touched(tmp_path):
    vae = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=(8,))
    base = tmp_path / "served"
    live = base / ".tmp-1-live"
    live.mkdir(parents=True)
    with atomic.locked(live / ".kvae-partial", "pid 2", "an export"):  # another export is writing it
        kvae.export.export_saved_model(vae, base, version=1)
        assert live.is_dir()


# === Case 3: a backup is one atomic unit ===

def test_a_backup_is_weights_and_position_as_one_unit_and_a_damaged_one_falls_back(tmp_path):
    from conftest import tiny_vae, uniform_data

    model = tiny_vae()
    folder = tmp_path / "backup"
    model.fit(uniform_data(16), batch_size=8, epochs=3, verbose=0,
              callbacks=[kvae.callbacks.FiniteBackupAndRestore(folder)])
    assert [n for n, _ in backups.states(folder)] == [3, 2]  # the newest two
    assert backups.position(folder) == (3, 0)
    # A kill mid-write leaves only a hidden temporary folder: never read.
    (folder / ".tmp-state-00000004").mkdir()
    (folder / ".tmp-state-00000004" / backups.POSITION).write_text('{"epoch": 9, "step": 0}')
    assert backups.position(folder) == (3, 0)
    for garbage in ("", "[]", '{"epoch": "x"}', '{"epoch'):
        (folder / "state-00000003" / backups.POSITION).write_text(garbage)
        assert backups.position(folder) == (2, 0)  # the valid previous backup, no "Expecting value"
    restored = tiny_vae()
    callback = kvae.callbacks.FiniteBackupAndRestore(folder)
    callback.set_model(restored)
    assert callback.restore() == (2, 0)
    for state in ("state-00000002", "state-00000003"):
        (folder / state / backups.WEIGHTS).write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match=r"holds no readable backup \(2 damaged\); pass --overwrite"):
        callback.restore()


# === Case 4: --overwrite is a transaction ===

@pytest.mark.slow
def test_a_killed_overwrite_leaves_the_old_run_intact_and_resumes(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    old = _tree(out)
    # An --overwrite run killed after its second epoch: what it had written is all in .kvae-next.
    staged = RunFolder(out).stage()
    staged.start({"killed": True})
    state = staged.backup_path() / "state-00000001"
    state.mkdir(parents=True)
    assert {k: v for k, v in _tree(out).items() if not k.startswith((NEXT, "backup"))} == old
    # The old run is still the run: evaluated and exported as it was.
    assert main(["evaluate", str(out), "--iw-samples", "2", "--max-examples", "8"]) == 0
    assert main(["export", str(out), "--to", str(tmp_path / "served")]) == 0
    served = tf_load(tmp_path / "served" / "1")
    x = kvae.data.load_digits().x_test[:2]
    np.testing.assert_allclose(served.signatures["encode"](x=x)["mean"],
                               keras.saving.load_model(out / "model.keras").encode(x).mean(), rtol=1e-5)
    # Overwriting again (other options than the killed attempt) builds anew and swaps at the end.
    args = ["train", "--out", str(out), "--overwrite", *FAST[:-4], "--seed", "5", "--verbose", "0"]
    assert main(args) == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 5
    assert not (out / NEXT).exists() and not (out / SWAP).exists() and not (out / "backup").exists()


def tf_load(path):
    import tensorflow as tf

    return tf.saved_model.load(str(path))


@pytest.mark.slow
def test_a_diverged_overwrite_leaves_the_old_run_in_place(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    model_before = (out / "model.keras").read_bytes()
    err = _error(["train", "--out", str(out), "--overwrite", "--epochs", "2", "--verbose", "0",
                  "--learning-rate", "1e5"], capsys, code=1)
    assert "training diverged" in err
    assert (out / "model.keras").read_bytes() == model_before
    assert main(["evaluate", str(out), "--iw-samples", "2", "--max-examples", "8"]) == 0


def test_a_swap_cut_short_by_a_kill_finishes_on_the_next_open(finished, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    staged = RunFolder(out).stage()
    staged.start({"new": True})
    shutil.copy(out / "model.keras", staged.file("model.keras"))
    staged.write_json("metrics.json", {"new": True})
    names = {"old": sorted(p.name for p in out.iterdir() if p.name in kvae.run_folder.OUTPUTS),
             "new": ["config.json", "metrics.json", "model.keras"]}
    (out / SWAP).write_text(json.dumps(names))
    os.replace(out / "metrics.json", out / ".kvae-old-metrics")  # as if killed mid-way through the moves
    (out / ".kvae-old").mkdir()
    os.replace(out / ".kvae-old-metrics", out / ".kvae-old" / "metrics.json")
    RunFolder(out).load_model()  # any command's first read finishes the swap
    assert json.loads((out / "metrics.json").read_text()) == {"new": True}
    assert json.loads((out / "config.json").read_text()) == {"new": True}
    assert not (out / "samples.png").exists()  # the old run's pictures went with it
    assert not any(p.name.startswith((".kvae-old", ".kvae-next", ".kvae-swap")) for p in out.iterdir())


# === Case 5: one writer at a time ===

def test_a_second_writer_is_refused_naming_the_first(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    before = _tree(out)
    with atomic.locked(out / ".kvae-lock", "pid 4242 on host since 10:00:00: kvae train --epochs 60", "run"):
        err = _error(["train", "--out", str(out), "--overwrite", *FAST], capsys)
        assert err.endswith(f"--out {str(out)!r} is in use by another kvae process (pid 4242 on host since "
                            "10:00:00: kvae train --epochs 60); wait for it to finish, or use another folder")
        err = _error(["evaluate", str(out), "--iw-samples", "2", "--max-examples", "4"], capsys)
        assert "is in use by another kvae process (pid 4242" in err
    assert {k: v for k, v in _tree(out).items() if k != ".kvae-lock"} == \
        {k: v for k, v in before.items() if k != ".kvae-lock"}


def test_the_lock_goes_with_a_killed_process(tmp_path):
    lock = tmp_path / ".kvae-lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT);"
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(lock)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(atomic.Locked):
            with atomic.locked(lock, "me", "the folder"):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)
    with atomic.locked(lock, "me", "the folder"):  # no stale lock to clear by hand
        pass


# === Case 9: messages that name the file ===

def test_a_damaged_run_folder_is_named_in_one_line(finished, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(finished, out)
    (out / "config.json").write_text("[]")
    err = _error(["evaluate", str(out)], capsys)
    assert err.endswith(f"RUN_DIR {str(out)!r}: config.json must hold a JSON object of the run's options, "
                        "received a list")
    (out / "model.keras").write_bytes((out / "model.keras").read_bytes()[:500])
    err = _error(["export", str(out), "--to", str(tmp_path / "served")], capsys)
    assert f"RUN_DIR {str(out)!r}: model.keras is not a readable Keras model (truncated or corrupt" in err
    assert not (tmp_path / "served").exists()


def test_a_resume_after_the_data_shrank_is_refused(tmp_path, capsys):
    data = tmp_path / "data.npy"
    np.save(data, np.random.default_rng(0).uniform(size=(200, 8)).astype("float32"))
    out = tmp_path / "run"
    RunFolder(out).start({"data": str(data), "train_examples": 180, "test_examples": 20, "seed": 4})
    (out / "backup" / "run" / "state-00000001").mkdir(parents=True)
    (out / "backup" / "run" / "state-00000001" / backups.WEIGHTS).write_bytes(b"x")
    (out / "backup" / "run" / "state-00000001" / backups.POSITION).write_text('{"epoch": 1, "step": 0}')
    np.save(data, np.random.default_rng(0).uniform(size=(100, 8)).astype("float32"))
    before = _tree(tmp_path)
    err = _error(["train", "--data", str(data), "--out", str(out), *FAST], capsys)
    assert "holds an interrupted run with other options (train_examples: 180 then, 90 now" in err
    assert _tree(tmp_path) == before


@pytest.mark.slow
def test_a_resume_past_the_requested_epochs_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--out", str(out), *FAST]
    assert main(args) == 0
    (out / "model.keras").unlink()  # as if killed after its last backup, before the model was saved...
    state = out / "backup" / "run" / "state-00000009"
    state.mkdir(parents=True)
    (state / backups.WEIGHTS).write_bytes(b"x")
    (state / backups.POSITION).write_text('{"epoch": 9, "step": 0}')  # ...of a longer run
    err = _error(args, capsys)
    assert "holds an interrupted run already at epoch 9, past --epochs 2; pass --epochs 9 or more" in err


@pytest.fixture
def read_only(tmp_path, finished):
    """A folder no one can write, holding a copy of `finished` as `run`: a tmpfs remounted read-only
    for root (who ignores permissions), else mode 0555."""
    folder = tmp_path / "read_only"
    folder.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(folder)], check=True)
        shutil.copytree(finished, folder / "run")
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
        subprocess.run(["umount", str(folder)], check=True)
    else:
        shutil.copytree(finished, folder / "run")
        for path in (folder / "run", folder):
            path.chmod(0o555)
        yield folder
        for path in (folder, folder / "run"):
            path.chmod(0o755)


def test_read_only_targets_are_one_line_errors(finished, read_only, capsys):
    before = _tree(read_only)
    err = _error(["train", "--out", str(read_only / "new"), *FAST], capsys)
    assert err.endswith(f"--out {str(read_only / 'new')!r} is not writable (a read-only file system, or "
                        "permission denied)")
    err = _error(["export", str(finished), "--to", str(read_only / "served")], capsys)
    assert err.startswith(f"kvae export: error: cannot write {str(read_only / 'served')!r}")
    for command in (["evaluate", str(read_only / "run"), "--iw-samples", "2"], ["report", str(read_only / "run")]):
        err = _error(command, capsys)
        assert err.endswith(f"RUN_DIR {str(read_only / 'run')!r} is not writable (a read-only file system, or "
                            "permission denied)")
    assert _tree(read_only) == before


# === The fault-injection matrix: a SIGKILL at every commit point ===

def _kind(source, target):
    """A commit point's kind: what the rename does, numbers folded (every backup state is alike)."""
    source, target = str(source), str(target)
    if f"/{NEXT}/" in source and f"/{NEXT}/" not in target:
        return "swap: the new run's files moved in"
    if "/.kvae-old/" in target:
        return "swap: the old run's files moved out"
    name = os.path.relpath(target, os.path.dirname(source)) if f"/{NEXT}/" in target else os.path.basename(target)
    name = f"{NEXT}/{name}" if f"/{NEXT}/" in target else name
    if os.path.basename(name) in kvae.run_folder.PICTURES:
        return os.path.join(os.path.dirname(name), "picture")
    return "".join("#" if c.isdigit() else c for c in name)


def _kvae(index, log, argv):
    """`kvae ARGV` in a fresh process, SIGKILLed before its `index`-th rename (0: never)."""
    code, output = run([sys.executable, str(SCRIPTS / "kill_at_write.py"), str(index), str(log), "--", *argv],
                       f"{log}.out", timeout=600)
    return subprocess.CompletedProcess(argv, code, stdout=output, stderr=output)


# One kill per phase a resume handles differently: nothing trained yet (the folder's marker, then its
# config.json), mid-training (a backup state), trained but not published (metrics.json, then the
# report's pictures and report.md), and published (model.keras). The other renames of a phase leave the
# same state for a resume (the backup folder's marker is the config's twin).
NEW_RUN_KINDS = (".kvae-run", "config.json", "state-########", "metrics.json", "report.md", "model.keras")
# Kinds an --overwrite has of its own; its writes into .kvae-next are like a new run's, killed above.
OVERWRITE_KINDS = (f"{NEXT}/config.json", f"{NEXT}/model.keras", SWAP, "swap: the old run's files moved out",
                   "swap: the new run's files moved in")


@pytest.mark.e2e
@pytest.mark.parametrize("overwrite", [False, True], ids=["new-run", "overwrite"])
def test_a_run_killed_at_every_commit_point_resumes_to_the_uninterrupted_weights(finished, tmp_path, overwrite,
                                                                                  capsys):
    """SIGKILL just before each kind of rename a run makes; the same command again must end where one
    uninterrupted run does (to 1e-6), or refuse with a message. With --overwrite, a finished run with
    other options is in the folder first, and the folder holds a loadable model at every kill."""
    from concurrent.futures import ThreadPoolExecutor

    template = tmp_path / "template"
    if overwrite:
        assert main(["train", "--out", str(template), *FAST[:-4], "--seed", "5", "--verbose", "0"]) == 0
    argv = ["train", "--out", "RUN", *FAST, *(["--overwrite"] if overwrite else [])]

    def prepared(name):
        out = tmp_path / name
        if overwrite:
            shutil.copytree(template, out)
        return out, [str(out) if a == "RUN" else a for a in argv]

    out, command = prepared("census")
    census = tmp_path / "census.log"
    result = _kvae(0, census, command)
    assert result.returncode == 0, result.stderr[-2000:]
    _assert_same_weights(finished, out)
    first = {}
    for line in census.read_text().splitlines():
        index, source, target = line.split("\t")
        first.setdefault(_kind(source, target), int(index))
    expected = set(OVERWRITE_KINDS if overwrite else NEW_RUN_KINDS)
    assert expected <= set(first), sorted(first)
    points = sorted((index, kind) for kind, index in first.items() if kind in expected)

    def killed(point):  # two at a time, each in a fresh process
        index, kind = point
        out, command = prepared(f"kill-{index}")
        result = _kvae(index, tmp_path / f"kill-{index}.log", command)
        assert result.returncode == -9, f"not killed before a rename ({kind}): {result.stderr[-1000:]}"
        if overwrite:  # what a reader would find now, kept before the resume changes it
            shutil.copytree(out, tmp_path / f"seen-{index}", symlinks=True)
        return kind, out, command

    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(killed, points))
    for (index, _), (kind, out, command) in zip(points, runs):
        if overwrite:
            RunFolder(tmp_path / f"seen-{index}").load_model()  # the old run, or the new one: never none
        code = main(command)  # the same command again
        err = capsys.readouterr().err
        if code == 2:  # the finished run was committed when the kill came
            assert "already holds a trained model" in err, (kind, err)
        else:
            assert code == 0, (kind, err)
        _assert_same_weights(finished, out)
        leftovers = [p.name for p in out.iterdir() if p.name.startswith((".tmp-", NEXT, SWAP, ".kvae-old"))]
        assert code == 2 or not leftovers, (kind, leftovers)


def test_backup_marker_names_the_run(tmp_path):
    run = RunFolder(tmp_path / "a")
    run.claim_backup(tmp_path / "b")
    assert json.loads((tmp_path / "b" / BACKUP_MARKER).read_text()) == {"run": str((tmp_path / "a").resolve()),
                                                                       "created": True}
