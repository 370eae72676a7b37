"""The 8-bit likelihoods (discretised logistic mixture, 256-way categorical): true masses of pixel levels."""

import json

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import special, stats

import kvae
from kvae_cli import main

LEVELS = np.arange(256) / 255


def _levels(shape, seed=0):
    return (np.random.default_rng(seed).integers(0, 256, size=shape) / 255).astype("float32")


def _logistic_reference(logits, loc, scale, x, image):
    """log p per example in float64, with SciPy's logistic log-CDFs (the mid bins as a log-difference of CDFs)."""
    k = np.round(np.asarray(x, "float64") * 255)
    k = (k if image else k[..., None])[..., None]  # [b, *pixels, C, 1]
    half = 0.5 / 255
    log_upper = stats.logistic.logcdf(k / 255 + half, loc, scale)
    log_lower = stats.logistic.logcdf(k / 255 - half, loc, scale)
    # A bin right of the location is a difference of survival functions, which keep their digits there.
    sf_upper = stats.logistic.logsf(k / 255 + half, loc, scale)
    sf_lower = stats.logistic.logsf(k / 255 - half, loc, scale)
    with np.errstate(divide="ignore"):  # the form not chosen may round to log 0
        middle = np.where(k / 255 > loc, sf_lower + np.log(-np.expm1(sf_upper - sf_lower)),
                          log_upper + np.log(-np.expm1(log_lower - log_upper)))
    per_channel = np.where(k == 0, log_upper, np.where(k == 255, sf_lower, middle))
    per_component = per_channel.sum(axis=-2) + special.log_softmax(logits, axis=-1)
    per_pixel = special.logsumexp(per_component, axis=-1)
    return per_pixel.reshape(len(per_pixel), -1).sum(axis=1)


@pytest.mark.parametrize("event_shape", [(3, 2, 3), (5,)], ids=["image", "values"])
@pytest.mark.parametrize("spread", ["moderate", "extreme"])
def test_discretized_logistic_matches_a_scipy_reference(event_shape, spread):
    likelihood = kvae.likelihoods.DiscretizedLogistic(num_components=4)
    params = np.random.default_rng(1).normal(size=(6, *likelihood.params_shape(event_shape))).astype("float32")
    if spread == "extreme":  # locations far outside [0, 1], scales down to the clip and up to 10
        params *= 6
    x = _levels((6, *event_shape))
    x[0], x[1] = 0.0, 1.0  # both end levels, whose masses hold the tails
    got = likelihood.log_prob(params, x).numpy()
    logits, loc, scale = (t.numpy().astype("float64") for t in likelihood.split(params))
    expected = _logistic_reference(logits, loc, scale, x, image=len(event_shape) == 3)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(likelihood.distribution(params).log_prob(x), got, rtol=0, atol=0)


@pytest.mark.parametrize("name", ["discretized_logistic", "categorical"])
@pytest.mark.parametrize("spread", [1.0, 6.0])
def test_the_masses_of_the_256_levels_sum_to_one(name, spread):
    likelihood = kvae.likelihoods.get(name)
    # 64 one-value examples, each a different random distribution, scored at every level.
    params = (spread * np.random.default_rng(2).normal(size=(64, *likelihood.params_shape((1,))))).astype("float32")
    x = np.broadcast_to(LEVELS.astype("float32")[:, None, None], (256, 64, 1)).reshape(-1, 1)
    log_p = likelihood.log_prob(np.tile(params, (256, 1)), x).numpy().reshape(256, 64)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=0), 1.0, atol=1e-5)
    assert np.all(np.isfinite(log_p))


def test_discretized_logistic_gradients_are_finite_at_extreme_parameters():
    likelihood = kvae.likelihoods.DiscretizedLogistic(num_components=2)
    params = tf.constant(np.concatenate([np.random.default_rng(3).normal(size=(4, 2)), np.array([[-50, 50]] * 4),
                                         np.array([[-30, 30]] * 4)], axis=1).astype("float32"))
    for level in (0.0, 100 / 255, 1.0):
        with tf.GradientTape() as tape:
            tape.watch(params)
            log_p = likelihood.log_prob(params, np.full((4, 1), level, "float32"))
        assert np.all(np.isfinite(log_p)) and np.all(np.isfinite(tape.gradient(log_p, params)))


