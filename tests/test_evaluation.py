import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae.model
from conftest import tiny_vae, uniform_data


def _elbo_per_example(model, x, repeats=20):
    # Average many single-sample ELBO estimates: the ELBO itself, per example.
    terms = [model.elbo_terms(x) for _ in range(repeats)]
    return -np.mean([(r + k).numpy() for r, k in terms], axis=0)


@pytest.mark.e2e
def test_is_nll_is_below_neg_elbo_and_tightens_as_k_grows(trained_digits_vae, digits):
    model, x = trained_digits_vae, digits.x_test
    elbo = _elbo_per_example(model, x)
    ll = {k: model.log_likelihood(x, num_samples=k, seed=1) for k in (1, 10, 100)}
    # K = 1 is an unbiased estimate of the ELBO: equal within 4 standard errors.
    diff = ll[1] - elbo
    assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(len(diff))
    # log p(x) ≥ L_100 ≥ L_10 ≥ L_1 = ELBO (in expectation; here by clear margins).
    assert ll[10].mean() > ll[1].mean() + 0.05
    assert ll[100].mean() > ll[10].mean() + 0.02
    gap = ll[100] - elbo  # IS-NLL ≤ −ELBO: the gap is positive beyond noise
    assert gap.mean() > 4 * gap.std() / np.sqrt(len(gap))


def test_log_likelihood_is_deterministic_for_a_seed_and_has_one_value_per_example():
    model = tiny_vae()
    x = uniform_data(7)
    a = model.log_likelihood(x, num_samples=30, seed=5)
    assert a.shape == (7,) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, model.log_likelihood(x, num_samples=30, seed=5))
    assert not np.array_equal(a, model.log_likelihood(x, num_samples=30, seed=6))


def test_chunks_cover_every_sample_and_example_exactly_once(monkeypatch):
    model = tiny_vae()
    x = uniform_data(7)
    calls = []

    def constant_weights(model, batch, k, seed, condition=None):
        calls.append((len(batch), k))
        return tf.fill([k, len(batch)], -3.0)  # every log weight equal → log p(x) = −3

    monkeypatch.setattr(kvae.evaluation, "log_importance_weights", constant_weights)
    # 10 decoder rows per chunk: 3 examples × 3 samples (the last chunk 1 sample).
    monkeypatch.setattr(kvae.evaluation, "LOG_LIKELIHOOD_ROWS", 10)
    result = model.log_likelihood(x, num_samples=10, batch_size=3)
    np.testing.assert_allclose(result, np.full(7, -3.0), rtol=1e-6)
    assert sum(n * k for n, k in calls) == 7 * 10 and max(n * k for n, k in calls) <= 10


def test_chunked_evaluation_agrees_with_one_chunk(monkeypatch):
    keras.utils.set_random_seed(0)  # the same weights whatever ran before in this process
    model = tiny_vae(latent_dim=2)
    x = uniform_data(6)
    whole = model.log_likelihood(x, num_samples=1000, seed=0)
    monkeypatch.setattr(kvae.evaluation, "LOG_LIKELIHOOD_ROWS", 12)  # 2 examples × 6 samples
    chunked = model.log_likelihood(x, num_samples=1000, seed=0)
    assert not np.array_equal(whole, chunked)  # really different samples...
    # ...the same estimator: chunked differs from whole as much as two unchunked seeds differ.
    monkeypatch.setattr(kvae.evaluation, "LOG_LIKELIHOOD_ROWS", 16384)
    spread = np.std([whole] + [model.log_likelihood(x, num_samples=1000, seed=s) for s in (1, 2, 3, 4)], axis=0)
    assert np.all(np.abs(chunked - whole) < 4 * np.sqrt(2) * spread), (chunked - whole, spread)


@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_num_samples_must_be_a_positive_int(k):
    with pytest.raises(ValueError, match=r"`num_samples` must be a positive integer, received: "):
        tiny_vae().log_likelihood(uniform_data(2), num_samples=k)


def test_log_likelihood_checks_the_input_shape():
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch,\) \+ \(4, 4, 1\), received shape \(2, 3\)"):
        tiny_vae().log_likelihood(np.zeros((2, 3)), num_samples=2)


def test_evaluation_is_seeded_and_leaves_the_training_noise_alone():
    """Same seed, same numbers; and evaluating does not advance the noise `fit` draws next."""
    model, x = tiny_vae(), uniform_data(12)
    state = model.seed_generator.state.numpy().copy()
    first = kvae.evaluation.evaluate(model, x, iw_samples=5, batch_size=5, seed=4)
    again = kvae.evaluation.evaluate(model, x, iw_samples=5, batch_size=5, seed=4)
    other = kvae.evaluation.evaluate(model, x, iw_samples=5, batch_size=5, seed=5)
    assert first == again and first["test_neg_elbo"] != other["test_neg_elbo"]
    scores = model.score(x, num_samples=4, seed=1)
    np.testing.assert_array_equal(scores["neg_elbo"], model.score(x, num_samples=4, seed=1)["neg_elbo"])
    np.testing.assert_array_equal(model.seed_generator.state.numpy(), state)
