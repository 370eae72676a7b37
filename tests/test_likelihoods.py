import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import kvae
from conftest import run_serialization_test

RNG = np.random.default_rng(0)


def test_bernoulli_log_prob_matches_numpy_for_binary_and_grey_values():
    logits = RNG.normal(scale=3.0, size=(5, 4, 4, 1)).astype("float32")
    p = 1 / (1 + np.exp(-logits.astype("float64")))
    for x in (RNG.integers(0, 2, size=logits.shape), RNG.uniform(size=logits.shape)):
        x = x.astype("float32")
        expected = (x * np.log(p) + (1 - x) * np.log1p(-p)).reshape(5, -1).sum(axis=1)
        likelihood = kvae.likelihoods.Bernoulli()
        np.testing.assert_allclose(likelihood.distribution(logits).log_prob(x), expected, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(likelihood.log_prob(logits, x), expected, rtol=1e-5, atol=1e-4)


def test_bernoulli_is_stable_for_extreme_logits():
    logits = np.array([[80.0, -80.0]], "float32")
    x = np.array([[1.0, 0.0]], "float32")
    likelihood = kvae.likelihoods.Bernoulli()
    assert float(likelihood.distribution(logits).log_prob(x)[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(likelihood.log_prob(logits, x)[0]) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("binary", [True, False])
def test_bernoulli_fused_log_prob_has_tfps_value_and_gradients(binary):
    # The steps use the fused form; it must be the tfd.Bernoulli's log-prob,
    # with the same gradients (w.r.t. logits, and w.r.t. x for grey levels).
    logits = tf.constant(RNG.normal(scale=6.0, size=(6, 5, 3)).astype("float32"))
    x = RNG.uniform(size=logits.shape)
    x = tf.constant((x < 0.5 if binary else x).astype("float32"))
    likelihood = kvae.likelihoods.Bernoulli()
    upstream = tf.constant(RNG.normal(size=(6,)).astype("float32"))
    results = []
    for log_prob in (lambda l, v: likelihood.distribution(l).log_prob(v), likelihood.log_prob):
        with tf.GradientTape() as tape:
            tape.watch([logits, x])
            value = log_prob(logits, x)
            objective = tf.reduce_sum(upstream * value)
        results.append([value] + tape.gradient(objective, [logits, x]))
    for fused, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(fused, reference, rtol=1e-5, atol=1e-5)


def test_gaussian_log_prob_matches_scipy_with_predicted_scale():
    likelihood = kvae.likelihoods.Gaussian(min_scale=1e-2, max_scale=5.0)
    params = RNG.normal(size=(3, 6)).astype("float32")  # 3 means, 3 raw scales
    x = RNG.normal(size=(3, 3)).astype("float32")
    loc, raw = params[:, :3], params[:, 3:]
    scale = likelihood.scale(raw).numpy()
    expected = stats.norm.logpdf(x, loc, scale).sum(axis=1)
    got = likelihood.distribution(params).log_prob(x)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_gaussian_scale_is_positive_bounded_and_one_at_zero():
    likelihood = kvae.likelihoods.Gaussian(min_scale=1e-3, max_scale=10.0)
    raw = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], "float32")
    scale = likelihood.scale(raw).numpy()
    assert scale.min() >= 1e-3 and scale.max() <= 10.0
    assert scale[2] == pytest.approx(1.0, rel=1e-5)
    assert np.all(np.diff(scale) >= 0)


def test_gaussian_params_shape_stacks_mean_and_scale_on_last_axis():
    assert kvae.likelihoods.Gaussian().params_shape((28, 28, 1)) == (28, 28, 2)
    assert kvae.likelihoods.Gaussian().params_shape((64,)) == (128,)
    assert kvae.likelihoods.Bernoulli().params_shape((64,)) == (64,)


@pytest.mark.parametrize("learn_scale", [False, True])
def test_gaussian_fixed_log_prob_matches_scipy(learn_scale):
    likelihood = kvae.likelihoods.GaussianFixed(scale=0.3, learn_scale=learn_scale)
    loc = RNG.normal(size=(4, 5)).astype("float32")
    x = RNG.normal(size=(4, 5)).astype("float32")
    expected = stats.norm.logpdf(x, loc, 0.3).sum(axis=1)
    np.testing.assert_allclose(likelihood.distribution(loc).log_prob(x), expected, rtol=1e-5)
    assert len(likelihood.trainable_weights) == int(learn_scale)


def test_get_by_name_object_and_config():
    assert isinstance(kvae.likelihoods.get("bernoulli"), kvae.likelihoods.Bernoulli)
    fixed = kvae.likelihoods.GaussianFixed(scale=2.0)
    assert kvae.likelihoods.get(fixed) is fixed
    revived = kvae.likelihoods.get({"class_name": "kvae>GaussianFixed", "config": {"scale": 2.0}})
    assert revived.initial_scale == 2.0


@pytest.mark.parametrize("bad", ["poisson", 3, None])
def test_get_rejects_unknown_likelihood_with_clear_message(bad):
    names = r"\['bernoulli', 'gaussian', 'gaussian_fixed', 'discretized_logistic', 'categorical'\]"
    with pytest.raises(ValueError, match=r"`likelihood` must be one of " + names + ".*received: "):
        kvae.likelihoods.get(bad)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: kvae.likelihoods.Gaussian(min_scale=0.0), r"`min_scale` must be a float > 0, received: min_scale=0.0"),
        (lambda: kvae.likelihoods.Gaussian(min_scale=1.0, max_scale=0.5), r"`max_scale` must be greater than `min_scale`"),
        (lambda: kvae.likelihoods.GaussianFixed(scale=-1.0), r"`scale` must be a float > 0, received: scale=-1.0"),
    ],
)
def test_invalid_likelihood_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize(
    "likelihood",
    [
        kvae.likelihoods.Bernoulli(),
        kvae.likelihoods.Gaussian(min_scale=0.01, max_scale=3.0),
        kvae.likelihoods.GaussianFixed(scale=0.5, learn_scale=True),
    ],
)
def test_config_round_trip(likelihood):
    revived = run_serialization_test(likelihood)
    params = RNG.normal(size=(2, 2 * likelihood.num_params)).astype("float32")
    x = RNG.uniform(size=(2, 2)).astype("float32")
    np.testing.assert_allclose(
        revived.distribution(params).log_prob(x), likelihood.distribution(params).log_prob(x), rtol=1e-6
    )
