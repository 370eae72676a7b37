"""`kvae.preprocessing`: a fixed bijector inside the model, and densities of the data by the change of variables."""

import keras
import numpy as np
import pytest

import kvae

MEAN, STDDEV = np.array([5e4, 10.0, 0.0, 3.0]), np.array([1e3, 50.0, 2.0, 0.01])


def _rows(n=8, seed=0):
    return (np.random.default_rng(seed).normal(size=(n, 4)) * STDDEV + MEAN).astype("float32")


def _pair():
    # The same networks and weights, with and without the standardisation inside.
    plain = kvae.build_vae((4,), 2, hidden_units=(8,), likelihood="gaussian", seed=0)
    inside = kvae.preprocessing.attach(plain, kvae.preprocessing.Standardize(MEAN, STDDEV))
    return plain, inside


def test_standardize_is_the_division_kvae_0_1_did_and_its_log_jacobian():
    rows = _rows()
    u, log_det = kvae.preprocessing.Standardize(MEAN, STDDEV).forward(rows)
    legacy = kvae.data.Standardization(MEAN, STDDEV)
    np.testing.assert_array_equal(u, legacy.forward(rows))  # bit for bit
    np.testing.assert_allclose(log_det, np.full(len(rows), -np.log(STDDEV).sum()), rtol=1e-6)


def test_every_density_is_of_the_raw_rows():
    plain, inside = _pair()
    rows = _rows()
    u = kvae.data.Standardization(MEAN, STDDEV).forward(rows)
    shift = -np.log(STDDEV).sum()
    np.testing.assert_allclose(inside.log_likelihood(rows, num_samples=16), plain.log_likelihood(u, num_samples=16)
                               + shift, rtol=1e-5)
    a, b = kvae.evaluation.evaluate(inside, rows, iw_samples=8), \
        kvae.evaluation.evaluate(plain, u, iw_samples=8)
    assert a["test_nll"] == pytest.approx(b["test_nll"] - shift, rel=1e-5)
    assert a["test_kl"] == pytest.approx(b["test_kl"], rel=1e-6)  # the KL is about z: unchanged
    np.testing.assert_allclose(inside.score(rows, 8)["log_likelihood"], plain.score(u, 8)["log_likelihood"] + shift,
                               rtol=1e-5)
    # Training logs are in the same units: the loss differs by the constant, the gradient not at all.
    inside.compile("adam", run_eagerly=True)
    plain.compile("adam", run_eagerly=True)
    logs_inside = inside.evaluate(rows, verbose=0, return_dict=True)
    logs_plain = plain.evaluate(u, verbose=0, return_dict=True)
    assert logs_inside["elbo"] == pytest.approx(logs_plain["elbo"] + shift, rel=1e-5)


def test_means_samples_and_parameters_come_back_in_data_units():
    plain, inside = _pair()
    rows = _rows()
    u = kvae.data.Standardization(MEAN, STDDEV).forward(rows)
    np.testing.assert_allclose(inside.reconstruct(rows), np.asarray(plain.reconstruct(u)) * STDDEV + MEAN, rtol=1e-5)
    np.testing.assert_allclose(inside.sample(3, seed=0), np.asarray(plain.sample(3, seed=0)) * STDDEV + MEAN,
                               rtol=1e-5)
    z = np.zeros((2, 2), "float32")
    p_raw = inside.decode(z)
    np.testing.assert_allclose(p_raw.log_prob(rows[:2]), plain.decode(z).log_prob(u[:2]) - np.log(STDDEV).sum(),
                               rtol=1e-5)
    params = inside.preprocessing.data_parameters(inside.likelihood.parameters(inside.decoder_params(z)))
    np.testing.assert_allclose(params["stddev"], plain.likelihood.parameters(plain.decoder_params(z))["stddev"]
                               * STDDEV.astype("float32"), rtol=1e-6)


def test_the_preprocessing_is_saved_in_the_keras_file(tmp_path):
    _, inside = _pair()
    inside.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.preprocessing.get_config() == inside.preprocessing.get_config()
    np.testing.assert_array_equal(loaded.log_likelihood(_rows(), 8), inside.log_likelihood(_rows(), 8))


def test_bad_preprocessing_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`mean` and `stddev` must have one value per column, received 2 and 3"):
        kvae.preprocessing.Standardize([0.0, 1.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"`stddev` must be finite and > 0"):
        kvae.preprocessing.Standardize([0.0], [0.0])
    _, inside = _pair()
    with pytest.raises(ValueError, match=r"the model already has columns standardised .* received another"):
        kvae.preprocessing.attach(inside, kvae.preprocessing.Standardize(MEAN, STDDEV))
    with pytest.raises(ValueError, match=r"`preprocessing` must be one of \['identity', 'standardize'\]"):
        kvae.build_vae((4,), 2, preprocessing="whiten")