@pytest.mark.parametrize("name", ["discretized_logistic", "categorical"])
@pytest.mark.parametrize("event_shape", [(2, 2, 3), (3,)], ids=["image", "values"])
def test_mean_is_the_expected_level_and_samples_are_levels_drawn_with_the_masses(name, event_shape):
    likelihood = kvae.likelihoods.get(name)
    params = np.random.default_rng(4).normal(size=(2, *likelihood.params_shape(event_shape))).astype("float32")
    distribution = likelihood.distribution(params)
    assert distribution.event_shape == event_shape and distribution.batch_shape == (2,)
    # The masses of each value's 256 levels `[b, values, 256]` (a mixture's channels: their marginals).
    if name == "categorical":
        masses = special.softmax(likelihood.logits(params).numpy().reshape(2, -1, 256), axis=-1)
    else:
        logits, loc, scale = (t.numpy().astype("float64") for t in likelihood.split(params))
        thresholds = ((np.arange(257) - 0.5) / 255).reshape(-1, *[1] * loc.ndim)
        cdf = stats.logistic.cdf(thresholds, loc, scale)  # [257, b, *pixels, C, K]
        cdf[0], cdf[-1] = 0.0, 1.0  # the end levels hold the tails
        weights = special.softmax(logits, axis=-1)[..., None, :]
        marginal = (np.diff(cdf, axis=0) * weights).sum(axis=-1)  # [256, b, *pixels, C]: each channel's masses
        masses = np.moveaxis(marginal.reshape(256, 2, -1), 0, -1)
    np.testing.assert_allclose(masses.sum(axis=-1), 1.0, atol=1e-6)
    expected_mean = (masses * LEVELS).sum(axis=-1).reshape(2, *event_shape)
    np.testing.assert_allclose(distribution.mean(), expected_mean, atol=1e-5)
    samples = distribution.sample(4000, seed=tf.constant([3, 4])).numpy()
    assert samples.shape == (4000, 2, *event_shape)
    np.testing.assert_array_equal(samples * 255, np.round(samples * 255))  # every sample is a level
    # Each value's empirical level frequencies follow its masses (marginally over the other values).
    counts = np.stack([np.bincount(np.round(s * 255).astype(int), minlength=256)
                       for s in samples.reshape(4000, -1).T]) / 4000
    assert np.abs(counts - masses.reshape(-1, 256)).max() < 0.035
    assert abs(float(samples.mean()) - float(expected_mean.mean())) < 0.01


def test_categorical_log_prob_is_the_log_softmax_at_each_level():
    likelihood = kvae.likelihoods.Categorical()
    params = np.random.default_rng(5).normal(size=(3, 4, 4, 2 * 256)).astype("float32")
    x = _levels((3, 4, 4, 2))
    logits = params.reshape(3, 4, 4, 2, 256).astype("float64")
    k = np.round(x * 255).astype(int)
    expected = np.take_along_axis(special.log_softmax(logits, -1), k[..., None], -1).reshape(3, -1).sum(1)
    np.testing.assert_allclose(likelihood.log_prob(params, x), expected, rtol=1e-5)


def test_a_model_with_an_8_bit_likelihood_reports_bits_per_dim_of_a_mass():
    x = _levels((24, 4, 4, 1))
    vae = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=(8,), likelihood="discretized_logistic", seed=0)
    result = kvae.evaluation.evaluate(vae, x, iw_samples=4)
    assert result["nll_kind"] == "mass" and "8-bit" in result["nll_meaning"]
    assert result["test_nll_bits_per_dim"] == pytest.approx(result["test_nll"] / (16 * np.log(2)))
    # An untrained model cannot beat 8 bits/dim by much, nor be far worse: it is a mass of 256 levels.
    assert 4 < result["test_nll_bits_per_dim"] < 12
    samples = vae.sample(5, seed=0, mean=False).numpy()
    np.testing.assert_array_equal(samples * 255, np.round(samples * 255))


@pytest.mark.parametrize("name, x, kind, words", [
    ("bernoulli", np.array([[0.0, 1.0]]), "mass", "binary data"),
    ("bernoulli", np.array([[0.0, 0.5]]), "not a density", "NOT a likelihood of the data"),
    ("discretized_logistic", np.array([[0.0, 17 / 255]]), "mass", "8-bit data"),
    ("categorical", np.array([[1.0, 17 / 255]]), "mass", "8-bit data"),
    ("gaussian", np.array([[0.0, 17 / 255]]), "density", "not a probability of 8-bit pixels"),
    ("gaussian_fixed", np.array([[-1.3, 0.123]]), "density", "a density of continuous data"),
])
def test_every_likelihood_says_what_its_nll_measures(name, x, kind, words):
    got_kind, sentence = kvae.likelihoods.get(name).what_nll_measures(x)
    assert got_kind == kind and words in sentence


