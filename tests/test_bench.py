"""The benchmarks run end to end on a tiny budget, so they never rot."""

import json

import numpy as np
import pytest

import kvae
from conftest import load_script


@pytest.mark.e2e
def test_distributed_bench_smoke(tmp_path):
    out = tmp_path / "d.json"
    from distributed import start  # the workers fork from a server that imported kvae once

    summary = load_script("bench/distributed.py").main(["--steps", "3", "--repeats", "1", "--out", str(out)],
                                                       launch=start)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(summary))
    assert {s: v["replicas"] for s, v in saved["settings"].items()} == {"default": 1, "mirrored": 2, "2 workers": 2}
    assert all(v["steps_per_s_median"] > 0 for v in saved["settings"].values())
    assert saved["settings"]["default"]["ratio_to_default"] == 1.0


@pytest.mark.e2e
def test_serving_bench_smoke(tmp_path):
    out = tmp_path / "s.json"
    summary = load_script("bench/serving.py").main(["--calls", "3", "--batch-sizes", "1", "4", "--out", str(out)])
    rows = json.loads(out.read_text())["rows"]
    assert rows == json.loads(json.dumps(summary["rows"]))
    assert {(r["signature"], r["batch"]) for r in rows} == {
        (s, b) for s in ("encode", "decode", "reconstruct", "generate", "score", "score_k") for b in (1, 4)
    }
    assert all(0 < r["p50_ms"] <= r["p99_ms"] for r in rows)


@pytest.mark.e2e
def test_fashion_conv_vs_mlp_bench_smoke(tmp_path, fashion_data_dir):
    out = tmp_path / "f.json"
    argv = ["--epochs", "1", "--warmup-epochs", "1", "--train-examples", "256", "--test-examples", "12",
            "--iw-samples", "4", "--out", str(out), "--runs-dir", str(tmp_path / "runs")]
    payload = load_script("bench/fashion_conv_vs_mlp.py").main(
        argv + (["--data-dir", fashion_data_dir] if fashion_data_dir else [])
    )
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    assert sorted(saved["runs"]) == ["conv + warm-up", "mlp"]
    conv, mlp = saved["runs"]["conv + warm-up"], saved["runs"]["mlp"]
    assert (conv["architecture"], conv["warmup_epochs"], mlp["architecture"], mlp["warmup_epochs"]) == ("conv", 1, "mlp", 0)
    assert saved["paired"]["nll_difference"] == pytest.approx(conv["test_nll"] - mlp["test_nll"], rel=1e-4, abs=1e-3)
    assert saved["paired"]["nll_difference_stderr"] > 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["conv", "mlp"]
    assert conv["nll_kind"] == mlp["nll_kind"] == "mass"  # binarised data under a Bernoulli


