"""`kvae.posteriors`: q(z|x) from the encoder's output; the flow's maths."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import stats

import keras
import kvae
from kvae.posteriors import iaf as iaf_lib


def test_diagonal_normal_posterior_from_one_tensor_or_a_pair():
    rng = np.random.default_rng(0)
    loc, scale_param = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    posterior = kvae.posteriors.get("normal")
    joined = posterior.distribution(np.concatenate([loc, scale_param], axis=-1))
    paired = posterior.distribution((loc, scale_param))
    scale = np.log1p(np.exp(scale_param.astype("float64"))) + 1e-6  # softplus + floor
    z = rng.normal(size=(4, 3)).astype("float32")
    expected = stats.norm(loc, scale).logpdf(z).sum(axis=-1)
    np.testing.assert_allclose(joined.log_prob(z), expected, rtol=1e-5)
    np.testing.assert_allclose(paired.log_prob(z), expected, rtol=1e-5)


def _full_params(rng, batch, latent_dim):
    return rng.normal(size=(batch, latent_dim + latent_dim * (latent_dim + 1) // 2)).astype("float32")


def test_full_covariance_kl_against_numpy():
    rng = np.random.default_rng(1)
    posterior, prior = kvae.posteriors.get("full"), kvae.priors.StandardNormal()
    posterior.build((None, 3))
    prior.build((None, 3))
    q = posterior.distribution(_full_params(rng, 4, 3))
    kl = kvae.divergences.kl_terms(q, prior.distribution(), None, None).numpy()  # closed form: no z needed
    assert kl.shape == (4, 1)
    mu, tril = q.loc.numpy().astype("float64"), q.scale.to_dense().numpy().astype("float64")
    for b in range(4):
        sigma = tril[b] @ tril[b].T
        expected = 0.5 * (np.trace(sigma) + mu[b] @ mu[b] - 3 - np.linalg.slogdet(sigma)[1])
        np.testing.assert_allclose(kl[b, 0], expected, rtol=1e-4)


def test_full_covariance_factor_is_tfps_fill_scale_tril_bit_for_bit():
    params = _full_params(np.random.default_rng(3), 5, 4)[:, 4:]
    expected = tfp.bijectors.FillScaleTriL(diag_shift=1e-6)(params).numpy()
    np.testing.assert_array_equal(kvae.posteriors.full.scale_tril(params).numpy(), expected)


def test_full_covariance_samples_have_the_covariance_and_their_log_density():
    rng = np.random.default_rng(2)
    posterior = kvae.posteriors.FullNormal()
    posterior.build((None, 2))
    q = posterior.distribution(_full_params(rng, 1, 2))
    epsilon = rng.normal(size=(20000, 1, 2)).astype("float32")
    z, log_q = posterior.sample_given_noise(q, epsilon)
    tril = q.scale.to_dense().numpy()[0]
    np.testing.assert_allclose(np.cov(z.numpy()[:, 0].T), tril @ tril.T, atol=0.05)
    expected = stats.multivariate_normal(q.loc.numpy()[0], tril @ tril.T).logpdf(z.numpy()[:5, 0])
    np.testing.assert_allclose(log_q.numpy()[:5, 0], expected, rtol=1e-4)


def _trained_looking_iaf(latent_dim=4, context_units=3, seed=0, update="gated"):
    # Random (not zero-initialised) weights, so that the flow is far from the identity.
    keras.utils.set_random_seed(seed)
    iaf = kvae.posteriors.IAF(num_steps=2, hidden_units=(16, 16), context_units=context_units, update=update)
    iaf.build((None, latent_dim))
    rng = np.random.default_rng(seed)
    for weight in iaf.weights:
        weight.assign(rng.normal(scale=0.5, size=weight.shape).astype("float32"))
    return iaf


def _jacobian_rows(made, z, context):
    # d output / d z for each of the MADE's outputs, in the order (param, dim).
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z)
        out = made(z, context)[0]  # [num_params, dim]
        outputs = [out[p, i] for p in range(out.shape[0]) for i in range(out.shape[1])]
    return np.stack([tape.gradient(o, z).numpy()[0] for o in outputs])


def test_made_output_i_depends_on_inputs_before_i_only():
    made = kvae.layers.AutoregressiveNetwork(num_params=2, hidden_units=(32, 32))
    made.build((None, 5), (None, 3))
    rng = np.random.default_rng(3)
    for weight in made.weights:
        weight.assign(rng.normal(size=weight.shape).astype("float32"))
    z = tf.constant(rng.normal(size=(1, 5)).astype("float32"))
    context = tf.constant(rng.normal(size=(1, 3)).astype("float32"))
    jacobian = _jacobian_rows(made, z, context)  # [10, 5]
    for p in range(2):
        for i in range(5):
            row = jacobian[p * 5 + i]
            assert np.all(row[i:] == 0), (p, i, row)  # output i ignores inputs >= i
            if i:
                assert np.any(row[:i] != 0), (p, i, row)  # ... and does see the earlier ones


UPDATES = pytest.mark.parametrize("update", iaf_lib.UPDATES)


@UPDATES
def test_iaf_flow_is_autoregressive_within_a_step(update):
    iaf = _trained_looking_iaf(latent_dim=4, update=update)
    z0 = tf.constant(np.random.default_rng(6).normal(size=(1, 4)).astype("float32"))
    context = tf.constant(np.ones((1, 3), "float32"))
    one_step = tfp.bijectors.Invert(
        tfp.bijectors.MaskedAutoregressiveFlow(bijector_fn=iaf_lib._bijector_fn(iaf.steps[0], context, update))
    )
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(z0)
        z1 = one_step.forward(z0)[0]
        rows = [z1[i] for i in range(4)]
    jacobian = np.stack([tape.gradient(r, z0).numpy()[0] for r in rows])
    assert np.all(np.triu(jacobian, k=1) == 0)  # z1_i depends on z0_<=i only: triangular


@UPDATES
def test_iaf_log_det_against_a_finite_difference_jacobian(update):
    iaf = _trained_looking_iaf(latent_dim=4, update=update)
    rng = np.random.default_rng(4)
    context = tf.constant(rng.normal(size=(1, 3)).astype("float64").astype("float32"))
    flow = iaf.flow(context)
    z0 = rng.normal(size=(1, 4)).astype("float32")
    h = 1e-2
    jacobian = np.zeros((4, 4))
    for j in range(4):
        step = np.zeros((1, 4), "float32")
        step[0, j] = h
        up, down = flow.forward(z0 + step).numpy(), flow.forward(z0 - step).numpy()
        jacobian[:, j] = (up - down)[0].astype("float64") / (2 * h)
    expected = np.linalg.slogdet(jacobian)[1]
    log_det = float(flow.forward_log_det_jacobian(z0, event_ndims=1)[0])
    np.testing.assert_allclose(log_det, expected, atol=2e-3)
    assert abs(log_det) > 0.1  # a flow far from volume-preserving: the check has teeth


@UPDATES
def test_iaf_log_density_of_its_samples_matches_the_inverted_flow(update):
    iaf = _trained_looking_iaf(update=update)
    rng = np.random.default_rng(5)
    q = iaf.distribution(rng.normal(size=(3, 4 + 4 + 3)).astype("float32"))
    z, log_q = iaf.sample_given_noise(q, rng.normal(size=(2, 3, 4)).astype("float32"))
    # `log_prob` at a fresh copy of z inverts the flow dimension by dimension.
    np.testing.assert_allclose(q.log_prob(tf.identity(z) + 0.0).numpy(), log_q.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(iaf.location(q).numpy(), iaf.sample_given_noise(q, np.zeros((3, 4), "float32"))[0])


@pytest.mark.parametrize("name", ["normal", "full", "iaf", "iaf-affine"])
def test_posterior_config_round_trip(name):
    posterior = kvae.posteriors.IAF(update="affine") if name == "iaf-affine" else kvae.posteriors.get(name)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(posterior))
    assert type(restored) is type(posterior) and restored.get_config() == posterior.get_config()


def test_an_iaf_saved_before_the_update_option_loads_with_the_gated_step_it_was_trained_with():
    assert kvae.posteriors.IAF().update == "affine"
    old = keras.saving.serialize_keras_object(kvae.posteriors.IAF(context_units=32, update="gated"))
    del old["config"]["update"]
    restored = keras.saving.deserialize_keras_object(old)
    assert restored.update == "gated" and restored.context_units == 32


def test_bad_iaf_arguments_name_the_argument():
    with pytest.raises(ValueError, match="`num_steps` must be"):
        kvae.posteriors.IAF(num_steps=0)
    with pytest.raises(ValueError, match="`hidden_units` must be .* received: \\(0,\\)"):
        kvae.posteriors.IAF(hidden_units=0)
    with pytest.raises(ValueError, match="`context_units` must be an int >= 0, received: -1"):
        kvae.posteriors.IAF(context_units=-1)
    with pytest.raises(ValueError, match="`update` must be one of \\('gated', 'affine'\\), received: 'exp'"):
        kvae.posteriors.IAF(update="exp")
