"""`kvae.objectives`: the ELBO's weighting, the IWAE bound against NumPy, DReG against the reparameterised gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special

import kvae
from conftest import tiny_vae, uniform_data


def test_elbo_objective_is_the_beta_weighted_floored_terms():
    model = tiny_vae(beta=0.5, free_bits=0.2)
    x = uniform_data(6)
    loss, (reconstruction, kl_per_dim, loc) = model.objective.compute(model.forward(x))
    expected = reconstruction + 0.5 * tf.reduce_sum(tf.maximum(kl_per_dim, 0.2), axis=-1)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert kl_per_dim.shape == (6, 3) and loc.shape == (6, 3)
    assert model.beta is model.objective.beta and model.free_bits is model.objective.free_bits


def _fixed_noise(model, x, epsilon):
    # The objective draws its noise from the pass: pin it.
    return model.forward(x, noise=lambda num_samples=None: tf.constant(epsilon))


@pytest.mark.parametrize("prior", ["normal", "vamp"])
def test_iwae_bound_is_numpys_log_mean_exp_of_the_same_weights(prior):
    k, n = 6, 5
    model = tiny_vae(prior=kvae.priors.get(prior, **({"num_components": 3, "seed": 0} if prior != "normal" else {})))
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * 4.0)  # a posterior away from the prior
    x = uniform_data(n)
    epsilon = np.random.default_rng(0).normal(size=(k, n, 3)).astype("float32")
    loss, (reconstruction, kl_per_dim, _) = kvae.objectives.IWAE(k).compute(_fixed_noise(model, x, epsilon))
    q = model.encode(x)
    log_w = []
    for eps in epsilon:  # one sample at a time, each term from its own distribution
        z = q.mean() + q.stddev() * eps
        log_w.append(model.decode(z).log_prob(x) + model.prior.log_prob(z) - q.log_prob(z))
    log_w = np.array(log_w, dtype="float64")
    np.testing.assert_allclose(loss, -(special.logsumexp(log_w, axis=0) - np.log(k)), rtol=1e-5)
    # The metrics' one-sample ELBO terms are those of the first sample.
    z1 = q.mean() + q.stddev() * epsilon[0]
    np.testing.assert_allclose(reconstruction, -model.decode(z1).log_prob(x), rtol=1e-5)
    if prior == "vamp":
        np.testing.assert_allclose(kl_per_dim[:, 0], q.log_prob(z1) - model.prior.log_prob(z1), rtol=1e-4, atol=1e-5)


def test_iwae_with_one_sample_is_the_elbo_at_that_sample():
    model = tiny_vae()
    x = uniform_data(4)
    epsilon = np.random.default_rng(1).normal(size=(1, 4, 3)).astype("float32")
    loss, _ = kvae.objectives.IWAE(1).compute(_fixed_noise(model, x, epsilon))
    q = model.encode(x)
    z = q.mean() + q.stddev() * epsilon[0]
    # −ELBO with the KL estimated at the sample: −log p(x|z) + log q(z|x) − log p(z) ...
    np.testing.assert_allclose(loss, -model.decode(z).log_prob(x) + q.log_prob(z) - model.prior.log_prob(z), rtol=1e-5)
    # ... whose expectation is the closed-form −ELBO (that noise averages out is checked in test_model).
    reconstruction, kl_per_dim, _ = model.forward(x).elbo_terms(epsilon[0])
    np.testing.assert_allclose(
        loss - (reconstruction + tf.reduce_sum(kl_per_dim, -1)),
        q.log_prob(z) - model.prior.log_prob(z) - tf.reduce_sum(kl_per_dim, -1), rtol=1e-5, atol=1e-5,
    )


def _gradients(model, objective, x, seed_state):
    model.seed_generator.state.assign(seed_state)  # the same noise for every estimator
    with tf.GradientTape() as tape:
        loss, _ = objective.compute(model.forward(x, training=True), training=True)
        loss = tf.reduce_mean(loss)
    encoder = tape.gradient(loss, model.encoder.trainable_variables, unconnected_gradients="zero")
    with tf.GradientTape() as tape:
        model.seed_generator.state.assign(seed_state)
        loss, _ = objective.compute(model.forward(x, training=True), training=True)
        loss = tf.reduce_mean(loss)
    decoder = tape.gradient(loss, model.decoder.trainable_variables)
    flat = lambda grads: np.concatenate([g.numpy().ravel() for g in grads])  # noqa: E731
    return flat(encoder), flat(decoder), float(loss)


@pytest.mark.parametrize("weights_seed", [1, pytest.param(0, marks=pytest.mark.slow), pytest.param(2, marks=pytest.mark.slow)])
def test_dreg_and_reparameterised_gradients_agree_in_expectation(weights_seed):
    """A paired test over independent blocks: the mean DReG − reparam difference is within 5 standard errors of 0.

    Each block of 1,000 copies of one example gets its own noise, the same for both estimators, so the
    blocks' differences are independent draws of one paired difference; its spread over 20 blocks is
    the Monte-Carlo error, estimated per encoder weight (with 19 degrees of freedom).
    """
    keras.utils.set_random_seed(weights_seed)  # fixed weights, whatever ran before in this worker
    model = tiny_vae(input_shape=(4,), latent_dim=2)
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * 3.0)
    x = np.tile(np.array([[0.1, 0.9, 0.3, 0.6]], "float32"), (1_000, 1))
    state = model.seed_generator.state.numpy()
    k, blocks = 8, 20
    differences, reparam = [], []
    for b in range(blocks):
        block_state = state + np.array([0, b], state.dtype)
        enc_r, dec_r, loss_r = _gradients(model, kvae.objectives.IWAE(k, "reparam"), x, block_state)
        enc_d, dec_d, loss_d = _gradients(model, kvae.objectives.IWAE(k, "dreg"), x, block_state)
        # Same noise: the same bound, and the decoder gets exactly the IWAE gradient.
        assert loss_r == pytest.approx(loss_d, rel=1e-6)
        np.testing.assert_allclose(dec_d, dec_r, rtol=1e-4, atol=1e-6)
        differences.append(enc_d - enc_r)
        reparam.append(enc_r)
    differences, reparam = np.array(differences), np.array(reparam)
    stderr = differences.std(axis=0, ddof=1) / np.sqrt(blocks)
    moving = stderr > 1e-7  # weights whose gradient is not identically zero
    t = np.abs(differences.mean(axis=0)[moving]) / stderr[moving]
    print(f"largest |mean difference| / standard error: {t.max():.2f} over {t.size} weights")
    assert t.max() < 5.0, f"DReG's mean differs from reparam's by {t.max():.2f} standard errors"
    # The comparison is not vacuous: the standard errors are small against the gradient itself...
    assert np.linalg.norm(stderr) < 0.1 * np.linalg.norm(reparam.mean(axis=0))
    # ...and DReG is a different estimator, draw by draw (by far more than rounding).
    assert np.abs(differences).max() > 1e-3 * np.abs(reparam).max()


@pytest.mark.slow
def test_iwae_trains_and_logs_the_bound_as_loss():
    model = tiny_vae(objective=kvae.objectives.IWAE(5, gradient="dreg"))
    x = uniform_data(64)
    history = model.fit(x, batch_size=16, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    logs = model.evaluate(x, batch_size=64, return_dict=True, verbose=0)
    # A tighter bound than the one-sample ELBO (in expectation; by far more than the noise here).
    assert logs["loss"] < -logs["elbo"]
    assert model.beta is None and model.free_bits is None


def test_bad_iwae_arguments():
    with pytest.raises(ValueError, match=r"`num_samples` must be a positive integer, received: 0"):
        kvae.objectives.IWAE(0)
    with pytest.raises(ValueError, match=r"`gradient` must be one of \['reparam', 'dreg'\], received: 'score'"):
        kvae.objectives.IWAE(5, gradient="score")
    with pytest.raises(ValueError, match=r"`KLWarmup` needs a model with a `beta` keras.Variable"):
        tiny_vae(objective="iwae").fit(uniform_data(8), epochs=1, verbose=0, callbacks=[kvae.callbacks.KLWarmup(10)])