@pytest.mark.e2e
def test_regression_bench_smoke(tmp_path, fashion_data_dir, monkeypatch):
    """`bench/regression.py`: this checkout against a commit, alternating, in a git worktree."""
    if fashion_data_dir:
        monkeypatch.setenv("KVAE_DATA_DIR", fashion_data_dir)
    out = tmp_path / "regression.json"
    payload = load_script("bench/regression.py").main(
        ["--base", "HEAD", "--runs", "1", "--epochs", "2", "--train-examples", "1024", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    assert len(saved["runs"]["base"]) == len(saved["runs"]["this"]) == 1 and saved["ratio_this_to_base"] > 0
    assert len(saved["base_commit"]) == 40


@pytest.mark.e2e
def test_family_bench_smoke(tmp_path, fashion_data_dir):
    """`bench/family.py --quick`: kvae's family (and pythae's, when installed) train, score and pair."""
    out = tmp_path / "family.json"
    # A model per part and its pythae counterpart: the full list is the same code, longer.
    models = ["kvae VAE", "pythae VAE", "kvae IWAE k=5", "kvae VampPrior", "pythae VAMP"]
    argv = ["--quick", "--out", str(out), "--models", *models] + (["--data-dir", fashion_data_dir] if fashion_data_dir else [])
    payload = load_script("bench/family.py").main(argv)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    assert set(saved["runs"]) == {m for m in models if saved["pythae"] or m.startswith("kvae")}
    for run in saved["runs"].values():
        assert run["test_examples"] == 50 and run["iw_samples"] == 20 and run["samples_per_s"] > 0
        assert run["test_nll"] <= run["test_neg_elbo"] + 5  # a bound that K samples tighten (noisy at K=20)
    assert [(o["better"], o["worse"]) for o in saved["orderings"]] == [
        ("kvae IWAE k=5", "kvae VAE"), ("kvae VampPrior", "kvae VAE")]
    assert set(saved["comparisons"]) == ({"VAE", "VampPrior"} if saved["pythae"] else set())
    # Grey levels under a Bernoulli: every number is flagged as no likelihood of the data.
    assert saved["nll_meaning"] == [kvae.likelihoods.Bernoulli().what_nll_measures(np.array([0.5]))[1]]


@pytest.mark.e2e
def test_performance_bench_runs_end_to_end_on_the_smoke_budget(tmp_path, fashion_data_dir):
    """`python -m bench --quick`: every section runs and lands in the JSON.

    Three rows (`--only`) keep the smoke test short; the other rows only pass
    other arguments to the same worker jobs.
    """
    only = ["kvae", "kvae KLWarmup", "pytorch fast"]
    output, saved = _run_quick("bench", tmp_path / "performance.json", fashion_data_dir, ["--only", *only])
    has_torch = "pytorch fast" in saved["runs"]
    assert set(saved["implementations"]) == set(only if has_torch else only[:2])
    for name, s in saved["implementations"].items():
        # Fractions of measured peaks: in (0, 1); their order is a timing, which the suite's parallel
        # workers disturb, so it is the benchmark's to report, not this smoke test's to assert.
        assert s["samples_per_s_median"] > 0 and 0 < s["roofline_fraction_bf16"] < 1 and 0 < s["roofline_fraction"] < 1
        assert s["peak_rss_mib"] > 0
        assert 100 < s["test_neg_elbo_mean"] < 600  # nats per 784-pixel image after 2 short epochs
        if has_torch and name != "pytorch fast":
            assert s["ratio_to_pytorch fast"] > 0
    assert [r["steps_per_execution"] for r in saved["runs"]["kvae"]] == [32]  # the default, "auto"
    assert [r["steps_per_execution"] for r in saved["runs"]["kvae KLWarmup"]] == [32]  # the schedule runs in the step
    profile = saved["profile"]
    assert profile["op_us_per_step"]["matmul (forward)"] > 0 and profile["op_us_per_step"]["optimizer"] > 0
    assert profile["top_ops_us_per_step"] and "profile of kvae's step" in output
    assert saved["setup"]["training_flops_per_example"] == 2 * 3 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784) - 2 * 784 * 400
    # Measured peaks (their order is a timing too: parallel test workers disturb it).
    assert saved["machine"]["matmul_peak_gflops"] > 0 and saved["machine"]["matmul_peak_gflops_bf16"] > 0
    assert {(r["group"], r["dtype"]) for r in saved["shape_matmuls"]} == {
        (g, d) for g in ("forward", "weight gradients", "input gradient") for d in ("float32", "bfloat16")}
    assert all(r["gflops"] > 0 for r in saved["shape_matmuls"])
    assert 0 < saved["encode_latency"]["p50_ms"] <= saved["encode_latency"]["p99_ms"]
    assert saved["log_likelihood"]["num_samples"] == 10 and saved["log_likelihood"]["peak_rss_mib"] > 0
    assert [r["batch_size"] for r in saved["scaling"]["batch_size"]] == [64, 256]
    expected_targets = {"encode_p50_at_most_1ms", "log_likelihood_under_2GiB", "kl_warmup_costs_at_most_10pct"}
    if has_torch:
        expected_targets |= {"dataset_at_least_1.5x_pytorch_fast", "neg_elbo_within_0.5_nats_of_pytorch_fast"}
    assert set(saved["targets"]) == expected_targets  # only the targets whose rows ran
    assert "matmul peak" in output and "implementation" in output


@pytest.mark.e2e
def test_ablations_bench_runs_every_variant_on_the_smoke_budget(tmp_path, fashion_data_dir):
    """`python -m bench.ablations --quick`: each speed choice is timed against the defaults."""
    output, saved = _run_quick("bench.ablations", tmp_path / "ablations.json", fashion_data_dir)
    assert list(saved["variants"]) == ["defaults", "per-element pipeline", "tfp Bernoulli log-prob",
                                       "1 step per call", "Keras' Adam", "mixed_bfloat16",
                                       "mixed_bfloat16 without XLA", "XLA"]
    assert saved["variants"]["defaults"]["speed_vs_defaults"] == 1.0
    for row in saved["variants"].values():
        assert len(row["epoch_seconds"]) == 2 and row["samples_per_s_best"] > 0
    assert "speed vs defaults" in output


def _run_quick(module, out, fashion_data_dir, extra=()):
    """Runs `python -m MODULE --quick --out OUT EXTRA`; returns its output and the JSON it wrote."""
    import sys

    from conftest import ROOT
    from distributed import run

    argv = [sys.executable, "-m", module, "--quick", "--out", str(out), *extra]
    if fashion_data_dir:
        argv += ["--data-dir", fashion_data_dir]
    code, output = run(argv, f"{out}.log", timeout=600, cwd=ROOT)
    assert code == 0, output[-3000:]
    return output, json.loads(out.read_text())


@pytest.mark.e2e
def test_hierarchy_bench_smoke(tmp_path, fashion_data_dir):
    """`bench/hierarchy.py --quick`: both parts train, score, pair, and render the README's tables."""
    out = tmp_path / "hierarchy.json"
    module = load_script("bench/hierarchy.py")
    argv = ["--quick", "--out", str(out)] + (["--data-dir", fashion_data_dir] if fashion_data_dir else [])
    payload = module.main(argv)
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(payload))
    assert sorted(saved["binarised"]) == ["VAE 1 layer, ELBO", "VAE 1 layer, IWAE k=5", "VAE 2 layers, ELBO",
                                          "VAE 2 layers, IWAE k=5"]
    for run in saved["binarised"].values():
        assert run["nll_kind"] == "mass" and run["epochs"] == 1 and run["test_examples"] == 40
    assert saved["binarised"]["VAE 2 layers, ELBO"]["latent_dim_z2"] == 50
    assert sorted(saved["binarised_comparisons"]) == ["2 layers − 1 layer, ELBO", "2 layers − 1 layer, IWAE k=5",
                                                      "IWAE − ELBO, VAE 1 layer", "IWAE − ELBO, VAE 2 layers"]
    for run in saved["eight_bit"].values():
        assert run["nll_kind"] == "mass" and 0 < run["test_nll_bits_per_dim"] < 8.5
    tables = module.readme_tables(saved)
    assert tables.count("\n| VAE ") == 4 and "| conv Ladder VAE |" in tables


