"""tf.distribute: the same model and logs on 1 device, 2 replicas, and 2 worker processes."""

import sys

import numpy as np
import pytest
import tensorflow as tf

import kvae
from distributed import SCRIPTS, fit_script, free_ports, run_all, start, weights


def test_get_strategy_by_name():
    assert kvae.distribute.get_strategy("default").num_replicas_in_sync == 1
    assert isinstance(kvae.distribute.get_strategy("default"), tf.distribute.Strategy)
    with pytest.raises(ValueError, match=r"`strategy` must be one of \['default', 'mirrored', 'multi_worker'\], received: 'tpu'"):
        kvae.distribute.get_strategy("tpu")


def test_multi_worker_needs_a_valid_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match=r"'multi_worker' needs \$TF_CONFIG.*received: TF_CONFIG is not set"):
        kvae.distribute.get_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}}')
    with pytest.raises(ValueError, match=r"`TF_CONFIG` must be JSON with cluster.worker.*received: '\{\"cluster\": \{\}\}'"):
        kvae.distribute.get_strategy("multi_worker")


def test_step_outputs_are_unchanged_outside_multi_worker():
    logs = {"loss": tf.constant(1.5)}
    assert kvae.distribute.step_outputs(logs) is logs
    assert not kvae.distribute.in_multi_worker_mode()


@pytest.mark.e2e
@pytest.mark.parametrize(
    "examples, batch_size, epochs, warmup, parts",
    # One step; uneven last batches (8, 8, 4) over 3 epochs, with β warmed up in the step, the
    # flow posterior and labels (a conditional VAE); and the VampPrior (the prior itself runs the
    # encoder) with the full-covariance posterior and the IWAE objective's DReG gradient. And
    # `fit` on NumPy arrays, with and without labels (no None may reach a strategy's iterator).
    [(8, 8, 1, 0, []), (20, 8, 3, 5, ["--posterior", "iaf", "--conditional"]),
     (20, 8, 2, 0, ["--prior", "vamp", "--posterior", "full", "--iwae", "dreg"]),
     (20, 8, 2, 0, ["--numpy"]), (20, 8, 2, 0, ["--numpy", "--conditional"])],
    ids=["one-step", "uneven-3-epochs-beta-warmup-iaf-conditional", "vamp-full-iwae-dreg", "numpy", "numpy-conditional"],
)
def test_mirrored_two_replicas_take_the_same_steps_as_one_device(tmp_path, examples, batch_size, epochs, warmup, parts):
    common = ["--examples", str(examples), "--batch-size", str(batch_size), "--epochs", str(epochs),
              "--beta-warmup", str(warmup), *parts]
    single = fit_script(tmp_path, "single", *common)
    mirrored = fit_script(tmp_path, "mirrored", *common, "--strategy", "mirrored", "--logical-cpus", "2")
    assert single["replicas"] == 1 and mirrored["replicas"] == 2
    for a, b in zip(weights(single), weights(mirrored)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mirrored["loss"], single["loss"], rtol=1e-6)
    np.testing.assert_allclose(mirrored["kl"], single["kl"], rtol=1e-6)
    np.testing.assert_array_equal(mirrored["beta"], single["beta"])
    if warmup:
        np.testing.assert_allclose(single["beta"], [2 / 5, 1.0, 1.0])  # β of each epoch's last step


@pytest.mark.e2e
def test_two_worker_processes_match_each_other_and_one_process(tmp_path):
    # This also guards kvae.distribute.step_outputs: without it both workers fail
    # with "Invalid reduction dimension 0 for input with 0 dimensions"; and, with a
    # conditional VAE's (x, y) batches, kvae.distribute.first_replica_batch.
    ports = [str(p) for p in free_ports(2)]
    common = ["--examples", "20", "--batch-size", "8", "--epochs", "3", "--beta-warmup", "5", "--conditional"]
    workers = [
        start([sys.executable, str(SCRIPTS / "multi_worker_fit.py"), "--out", str(tmp_path / f"w{i}.npz"),
               "--strategy", "multi_worker", "--workers", *ports, "--index", str(i), *common],
              tmp_path / f"w{i}.log")
        for i in range(2)
    ]
    codes = run_all(workers, timeout=180)
    assert codes == [0, 0], "\n".join((tmp_path / f"w{i}.log").read_text()[-2000:] for i in range(2))
    w0, w1 = (dict(np.load(tmp_path / f"w{i}.npz")) for i in range(2))
    single = fit_script(tmp_path, "single", *common)
    assert w0["replicas"] == 2 and w1["replicas"] == 2
    for a, b, c in zip(weights(w0), weights(w1), weights(single)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w0["loss"], single["loss"], rtol=1e-6)
    np.testing.assert_allclose(w0["beta"], single["beta"], rtol=1e-6)
    np.testing.assert_allclose(single["beta"], [2 / 5, 1.0, 1.0])
