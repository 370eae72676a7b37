import csv
import json
import os

import numpy as np
import pytest
from PIL import Image

from kvae_cli import main

# Its module-scoped fixtures train or export: one worker runs them once (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_cli")

FAST = ["--epochs", "2", "--hidden", "16", "--latent-dim", "2", "--verbose", "0"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main(["train", "--out", str(out)] + FAST) == 0
    return out


@pytest.mark.slow
def test_train_writes_a_complete_run_folder(run_dir):
    assert sorted(p for p in os.listdir(run_dir) if not p.startswith(".")) == [
        "config.json", "curves.png", "history.csv", "latent.png", "manifold.png", "metrics.json", "model.keras",
        "reconstructions.png", "report.md", "samples.png",
    ]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["train_examples"] == 1437
    assert metrics["train_samples_per_s"] > 0
    for key in ("test_neg_elbo", "test_reconstruction", "test_kl"):
        assert np.isfinite(metrics[key])
    # Per example in nats: 64 pixels, so between 0 and ~64·log 2 + KL for a 2-epoch model.
    assert 10 < metrics["test_neg_elbo"] < 60
    assert metrics["test_neg_elbo"] == pytest.approx(metrics["test_reconstruction"] + metrics["test_kl"], rel=1e-5)
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"loss", "reconstruction", "kl", "elbo", "val_loss"} <= set(rows[0])
    config = json.loads((run_dir / "config.json").read_text())
    assert config["data"] == "digits" and config["hidden"] == [16] and config["epochs"] == 2


@pytest.mark.slow
def test_train_pngs_have_the_expected_layout(run_dir):
    samples = Image.open(run_dir / "samples.png")
    recon = Image.open(run_dir / "reconstructions.png")
    # 64 samples: 8×8 cells of 0.6 in at 100 dpi; reconstructions: 2 rows of 10.
    assert samples.size == (480, 480)
    assert recon.size == (600, 160)  # plus 0.2 in for each row's label
    assert np.asarray(samples.convert("L")).std() > 5  # not a blank picture


def test_evaluate_reports_elbo_and_importance_sampled_nll(run_dir, capsys):
    assert main(["evaluate", str(run_dir), "--iw-samples", "20"]) == 0
    out = capsys.readouterr().out
    assert "IS-NLL (K=20)" in out and "bits/dim" in out
    result = json.loads((run_dir / "evaluation.json").read_text())
    assert result["iw_samples"] == 20 and result["test_examples"] == 360
    assert result["test_nll"] <= result["test_neg_elbo"] + 0.05
    assert result["test_nll_bits_per_dim"] == pytest.approx(result["test_nll"] / (64 * np.log(2)))
    assert result["test_neg_elbo"] == pytest.approx(result["test_reconstruction"] + result["test_kl"], rel=1e-5)
    assert 0 < result["test_neg_elbo_stderr"] < 2 and 0 < result["test_nll_stderr"] < 2
    assert result["active_units"] in (0, 1, 2) and result["latent_dim"] == 2
    assert f"active units {result['active_units']} of 2" in out
    # The digits are grey levels under a Bernoulli: flagged, wherever the number is written.
    assert result["nll_kind"] == "not a density" and "the NLL is NOT a likelihood of the data" in out
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["nll_kind"] == "not a density"
    assert metrics["test_neg_elbo_bits_per_dim"] == pytest.approx(metrics["test_neg_elbo"] / (64 * np.log(2)))


def test_report_lists_metrics_and_embeds_every_picture(run_dir, capsys):
    main(["evaluate", str(run_dir), "--iw-samples", "5", "--max-examples", "50"])
    assert main(["report", str(run_dir)]) == 0
    report = (run_dir / "report.md").read_text()
    for picture in ("curves.png", "samples.png", "reconstructions.png", "latent.png", "manifold.png"):
        assert f"]({picture})" in report and (run_dir / picture).stat().st_size > 1000
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["test_examples"] == 50
    assert "## evaluation.json" in report and f"| test_nll | {evaluation['test_nll']:.4g} |" in report
    assert "## metrics.json" in report and "data **digits** (1437 train / 360 test, 8×8×1)" in report
    assert "**The likelihoods below are NOT a likelihood of the data: a Bernoulli on values other than 0 and 1" \
        in report
    # The manifold of a 2-D latent space: 15×15 cells of 8×8 pixels.
    assert Image.open(run_dir / "manifold.png").size == (15 * 9 + 1, 15 * 9 + 1)
    # Training curves: a panel per logged metric (loss, reconstruction, kl, active_units).
    assert Image.open(run_dir / "curves.png").size == (4 * 320, 280)