def test_the_readme_shows_the_hierarchy_bench_as_its_json_says():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    module = load_script("bench/hierarchy.py")
    saved = json.loads((root / "bench" / "results" / "hierarchy.json").read_text())
    assert module.readme_tables(saved) in (root / "README.md").read_text()


@pytest.mark.e2e
def test_whole_fit_bench_times_each_row_and_fit_length_on_the_smoke_budget(tmp_path, fashion_data_dir):
    """`python -m bench.whole_fit --quick`: whole fits from a fresh model, with their first call and epochs."""
    output, saved = _run_quick("bench.whole_fit", tmp_path / "whole_fit.json", fashion_data_dir)
    assert sorted(saved["summary"]) == ["1", "2"]
    kvae_rows = ["kvae defaults", "kvae keras Adam", "kvae mixed_bfloat16"]
    for epochs, by_row in saved["summary"].items():
        assert [name for name in by_row if name.startswith("kvae")] == kvae_rows
        for name in kvae_rows:
            row = by_row[name]
            assert 0 < row["first_step_seconds"] < row["fit_seconds"]
            assert row["whole_fit_samples_per_s"] == pytest.approx(1024 * int(epochs) / row["fit_seconds"])
            assert ("steady_epoch_samples_per_s" in row) == (epochs == "2")
    optimizers = {name: saved["runs"]["1"][name][0]["optimizer"] for name in kvae_rows}
    assert optimizers == {"kvae defaults": "kvae.optimizers.Adam", "kvae keras Adam": "keras.src.optimizers.adam.Adam",
                          "kvae mixed_bfloat16": "kvae.optimizers.Adam"}
    assert "whole fit ex/s" in output and "ops per step" in output
    profiles = saved["profiles"]
    assert profiles["kvae defaults"]["optimizer"] == "kvae.optimizers.Adam"
    assert profiles["kvae keras Adam"]["optimizer"] == "keras.src.optimizers.adam.Adam"
    # The fused kernel is one op per variable where Keras' update is about ten.
    assert profiles["kvae defaults"]["ops_per_step"] < profiles["kvae keras Adam"]["ops_per_step"]


def test_the_readme_shows_the_whole_fit_bench_as_its_json_says():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    module = load_script("bench/whole_fit.py")
    for result in ("whole_fit.json", "whole_fit_3_epochs.json"):  # the second after XLA for bfloat16
        saved = json.loads((root / "bench" / "results" / result).read_text())
        assert module.readme_table(saved) in (root / "README.md").read_text(), result


def test_the_readme_shows_the_own_data_bench_as_its_json_says():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    module = load_script("bench/own_data.py")
    saved = json.loads((root / "bench" / "results" / "own_data.json").read_text())
    assert module.readme_table(saved) in (root / "README.md").read_text()


