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


@pytest.mark.parametrize("prior, beta", [("normal", 1.0), ("vamp", 1.0), ("normal", 0.3)])
def test_iwae_bound_is_numpys_log_mean_exp_of_the_same_weights(prior, beta):
    """The bound, and at β < 1 its tempered form log (1/k) Σ p(x|z_i) (p(z_i) / q(z_i|x))^β."""
    k, n = 6, 5
    model = tiny_vae(prior=kvae.priors.get(prior, **({"num_components": 3, "seed": 0} if prior != "normal" else {})))
    kernel = model.encoder.get_layer("posterior_params").kernel
    kernel.assign(kernel * 4.0)  # a posterior away from the prior
    x = uniform_data(n)
    epsilon = np.random.default_rng(0).normal(size=(k, n, 3)).astype("float32")
    objective = kvae.objectives.IWAE(k, beta=beta)
    loss, (reconstruction, kl_per_dim, _) = objective.compute(_fixed_noise(model, x, epsilon))
    q = model.encode(x)
    log_w = []
    for eps in epsilon:  # one sample at a time, each term from its own distribution
        z = q.mean() + q.stddev() * eps
        log_w.append(model.decode(z).log_prob(x) + beta * (model.prior.log_prob(z) - q.log_prob(z)))
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


@pytest.mark.parametrize("weights_seed, beta", [
    (1, 1.0), pytest.param(0, 1.0, marks=pytest.mark.slow), pytest.param(2, 1.0, marks=pytest.mark.slow),
    pytest.param(1, 0.4, marks=pytest.mark.slow),  # tempered: the encoder's weights w̃((1 − β) + β w̃)
])
def test_dreg_and_reparameterised_gradients_agree_in_expectation(weights_seed, beta):
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
        enc_r, dec_r, loss_r = _gradients(model, kvae.objectives.IWAE(k, "reparam", beta=beta), x, block_state)
        enc_d, dec_d, loss_d = _gradients(model, kvae.objectives.IWAE(k, "dreg", beta=beta), x, block_state)
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
    keras.utils.set_random_seed(0)  # fixed weights, whatever ran before in this worker
    model = tiny_vae(objective=kvae.objectives.IWAE(5, gradient="dreg"))
    # 12 steps at Adam's default 1e-3 move the bound by less than its noise; at 1e-2 it falls ~0.9 nats.
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = uniform_data(64)
    history = model.fit(x, batch_size=16, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    logs = model.evaluate(x, batch_size=64, return_dict=True, verbose=0)
    # A tighter bound than the one-sample ELBO (in expectation; by far more than the noise here).
    assert logs["loss"] < -logs["elbo"]
    assert float(model.beta.numpy()) == 1.0 and model.free_bits is None


def test_iwae_warms_up_its_weights_in_the_step_and_round_trips_its_schedule():
    """`KLWarmup` and a `Warmup` schedule raise the IWAE's β within the compiled step, as the ELBO's."""
    model = tiny_vae(objective=kvae.objectives.IWAE(3))
    model.compile(optimizer="adam", jit_compile=True)
    history = model.fit(uniform_data(32), batch_size=8, epochs=2, verbose=0,
                        callbacks=[kvae.callbacks.KLWarmup(duration=8)]).history
    np.testing.assert_allclose(history["beta"], [3 / 8, 7 / 8])  # the value at each epoch's last step
    assert float(model.beta.numpy()) == pytest.approx(7 / 8)
    objective = kvae.objectives.IWAE(4, gradient="dreg", beta=kvae.schedules.Warmup(duration=100))
    copy = kvae.testing.clone(objective)
    assert copy.get_config() == objective.get_config() and float(copy.beta.numpy()) == 0.0
    assert isinstance(copy.beta_schedule, kvae.schedules.Warmup) and copy.num_samples == 4
    assert "β Warmup" in copy.describe()


def test_bad_iwae_arguments():
    with pytest.raises(ValueError, match=r"`num_samples` must be a positive integer, received: 0"):
        kvae.objectives.IWAE(0)
    with pytest.raises(ValueError, match=r"`gradient` must be one of \['reparam', 'dreg'\], received: 'score'"):
        kvae.objectives.IWAE(5, gradient="score")
    with pytest.raises(ValueError, match=r"`beta` must be a float >= 0 or a kvae.schedules.Schedule, received: -1"):
        kvae.objectives.IWAE(5, beta=-1)
    schedule = kvae.callbacks.VariableSchedule(lambda t: 0.1, variable="free_bits")
    with pytest.raises(ValueError, match=r"`VariableSchedule` needs a model with a `free_bits` keras.Variable"):
        tiny_vae(objective="iwae").fit(uniform_data(8), epochs=1, verbose=0, callbacks=[schedule])
