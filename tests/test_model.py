import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import run_serialization_test, tiny_vae, uniform_data


def _posterior_numpy(model, x):
    posterior = model.encode(x).distribution
    return posterior.loc.numpy().astype("float64"), posterior.scale.numpy().astype("float64")


def test_kl_equals_closed_form_with_the_minus_sign_and_the_half():
    model = tiny_vae(latent_dim=5)
    # Move the posterior away from the prior so every term of the formula matters.
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * 8.0)
    x = uniform_data(6)
    mu, sigma = _posterior_numpy(model, x)
    expected = -0.5 * np.sum(1 + np.log(sigma**2) - mu**2 - sigma**2, axis=1)
    _, kl = model.elbo_terms(x)
    np.testing.assert_allclose(kl, expected, rtol=1e-5)
    assert np.all(kl.numpy() >= 0) and expected.min() > 0.1


def test_kl_matches_monte_carlo_estimate():
    model = tiny_vae(latent_dim=4)
    x = uniform_data(3)
    posterior = model.encode(x)
    z = posterior.sample(200_000, seed=tf.constant([1, 2]))
    log_ratio = (posterior.log_prob(z) - model.prior.log_prob(z)).numpy()
    mc, stderr = log_ratio.mean(axis=0), log_ratio.std(axis=0) / np.sqrt(len(log_ratio))
    _, kl = model.elbo_terms(x)
    assert np.all(np.abs(mc - kl.numpy()) < 4 * stderr + 1e-4)


def test_reconstruction_term_is_minus_log_likelihood_at_a_posterior_sample():
    model = tiny_vae()
    x = uniform_data(4)
    reconstruction, _ = model.elbo_terms(x)
    # Same seed state → same z: replay the step by hand.
    model.seed_generator.state.assign(model.seed_generator.state - [0, 1])
    z = model.encode(x).sample(seed=tf.cast(model.seed_generator.next(), tf.int32))
    logits = model.decoder(z).numpy().reshape(4, -1).astype("float64")
    p = 1 / (1 + np.exp(-logits))
    flat = x.reshape(4, -1)
    expected = -(flat * np.log(p) + (1 - flat) * np.log1p(-p)).sum(axis=1)
    np.testing.assert_allclose(reconstruction, expected, rtol=1e-5)


def test_gradients_reach_encoder_through_the_reparameterised_sample():
    model = tiny_vae(latent_dim=3)
    x = uniform_data(8)
    kernel = model.encoder.get_layer("posterior_params").kernel
    with tf.GradientTape() as tape:
        reconstruction, _ = model.elbo_terms(x, training=True)  # no KL: only the path through z
        loss = tf.reduce_mean(reconstruction)
    grad = tape.gradient(loss, kernel).numpy()
    assert np.abs(grad[:, :3]).sum() > 1e-6  # loc columns
    assert np.abs(grad[:, 3:]).sum() > 1e-6  # scale columns: only reachable through z = μ + σε
    first = model.encoder.get_layer("hidden_0").kernel
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(model.elbo_terms(x, training=True)[0])
    assert np.abs(tape.gradient(loss, first).numpy()).sum() > 1e-6


def test_step_metrics_are_per_example_and_loss_uses_beta():
    model = tiny_vae(beta=0.25)
    x = uniform_data(16)
    logs = model.evaluate(x, batch_size=16, return_dict=True, verbose=0)
    assert sorted(logs) == ["active_units", "elbo", "kl", "loss", "reconstruction"]
    assert logs["loss"] == pytest.approx(logs["reconstruction"] + 0.25 * logs["kl"], rel=1e-5)
    assert logs["elbo"] == pytest.approx(-(logs["reconstruction"] + logs["kl"]), rel=1e-5)
    # 16 Bernoulli pixels near p=0.5: about 16·log 2 = 11.1 nats per example, not per pixel or batch.
    assert 8.0 < logs["reconstruction"] < 15.0


def test_beta_is_a_variable_read_by_the_compiled_step():
    model = tiny_vae(beta=1.0)
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * 8.0)  # a KL large enough to see
    x = uniform_data(16)
    before = model.evaluate(x, batch_size=16, return_dict=True, verbose=0)
    model.beta.assign(0.0)  # after tracing: a Python float would be frozen here
    after = model.evaluate(x, batch_size=16, return_dict=True, verbose=0)
    assert before["loss"] - before["reconstruction"] == pytest.approx(before["kl"], rel=1e-4)
    assert after["loss"] == pytest.approx(after["reconstruction"], rel=1e-6)
    assert after["kl"] > 0.1
    assert any(v is model.beta for v in model.non_trainable_variables)


def test_sample_weight_zero_removes_an_example_from_loss_and_metrics():
    model = tiny_vae()
    x = uniform_data(8)
    weights = np.array([1, 1, 1, 1, 0, 0, 0, 0], "float32")
    # Keras drops sample_weight when y is None; y is ignored by the VAE, so pass any.
    weighted = model.evaluate(x, x, sample_weight=weights, batch_size=8, return_dict=True, verbose=0)
    _, kl = model.elbo_terms(x)
    assert weighted["kl"] == pytest.approx(float(np.mean(kl.numpy()[:4])), rel=1e-5)
    assert weighted["kl"] != pytest.approx(float(np.mean(kl.numpy())), rel=1e-3)