@pytest.mark.slow
def test_train_with_warmup_free_bits_bfloat16_images_and_tensorboard(tmp_path):
    import keras
    import tensorflow as tf

    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--epochs", "2", "--hidden", "16", "--latent-dim", "3", "--verbose", "0",
            "--kl-warmup", "2", "--free-bits", "0.1", "--image-every", "1", "--tensorboard",
            "--dtype-policy", "mixed_bfloat16"]
    assert main(args) == 0
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # 12 steps per epoch; each step evaluates β(t) = t/24, the epoch logs its last step's: 11/24, 23/24.
    assert [float(r["beta"]) for r in rows] == pytest.approx([11 / 24, 23 / 24])
    config = json.loads((out / "config.json").read_text())
    assert config["free_bits"] == 0.1 and config["dtype_policy"] == "mixed_bfloat16"
    model = keras.saving.load_model(out / "model.keras")
    assert model.encoder.get_layer("hidden_0").compute_dtype == "bfloat16"
    assert model.objective.get_config()["beta"] == pytest.approx(23 / 24)  # a number: the last step's β, no schedule
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        "reconstructions_epoch_0001.png", "reconstructions_epoch_0002.png",
        "samples_epoch_0001.png", "samples_epoch_0002.png",
    ]
    tags = set()
    for path in (out / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {v.tag for v in event.summary.value}
    assert {"samples", "reconstructions", "epoch_loss", "epoch_beta"} <= tags
    assert (out / "traversal.png").is_file() and not (out / "manifold.png").exists()
    report = (out / "report.md").read_text()
    # β as the run ended (the last warm-up step's), the floor, and the warm-up.
    assert "ELBO objective, β 0.9583, free bits 0.1 nats/dim;" in report and "KL warm-up over 2 epochs." in report
    # Plain numbers for people, no Python or NumPy reprs (np.int64(7), [16]).
    assert "mlp 16 hidden units" in report and "Latent traversals: dimensions " in report
    assert "np." not in report and "int64" not in report and "[16]" not in report


def test_sample_writes_a_grid(run_dir, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", str(run_dir), "--n", "12", "--columns", "6", "--out", str(out), "--seed", "1"]) == 0
    assert Image.open(out).size == (360, 120)
    assert "wrote 12 samples" in capsys.readouterr().out


@pytest.mark.slow
def test_export_writes_versions_and_refuses_to_overwrite(run_dir, tmp_path, capsys):
    base = tmp_path / "saved_models" / "digits"
    assert main(["export", str(run_dir), "--to", str(base)]) == 0
    assert main(["export", str(run_dir), "--to", str(base), "--score-samples", "5"]) == 0
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    assert (base / "1" / "saved_model.pb").is_file()
    assert (base / "2" / "assets.extra" / "tf_serving_warmup_requests").is_file()
    capsys.readouterr()
    err = _error(["export", str(run_dir), "--to", str(base), "--version", "1"], capsys)
    assert "version folder" in err and "already exists" in err
    assert main(["export", str(run_dir), "--to", str(base), "--version", "1", "--overwrite"]) == 0


def _error(argv, capsys):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_existing_run_is_not_overwritten(run_dir, capsys):
    before = (run_dir / "model.keras").read_bytes()
    err = _error(["train", "--out", str(run_dir)] + FAST, capsys)
    assert "already holds a trained model; pass --overwrite" in err
    assert (run_dir / "model.keras").read_bytes() == before


def test_user_errors_exit_2_with_one_line(tmp_path, capsys):
    err = _error(["train", "--data", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "r")], capsys)
    assert err.startswith("kvae train: error: `data` file not found:") and "nope.npz" in err
    assert not (tmp_path / "r").exists()  # nothing written for a failed start
    err = _error(["train", "--data", "mnist", "--out", str(tmp_path / "r")], capsys)
    assert "`data` must be one of ['digits', 'fashion_mnist']" in err
    err = _error(["evaluate", str(tmp_path)], capsys)
    assert "has no model.keras: expected a folder written by `kvae train`" in err
    err = _error(["sample", str(tmp_path / "missing")], capsys)
    assert "is not a folder" in err
    err = _error(["train", "--likelihood", "gaussian", "--binarize", "--out", str(tmp_path / "r")], capsys)
    assert "--binarize needs --likelihood bernoulli" in err
    err = _error(["train", "--objective", "iwae", "--free-bits", "0.5", "--out", str(tmp_path / "r")], capsys)
    assert "--free-bits needs --objective elbo (the IWAE bound has no per-dimension KL to floor)" in err
    err = _error(["train", "--iw-train-samples", "3", "--out", str(tmp_path / "r")], capsys)
    assert "--iw-train-samples needs --objective iwae, received: --objective elbo" in err
    err = _error(["train", "--prior-components", "3", "--out", str(tmp_path / "r")], capsys)
    assert "--prior-components needs --prior mixture or vamp, received: --prior normal" in err
    np.save(tmp_path / "unlabelled.npy", np.random.default_rng(0).uniform(size=(30, 4)).astype("float32"))
    err = _error(["train", "--conditional", "--data", str(tmp_path / "unlabelled.npy"), "--out", str(tmp_path / "r")],
                 capsys)
    assert "--conditional needs class labels, and --data" in err and "has none (a .npz needs a `y` array, an image folder class sub-folders" in err
    err = _error(["train", "--iaf-steps", "3", "--out", str(tmp_path / "r")], capsys)
    assert "--iaf-steps needs --posterior iaf, received: --posterior normal" in err
    err = _error(["train", "--posterior", "iaf", "--prior", "vamp", "--out", str(tmp_path / "r")], capsys)
    assert "the VampPrior (its components are the posterior at the pseudo-inputs) needs a posterior" in err
    err = _error(["train", "--prior", "mixture", "--free-bits", "0.5", "--out", str(tmp_path / "r")], capsys)
    assert "free_bits needs a KL with a closed form per latent dimension" in err


@pytest.mark.e2e
def test_train_with_a_vamp_prior_and_the_iwae_objective_records_its_parts(tmp_path, capsys):
    out = tmp_path / "family"
    argv = ["train", "--out", str(out), "--prior", "vamp", "--prior-components", "5", "--posterior", "full",
            "--objective", "iwae", "--iw-train-samples", "3", "--iw-gradient", "dreg", "--kl-warmup", "2"]
    assert main(argv + FAST) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    parts = metrics["parts"]
    assert parts["prior"] == {"class": "VampPrior", "num_components": 5, "clip": [0.0, 1.0], "seed": 0}
    assert parts["posterior"] == {"class": "FullNormal"}
    # The IWAE's weights warmed up over the 2 epochs: β is logged rising, and is saved at its last step's value.
    history = (out / "history.csv").read_text().splitlines()
    beta = [float(row.split(",")[history[0].split(",").index("beta")]) for row in history[1:]]
    assert 0 < beta[0] < beta[1] < 1
    assert parts["objective"].pop("beta") == pytest.approx(beta[1], rel=1e-6)
    assert parts["objective"] == {"class": "IWAE", "num_samples": 3, "gradient": "dreg"}
    report = (out / "report.md").read_text()
    assert ("VampPrior (5 pseudo-inputs); full-covariance Gaussian posterior; IWAE objective, k = 3 (dreg gradient)"
            in report)
    assert main(["evaluate", str(out), "--iw-samples", "10", "--max-examples", "20"]) == 0
    assert main(["export", str(out), "--to", str(tmp_path / "served"), "--score-samples", "4"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert (config["prior"], config["objective"], config["iw_train_samples"]) == ("vamp", "iwae", 3)
    # A resumed run must use the same parts.
    from kvae.cli import resume

    with pytest.raises(ValueError, match=r"prior: 'vamp' then, 'mixture' now"):
        resume.check_same_run(config, dict(config, prior="mixture"), out)


@pytest.mark.slow
def test_a_conditional_run_samples_one_row_per_class_and_scores_given_the_labels(tmp_path, capsys):
    out = tmp_path / "conditional"
    assert main(["train", "--out", str(out), "--conditional", "--posterior", "iaf"] + FAST) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["num_classes"] == 10 and metrics["parts"]["posterior"]["class"] == "IAF"
    report = (out / "report.md").read_text()
    assert "conditional on the class labels" in report
    assert "## Samples, one row per class, 8 prior draws each (rows 0: 0, 1: 1, 2: 2" in report
    width, height = Image.open(out / "samples.png").size
    assert height > width  # 10 rows of 8
    capsys.readouterr()
    assert main(["sample", str(out), "--n", "20", "--out", str(tmp_path / "s.png")]) == 0
    assert "(one row per class, 2 per row)" in capsys.readouterr().out
    assert main(["sample", str(out), "--n", "4", "--label", "3", "--out", str(tmp_path / "s3.png")]) == 0
    assert main(["evaluate", str(out), "--iw-samples", "10", "--max-examples", "20"]) == 0
    assert np.isfinite(json.loads((out / "evaluation.json").read_text())["test_nll"])
    assert main(["export", str(out), "--to", str(tmp_path / "served")]) == 0
    err = _error(["sample", str(out), "--label", "10", "--out", str(tmp_path / "x.png")], capsys)
    assert "--label must be a class in [0, 10), received: 10" in err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--epochs", "0"], "argument --epochs: expected a positive integer, received '0'"),
        (["train", "--beta", "-1"], "argument --beta: expected a number >= 0, received '-1'"),
        (["evaluate", "run", "--iw-samples", "0"], "argument --iw-samples: expected a positive integer, received '0'"),
        (["evaluate", "run", "--max-examples", "x"], "argument --max-examples: expected a positive integer, received 'x'"),
        (["sample", "run", "--columns", "-2"], "argument --columns: expected a positive integer, received '-2'"),
        (["train", "--architecture", "rnn"], "argument --architecture: invalid choice: 'rnn'"),
        (["train", "--likelihood", "poisson"], "argument --likelihood: invalid choice: 'poisson'"),
        (["sample", "run", "--out", "grid.jpg"], "argument --out: expected a .png file, received 'grid.jpg'"),
        (["export", "run", "--to", "m", "--version", "0"], "argument --version: expected a positive integer, received '0'"),
    ],
)
def test_bad_options_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err