@pytest.mark.parametrize("name", ["discretized_logistic", "categorical"])
def test_values_outside_0_1_have_no_mass(name):
    likelihood = kvae.likelihoods.get(name)
    params = np.random.default_rng(6).normal(size=(3, *likelihood.params_shape((2, 2, 1)))).astype("float32")
    x = _levels((3, 2, 2, 1))
    x[1, 0, 0, 0], x[2, 1, 1, 0] = -0.2, 1.5
    log_p = likelihood.distribution(params).log_prob(x).numpy()
    assert np.isfinite(log_p[0]) and log_p[1] == log_p[2] == -np.inf


@pytest.mark.parametrize("name", ["discretized_logistic", "categorical"])
def test_8_bit_likelihoods_refuse_values_between_levels_naming_the_argument(name):
    vae = kvae.build_vae((4,), latent_dim=2, hidden_units=(8,), likelihood=name)
    vae.compile(optimizer="adam")
    x = _levels((8, 4))
    x[3, 1] = 0.5  # 127.5 / 255
    with pytest.raises(ValueError, match=r"`x` must hold 8-bit values k/255 for the .* likelihood .*received 1 of "
                                         r"32 values between levels"):
        vae.fit(x, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"`x` must be in \[0, 1\]"):
        vae.fit(x * 2, epochs=1, verbose=0)


def test_a_categorical_models_served_rows_are_bounded_by_its_decoder_size():
    # 28×28 values × 256 logits per row: 4096 rows would be 3.3 GB of logits alone.
    vae = kvae.build_vae((28, 28, 1), latent_dim=2, hidden_units=(8,), likelihood="categorical")
    bounds = kvae.export.limits(vae)
    assert bounds["max_batch"] == bounds["max_score_rows"] < 700
    assert kvae.export.limits(kvae.build_vae((28, 28, 1), latent_dim=2, hidden_units=(8,)))["max_batch"] == 4096


def test_the_served_signatures_refuse_values_between_levels(tmp_path):
    vae = kvae.build_vae((4,), latent_dim=2, hidden_units=(8,), likelihood="discretized_logistic", seed=0)
    served = tf.saved_model.load(str(vae.export(str(tmp_path / "served"), verbose=False))).signatures
    x = _levels((3, 4))
    assert np.all(np.isfinite(served["score"](x=tf.constant(x))["log_likelihood"]))
    x[0, 0] = 0.5
    with pytest.raises(tf.errors.InvalidArgumentError, match="input `x` must hold 8-bit values k/255 for the "
                                                             "DiscretizedLogistic likelihood"):
        served["score"](x=tf.constant(x))


@pytest.mark.slow
def test_a_cli_run_on_8_bit_images_writes_masses_and_bits_per_dim(tmp_path, capsys):
    folder = tmp_path / "images"
    digits = kvae.data.load_digits()
    for i, (image, label) in enumerate(zip(digits.x_train[:120], digits.y_train[:120])):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(image[..., 0] * 255).astype("uint8")).save(folder / str(label) / f"{i:03d}.png")
    out = tmp_path / "run"
    assert main(["train", "--data", str(folder), "--image-size", "8x8", "--likelihood", "discretized_logistic", "--out", str(out),
                 "--epochs", "2", "--batch-size", "32", "--hidden", "16", "--latent-dim", "2", "--verbose", "0"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["nll_kind"] == "mass" and metrics["parts"]["likelihood"]["class"] == "DiscretizedLogistic"
    assert metrics["test_neg_elbo_bits_per_dim"] == pytest.approx(metrics["test_neg_elbo"] / (64 * np.log(2)))
    assert main(["evaluate", str(out), "--iw-samples", "5"]) == 0
    printed = capsys.readouterr().out
    assert "bits/dim" in printed and "the NLL is a probability mass of 8-bit data" in printed
    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "**The likelihoods below are a probability mass of 8-bit data (256 levels per value).**" in report
    assert "discretised logistic mixture (5 components)" in report