def test_encode_decode_sample_reconstruct_shapes():
    model = tiny_vae(input_shape=(5, 3, 1), latent_dim=2, likelihood="gaussian")
    x = uniform_data(7, (5, 3, 1))
    posterior = model.encode(x)
    assert posterior.batch_shape == [7] and posterior.event_shape == [2]
    likelihood = model.decode(posterior.sample(seed=tf.constant([0, 0])))
    assert likelihood.batch_shape == [7] and likelihood.event_shape == [5, 3, 1]
    assert model.reconstruct(x).shape == (7, 5, 3, 1)
    assert model.predict(x, verbose=0).shape == (7, 5, 3, 1)
    assert model.sample(4, seed=3, mean=False).shape == (4, 5, 3, 1)


def test_sample_is_deterministic_for_a_seed_and_varies_without_one():
    model = tiny_vae()
    np.testing.assert_array_equal(model.sample(5, seed=7), model.sample(5, seed=7))
    assert not np.allclose(model.sample(5, seed=7), model.sample(5, seed=8))
    assert not np.allclose(model.sample(5), model.sample(5))


def test_reconstruct_is_deterministic():
    model = tiny_vae()
    x = uniform_data(4)
    np.testing.assert_array_equal(model.reconstruct(x), model.reconstruct(x))
    np.testing.assert_array_equal(model(x), model.reconstruct(x))


def test_vae_accepts_an_encoder_that_outputs_loc_and_scale_separately():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8, activation="relu")(inputs)
    encoder = keras.Model(inputs, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6)])
    model = kvae.VAE(encoder, decoder, latent_dim=2)
    assert model.built
    assert model.encode(uniform_data(3, (6,))).event_shape == [2]


def test_unbuilt_sequential_networks_are_built_by_fit():
    encoder = keras.Sequential([keras.layers.Flatten(), keras.layers.Dense(4)])
    decoder = keras.Sequential([keras.layers.Dense(6)])
    model = kvae.VAE(encoder, decoder, latent_dim=2)
    assert not model.built
    model.compile(optimizer="adam")
    model.fit(uniform_data(8, (6,)), batch_size=4, epochs=1, verbose=0)
    assert model.built and model.event_shape == (6,)


def test_wrong_encoder_output_is_a_clear_error():
    encoder = kvae.networks.mlp_encoder((6,), latent_dim=3)  # outputs 6, VAE wants 2·4 = 8
    decoder = kvae.networks.mlp_decoder(4, (6,))
    with pytest.raises(ValueError, match=r"`encoder` must output one tensor of shape \(batch, 8\) or 2 of shapes \(batch, 4\) and \(batch, 4\) \(the posterior.s parameters for latent_dim=4\).*received output shapes \[\(None, 6\)\]"):
        kvae.VAE(encoder, decoder, latent_dim=4)


def test_wrong_decoder_output_is_a_clear_error():
    encoder = kvae.networks.mlp_encoder((6,), latent_dim=2)
    decoder = kvae.networks.mlp_decoder(2, (6,))  # Gaussian needs 12 outputs
    with pytest.raises(ValueError, match=r"`decoder` must output shape \(batch,\) \+ \(12,\).*Gaussian likelihood; received output shape \(batch,\) \+ \(6,\)"):
        kvae.VAE(encoder, decoder, latent_dim=2, likelihood="gaussian")


@pytest.mark.parametrize("latent_dim", [0, -3, 2.5, "4", True])
def test_latent_dim_must_be_a_positive_int(latent_dim):
    with pytest.raises(ValueError, match=r"`latent_dim` must be a positive integer, received: "):
        kvae.VAE(keras.layers.Dense(4), keras.layers.Dense(4), latent_dim=latent_dim)


def test_beta_must_be_non_negative():
    with pytest.raises(ValueError, match=r"`beta` must be a float >= 0 or a kvae.schedules.Schedule, received: -1.0"):
        kvae.VAE(keras.layers.Dense(4), keras.layers.Dense(4), latent_dim=2, beta=-1.0)


def test_inputs_of_the_wrong_shape_are_a_clear_error():
    model = tiny_vae(input_shape=(4, 4, 1))
    with pytest.raises(ValueError, match=r"`x` must have shape \(batch,\) \+ \(4, 4, 1\), received shape \(2, 16\)"):
        model.encode(np.zeros((2, 16), "float32"))


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_vae_config_round_trip_rebuilds_the_same_model(likelihood):
    model = tiny_vae(likelihood=likelihood, beta=0.5)
    revived = run_serialization_test(model)
    assert revived.built and revived.latent_dim == 3 and revived.seed == 1
    assert float(revived.beta.numpy()) == 0.5
    assert type(revived.likelihood) is type(model.likelihood)
    revived.set_weights(model.get_weights())
    x = uniform_data(3)
    np.testing.assert_allclose(revived.reconstruct(x), model.reconstruct(x), rtol=1e-6)
