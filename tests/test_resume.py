"""A `kvae train` killed with SIGKILL and started again resumes from its backup."""

import csv
import json
import sys
import time

import keras
import numpy as np
import pytest

import kvae  # noqa: F401  (registers the classes for load_model)
from kvae.callbacks import backup as backups
from distributed import free_ports, kill, run_all, start, tf_config, wait_for
from kvae_cli import main

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_resume")

# A conditional VAE (labels in the epoch-keyed stream) with the flow posterior (its MADE resumes
# with the model), and a per-step KL warm-up over the first 3 epochs: kills land mid-schedule,
# which the step evaluates from the restored optimizer's counter.
ARGS = ["--epochs", "6", "--batch-size", "32", "--hidden", "16", "--latent-dim", "2", "--seed", "3", "--verbose", "0",
        "--posterior", "iaf", "--iaf-steps", "1", "--conditional", "--kl-warmup", "3"]


# The learned VampPrior and the full-covariance posterior with the IWAE objective (DReG): the
# prior's pseudo-inputs and the k-sample noise must resume exactly too.
FAMILY_ARGS = ARGS[: ARGS.index("--posterior")] + [
    "--prior", "vamp", "--posterior", "full", "--prior-components", "4", "--objective", "iwae", "--iw-train-samples", "3",
    "--iw-gradient", "dreg"]


# The default parts, for the multi-worker run: two workers sum gradients in another order than
# one process, and with the flow and labels that rounding grows past 1e-5 in 300 steps (Adam
# scales near-zero gradients up); the plain model stays equal to 1e-6 (the flow and labels are
# checked across workers in tests/test_distribute.py).
PLAIN_ARGS = ARGS[: ARGS.index("--posterior")] + ["--kl-warmup", "3"]

# The flow-and-labels run is also a hierarchy: the top-down prior over latent layers of 2 and 1, whose
# conditional networks must resume with the model (the last --latent-dim given counts).
HIERARCHY_ARGS = ARGS + ["--latent-dim", "2", "1"]


def _kvae(out, *extra, args=ARGS):
    return [sys.executable, "-m", "kvae", "train", "--out", str(out), *args, *extra]


def _epochs(out):
    path = out / "history.csv"
    if not path.is_file():
        return []
    with open(path) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _backup_epoch(backup_dir):
    return backups.position(backup_dir)[0]


def _weights(out):
    return keras.saving.load_model(out / "model.keras").get_weights()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert main(["train", "--out", str(out), *HIERARCHY_ARGS]) == 0
    return out