@pytest.mark.e2e
def test_conv_bench_compares_each_kvae_row_with_the_faster_pytorch_format(tmp_path, fashion_data_dir):
    """`python -m bench.conv --quick`: the conv VAE's rows, each kvae row against PyTorch at its precision."""
    import keras

    # One row of each kind (XLA's conv compile alone is seconds); `compare` is tested on every row below.
    rows = ["kvae conv defaults", "kvae conv mixed_bfloat16", "pytorch NCHW", "pytorch bf16 channels_last"]
    argv = ["--quick", "--out", str(tmp_path / "conv.json"), "--rows", *rows]
    module = load_script("bench/conv.py")
    saved = json.loads(json.dumps(module.main(argv + (["--data-dir", fashion_data_dir] if fashion_data_dir else []))))
    assert keras.config.dtype_policy().name == "float32"  # the in-process bf16 row set it back
    assert list(saved["summary"]) == [n for n in rows if n.startswith("kvae") or _have("torch")]
    for name, row in saved["summary"].items():
        assert row["whole_fit_samples_per_s"] == pytest.approx(512 * 2 / row["fit_seconds"])
        assert row["steady_epoch_samples_per_s"] > 0 and np.isfinite(row["test_neg_elbo"])
        if name.startswith("kvae") and _have("torch"):
            bf16 = "bfloat16" in name
            assert ("bf16" in row["steady_epoch_samples_per_s_reference"]) == bf16
    assert module.readme_table(saved).count("\n| kvae conv") == 2


def test_conv_bench_picks_the_faster_pytorch_format_at_the_same_precision():
    module = load_script("bench/conv.py")
    summary = {name: {"steady_epoch_samples_per_s": speed, "whole_fit_samples_per_s": speed / 2}
               for name, speed in [("kvae conv defaults", 300.0), ("kvae conv mixed_bfloat16", 240.0),
                                   ("pytorch NCHW", 100.0), ("pytorch channels_last", 200.0),
                                   ("pytorch bf16 NCHW", 120.0), ("pytorch bf16 channels_last", 60.0)]}
    rows = {n: module.ROWS[n] for n in summary}
    out = module.compare(summary, rows)
    assert out["kvae conv defaults"]["steady_epoch_samples_per_s_reference"] == "pytorch channels_last"
    assert out["kvae conv defaults"]["steady_epoch_samples_per_s_vs_pytorch"] == pytest.approx(1.5)
    assert out["kvae conv mixed_bfloat16"]["steady_epoch_samples_per_s_reference"] == "pytorch bf16 NCHW"
    assert out["kvae conv mixed_bfloat16"]["whole_fit_samples_per_s_vs_pytorch"] == pytest.approx(2.0)
    assert "steady_epoch_samples_per_s_vs_pytorch" not in out["pytorch NCHW"]


@pytest.mark.e2e
def test_iaf_ablation_bench_pairs_every_variant_with_pythae(tmp_path, fashion_data_dir):
    """`bench/iaf_ablation.py --quick`: each IAF variant trains, is scored, and is paired with pythae's."""
    # Two of kvae's variants (they differ in both choices) and pythae's: the others are the same code.
    variants = ["kvae gated, h=32", "kvae affine, no h", "pythae VAE_IAF"]
    argv = ["--quick", "--out", str(tmp_path / "iaf.json"), "--variants", *variants]
    module = load_script("bench/iaf_ablation.py")
    saved = json.loads(json.dumps(module.main(argv + (["--data-dir", fashion_data_dir] if fashion_data_dir else []))))
    pythae = _have("pythae")
    assert set(saved["summary"]) == {n for n in variants if n.startswith("kvae") or pythae}
    for name, row in saved["summary"].items():
        assert np.isfinite(row["test_nll"]) and row["samples_per_s"] > 0
        assert ("vs_pythae" in row) == (pythae and name != module.REFERENCE)
    for run in saved["runs"].values():  # each kvae row built the IAF its name says
        if run["side"] == "kvae":
            posterior = run["posterior"]
            assert posterior["class"] == "IAF" and posterior["update"] in run["variant"]
            assert (posterior["context_units"] == 32) == ("h=32" in run["variant"])
            assert run["optimizer"] == "kvae.optimizers.Adam" and posterior["hidden_units"] == [128, 128, 128]


def test_the_readme_shows_the_family_iaf_and_conv_benches_as_their_json_says():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    for script, result in (("bench/iaf_ablation.py", "iaf_ablation.json"), ("bench/conv.py", "conv.json"),
                           ("bench/ablations.py", "ablations.json")):
        saved = json.loads((root / "bench" / "results" / result).read_text())
        assert load_script(script).readme_table(saved) in readme, script
    family = load_script("bench/family.py")
    for result in ("family.json", "family_iaf_conditional.json"):  # parts 1 and 2 against pythae
        saved = json.loads((root / "bench" / "results" / result).read_text())
        assert family.readme_tables(saved) in readme, result


def _have(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None