@pytest.fixture(scope="module")
def uninterrupted_plain(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted_plain") / "run"
    assert main(["train", "--out", str(out), *PLAIN_ARGS]) == 0
    return out


@pytest.fixture(scope="module")
def uninterrupted_family(tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted_family") / "run"
    assert main(["train", "--out", str(out), *FAMILY_ARGS]) == 0
    return out


@pytest.mark.e2e
@pytest.mark.parametrize("family", [False, True], ids=["top-down-iaf-conditional-kl-warmup",
                                                                "vamp-full-iwae-dreg"])
def test_killed_run_resumes_and_ends_like_an_uninterrupted_one(tmp_path, request, family):
    args = FAMILY_ARGS if family else HIERARCHY_ARGS
    uninterrupted = request.getfixturevalue("uninterrupted_family" if family else "uninterrupted")
    out = tmp_path / "run"
    process = start(_kvae(out, args=args), tmp_path / "first.log")
    wait_for(lambda: len(_epochs(out)) >= 2, [process], timeout=120, what="two finished epochs")
    kill(process)  # SIGKILL: no chance to clean up
    assert not (out / "model.keras").exists() and (out / "backup").is_dir()
    done_before_kill = len(_epochs(out))
    assert done_before_kill < 6

    assert main(["train", "--out", str(out), *args]) == 0  # the same command again
    assert _epochs(out) == list(range(6))  # each epoch once, none repeated
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 6 and metrics["resumed_from_epoch"] >= 2
    assert metrics["parts"]["prior"]["class"] == ("VampPrior" if family else "TopDown")
    assert not (out / "backup").exists()  # removed once the model was saved
    # Same weights, optimizer state, noise state and epoch-keyed data: the same end.
    for a, b in zip(_weights(uninterrupted), _weights(out)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


# A streamed image folder with long epochs (405 steps) and a backup every 25 steps.
STEP_ARGS = ["--epochs", "3", "--batch-size", "4", "--hidden", "16", "--latent-dim", "2", "--seed", "3", "--verbose",
             "0", "--image-size", "8x8", "--backup-every", "25"]


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory):
    import tensorflow as tf

    digits = kvae.data.load_digits()
    root = tmp_path_factory.mktemp("digit_pngs") / "digits"
    x = np.concatenate([digits.x_train, digits.x_test])
    y = np.concatenate([digits.y_train, digits.y_test])
    for i, (image, label) in enumerate(zip(x, y)):
        (root / str(label)).mkdir(parents=True, exist_ok=True)
        (root / str(label) / f"{i}.png").write_bytes(tf.io.encode_png(np.round(image * 255).astype(np.uint8)).numpy())
    return root


@pytest.fixture(scope="module")
def uninterrupted_steps(tmp_path_factory, digit_folder):
    out = tmp_path_factory.mktemp("uninterrupted_steps") / "run"
    assert main(["train", "--out", str(out), "--data", str(digit_folder), *STEP_ARGS]) == 0
    return out


def _position(backup_dir):
    try:
        return backups.position(backup_dir)
    except OSError:  # a backup being replaced as it is read
        return (0, 0)


@pytest.mark.e2e
def test_a_run_killed_mid_epoch_resumes_at_its_last_saved_step(tmp_path, digit_folder, uninterrupted_steps):
    command = _kvae(tmp_path / "run", "--data", str(digit_folder), args=STEP_ARGS)
    for attempt in range(3):  # a kill can land just after an epoch's end; then try again
        out = tmp_path / f"run-{attempt}"
        command[command.index("--out") + 1] = str(out)
        process = start(command, tmp_path / f"first-{attempt}.log")
        backup = out / "backup" / "run"
        wait_for(lambda: _position(backup)[0] >= 1 and _position(backup)[1] > 0, [process],
                 timeout=120, what="a backup in the middle of epoch 2")
        kill(process)
        epoch, step = _position(backup)
        if step > 0:
            break
    assert not (out / "model.keras").exists() and 0 < step < 405 and step % 25 == 0
    assert subprocess_run(command) == 0  # the same command again
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["resumed_from_epoch"], metrics["resumed_from_step"]) == (epoch, step)
    assert _epochs(out) == [0, 1, 2]  # the interrupted epoch's row is written once, when it ends
    for a, b in zip(_weights(uninterrupted_steps), _weights(out)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def subprocess_run(command):
    return main(command[command.index("train"):])


def test_resume_refuses_a_backup_made_with_other_options(tmp_path, capsys):
    out = tmp_path / "run"
    state = out / "backup" / "run" / "state-00000001"
    state.mkdir(parents=True)
    (state / backups.WEIGHTS).write_bytes(b"x")
    (state / backups.POSITION).write_text('{"epoch": 1, "step": 0}')
    (out / "config.json").write_text('{"latent_dim": 5, "seed": 3}')
    assert main(["train", "--out", str(out), *ARGS]) == 2
    err = capsys.readouterr().err
    assert "holds an interrupted run with other options (latent_dim: 5 then, 2 now)" in err
    assert "pass --overwrite to start again" in err


@pytest.mark.e2e
def test_multi_worker_run_resumes_after_a_worker_is_killed(tmp_path, uninterrupted_plain):
    out = tmp_path / "run"
    ports = free_ports(2)

    def launch(tag):
        return [
            start(_kvae(out, "--strategy", "multi_worker", args=PLAIN_ARGS), tmp_path / f"{tag}-{i}.log",
                  TF_CONFIG=tf_config(ports, i))
            for i in range(2)
        ]

    workers = launch("first")
    wait_for(lambda: len(_epochs(out)) >= 3, workers, timeout=180, what="three finished epochs")
    kill(workers[1])  # one worker dies; the other blocks on its peer...
    kill(workers[0])  # ...until its pod is restarted too (as Kubernetes would)
    assert len(_epochs(out)) < 6
    # Workers killed at slightly different moments can hold backups one epoch
    # apart; make it so here, so that resuming must bring them back in step.
    folders = [out / "backup" / "run" / f"worker-{i}" for i in range(2)]
    epochs = [_backup_epoch(b) for b in folders]
    if epochs[0] == epochs[1]:
        backups.drop_newest(folders[1])
    assert _backup_epoch(folders[1]) != _backup_epoch(folders[0])

    codes = run_all(launch("second"), timeout=240)
    logs = "\n".join(p.read_text()[-1500:] for p in sorted(tmp_path.glob("second-*.log")))
    assert codes == [0, 0], logs
    assert "resuming from epoch" in logs
    assert _epochs(out) == list(range(6))
    assert not (out / "backup").exists()
    for a, b in zip(_weights(uninterrupted_plain), _weights(out)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_diverged_training_exits_1_and_publishes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    # The default 64-400-20 network with this step size overflows within a few batches.
    code = main(["train", "--out", str(out), "--epochs", "2", "--verbose", "0", "--learning-rate", "1e5"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1
    assert err.startswith("kvae train: error: training diverged: the loss became NaN or Inf in epoch 1")
    assert "no epoch had completed; lower --learning-rate and pass --overwrite to start again" in err
    assert not (out / "model.keras").exists() and not (out / "metrics.json").exists()


def test_backup_never_saves_a_diverged_epoch(tmp_path):
    from conftest import tiny_vae, uniform_data
    from kvae.cli import resume

    model = tiny_vae()
    backup = kvae.callbacks.FiniteBackupAndRestore(tmp_path / "backup")

    class PoisonAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                kernel = model.decoder.get_layer("likelihood_params").kernel
                kernel.assign(np.full(kernel.shape, np.nan, "float32"))

    model.fit(uniform_data(16), batch_size=8, epochs=3, verbose=0,
              callbacks=[backup, PoisonAfterFirstEpoch(), keras.callbacks.TerminateOnNaN()])
    assert resume.backup_epoch(tmp_path / "backup") == 1  # epoch 2 diverged and was not saved
    restored = tiny_vae()
    restored.load_weights(backups.states(tmp_path / "backup")[0][1] / backups.WEIGHTS)
    assert all(np.all(np.isfinite(w)) for w in restored.get_weights())


@pytest.mark.parametrize("steps, positions", [
    (10, [(0, 5), (1, 0), (1, 5), (2, 0)]),  # calls end at 5 and 10: step 10 is the epoch's own backup
    (12, [(0, 5), (0, 10), (1, 0), (1, 5), (1, 10), (2, 0)]),  # 2 calls of 5, then 2 single steps
])
@pytest.mark.slow
def test_step_backups_fall_inside_an_epoch_and_its_end_is_the_next_epochs_start(tmp_path, steps, positions):
    from conftest import tiny_vae, uniform_data

    model = tiny_vae()
    model.compile(optimizer="adam", steps_per_execution=5)
    seen = []

    class Positions(keras.callbacks.Callback):  # what a SIGKILL right after each call would resume at
        def on_train_batch_end(self, batch, logs=None):
            self.record()

        def on_epoch_end(self, epoch, logs=None):
            self.record()

        def record(self):
            position = backups.position(tmp_path / "backup") if backups.states(tmp_path / "backup") else None
            if position and (not seen or seen[-1] != position):
                seen.append(position)

    stream = kvae.data.make_dataset(uniform_data(steps), 1, shuffle=True, seed=0, start_epoch=0)
    model.fit(stream, steps_per_epoch=steps, epochs=2, verbose=0,
              callbacks=[kvae.callbacks.FiniteBackupAndRestore(tmp_path / "backup", save_freq=5), Positions()])
    assert seen == positions


def test_an_unreadable_latest_backup_falls_back_to_the_epoch_before(tmp_path):
    import tensorflow as tf

    from conftest import tiny_vae, uniform_data
    from kvae.cli import resume

    model = tiny_vae()
    backup_dir = tmp_path / "backup"
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(model.get_weights())

    model.fit(uniform_data(16), batch_size=8, epochs=2, verbose=0,
              callbacks=[kvae.callbacks.FiniteBackupAndRestore(backup_dir), Snapshot()])
    assert resume.backup_epoch(backup_dir) == 2
    latest = backups.states(backup_dir)[0][1] / backups.WEIGHTS
    latest.write_bytes(latest.read_bytes()[:100])  # a damaged file (a kill mid-write leaves no state at all)

    restored, _, position = resume.restore(tiny_vae, tf.distribute.get_strategy(), backup_dir)
    assert position == (1, 0)
    for a, b in zip(snapshots[0], restored.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.e2e
def test_soak_repeated_kills_end_with_every_epoch_once_and_a_finite_loss(tmp_path):
    """1,200 steps (12 epochs × 100), SIGKILLed three times at different points and restarted."""
    import random

    out = tmp_path / "run"
    args = [sys.executable, "-m", "kvae", "train", "--out", str(out), "--epochs", "12", "--batch-size", "16",
            "--hidden", "16", "--latent-dim", "2", "--seed", "5", "--verbose", "0"]
    rng = random.Random(0)
    for cycle in range(3):
        process = start(args, tmp_path / f"cycle-{cycle}.log")
        target = len(_epochs(out)) + rng.randint(1, 3)
        wait_for(lambda: len(_epochs(out)) >= target, [process], timeout=120, what=f"epoch {target}")
        time.sleep(rng.uniform(0.0, 0.3))  # land anywhere in the epoch, backups included
        kill(process)
        assert not (out / "model.keras").exists()
    assert run_all([start(args, tmp_path / "final.log")], timeout=300) == [0], (tmp_path / "final.log").read_text()[-2000:]
    assert _epochs(out) == list(range(12))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 12 and np.isfinite(metrics["test_neg_elbo"])
    with open(out / "history.csv") as f:
        assert all(np.isfinite(float(row["loss"])) for row in csv.DictReader(f))


def test_history_is_cut_back_to_the_resumed_epoch_and_torn_rows_dropped(tmp_path):
    from kvae.run_folder import truncate_history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,kl\n0,3.5,1.0\n1,3.0,0.9\n2,2.5,0.8\n3,2.")  # last row torn by a kill
    truncate_history(path, 2)
    assert path.read_text() == "epoch,loss,kl\n0,3.5,1.0\n1,3.0,0.9\n"
    truncate_history(path, 0)
    assert not path.exists()
