"""`kvae.priors`: each prior's density against SciPy, its KL term, sampling from it."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import special, stats

import kvae
from conftest import tiny_vae, uniform_data


def _mixture_logpdf(z, log_weights, means, scales):
    # log Σ_k π_k Π_j N(z_j; m_kj, s_kj), in float64.
    per_component = stats.norm(means[None], scales[None]).logpdf(z[:, None, :]).sum(axis=-1)  # [n, K]
    return special.logsumexp(per_component + log_weights[None], axis=1)


def test_standard_normal_prior_log_density_is_scipys():
    prior = kvae.priors.get("normal")
    prior.build((None, 3))
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    expected = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z)
    np.testing.assert_allclose(prior.distribution().log_prob(z), expected, rtol=1e-5)
    assert prior.provides == {"factorized"} and prior.distribution().dtype == tf.float32


def test_gaussian_mixture_log_density_is_scipys():
    prior = kvae.priors.GaussianMixture(num_components=4, seed=0)
    prior.build((None, 3))
    rng = np.random.default_rng(1)
    prior.logits.assign(rng.normal(size=4).astype("float32"))
    prior.scale_params.assign(rng.normal(size=(4, 3)).astype("float32"))
    z = rng.normal(size=(6, 3)).astype("float32") * 2
    scales = np.log1p(np.exp(prior.scale_params.numpy().astype("float64"))) + 1e-6
    log_weights = special.log_softmax(prior.logits.numpy().astype("float64"))
    expected = _mixture_logpdf(z.astype("float64"), log_weights, prior.means.numpy().astype("float64"), scales)
    np.testing.assert_allclose(prior.distribution().log_prob(z), expected, rtol=1e-5)
    assert "factorized" not in prior.provides and len(prior.trainable_weights) == 3


def test_vamp_prior_is_the_mean_posterior_of_its_clipped_pseudo_inputs():
    model = tiny_vae(prior=kvae.priors.VampPrior(num_components=5, seed=0))
    pseudo = model.prior_layer.pseudo_inputs
    pseudo.assign(np.random.default_rng(0).uniform(-0.5, 1.5, size=pseudo.shape).astype("float32"))
    q = model.encode(np.clip(pseudo.numpy(), 0, 1)).distribution  # the encoder sees u_k clipped to [0, 1]
    z = np.random.default_rng(2).normal(size=(7, 3)).astype("float32")
    expected = _mixture_logpdf(
        z.astype("float64"), np.full(5, -np.log(5)), q.loc.numpy().astype("float64"), q.scale.numpy().astype("float64")
    )
    np.testing.assert_allclose(model.prior.log_prob(z), expected, rtol=1e-5)
    # The prior trains with the model: its pseudo-inputs get gradients through the encoder.
    with tf.GradientTape() as tape:
        loss = -tf.reduce_sum(model.prior.log_prob(z))
    assert np.abs(tape.gradient(loss, pseudo).numpy()).sum() > 0


@pytest.mark.parametrize("prior", ["mixture", "vamp"])
def test_without_a_closed_form_the_kl_is_log_q_minus_log_p_at_the_same_sample(prior):
    model = tiny_vae(prior=kvae.priors.get(prior, num_components=3, seed=0))
    x = uniform_data(4)
    posterior = model.encode(x)
    epsilon = tf.random.stateless_normal([4, 3], [1, 2])
    reconstruction, kl_per_dim, _ = model.forward(x).elbo_terms(epsilon)
    z = posterior.mean() + posterior.stddev() * epsilon
    np.testing.assert_allclose(kl_per_dim[:, 0], posterior.log_prob(z) - model.prior.log_prob(z), rtol=1e-5)
    assert kl_per_dim.shape == (4, 1)
    np.testing.assert_allclose(reconstruction, -model.decode(z).log_prob(x), rtol=1e-5)


@pytest.mark.parametrize("prior", ["mixture", "vamp"])
def test_samples_come_from_the_learned_prior_and_generate_is_stateless(prior):
    model = tiny_vae(prior=kvae.priors.get(prior, num_components=3, seed=0))
    if prior == "mixture":  # three far-apart, narrow components: every draw lands near one
        model.prior_layer.means.assign(np.array([[-20.0] * 3, [0.0] * 3, [20.0] * 3], "float32"))
        model.prior_layer.scale_params.assign(np.full((3, 3), -5.0, "float32"))
    _, z = model.generate(tf.constant([7, 7, 8], tf.int64))
    np.testing.assert_array_equal(z[0], z[1])
    assert not np.array_equal(z[0], z[2])
    z = model.prior.sample(200, seed=tf.constant([0, 1])).numpy()
    if prior == "mixture":
        assert np.min(np.abs(z[:, :1] - np.array([[-20.0, 0.0, 20.0]])), axis=1).max() < 0.5
    assert model.sample(4, seed=0).shape == (4, 4, 4, 1)


def test_standard_normal_generate_keeps_its_stateless_draws():
    model = tiny_vae()
    _, z = model.generate(tf.constant([3, 11], tf.int64))
    for seed, row in zip((3, 11), z.numpy()):
        np.testing.assert_array_equal(row, tf.random.stateless_normal([3], tf.constant([seed, 0], tf.int64)))


def test_bad_prior_arguments():
    with pytest.raises(ValueError, match=r"`num_components` must be a positive integer, received: 0"):
        kvae.priors.GaussianMixture(0)
    with pytest.raises(ValueError, match=r"`clip` must be None or a pair \(low, high\) with low < high, received: \(1.0, 0.0\)"):
        kvae.priors.VampPrior(3, clip=(1, 0))


@pytest.mark.parametrize("objective", ["elbo", "iwae"])
def test_the_vamp_prior_encodes_its_pseudo_inputs_once_per_step(objective, monkeypatch):
    model = tiny_vae(prior=kvae.priors.VampPrior(3, seed=0), objective=objective)
    calls = []
    posterior_of = model.posterior_of
    model.prior_layer.connect(lambda u: calls.append(u.shape) or posterior_of(u))
    model.compile(optimizer="adam")
    model.train_step((uniform_data(8),))  # eager: one call per use
    assert calls == [(3, 4, 4, 1)]


def test_the_diagonal_mixture_density_and_its_gradients_are_as_accurate_as_tfps():
    """The matmul form in float32 against TFP's `MixtureSameFamily` in float64, scales from 1e-3 to 3, points on means.

    Both float32 forms are within a few 1e-5 of the float64 values (relative to the largest); the
    fast one must be within 1e-4, as TFP's own float32 form is.
    """
    rng = np.random.default_rng(0)
    values = [rng.normal(size=40), rng.normal(size=(40, 6)) * 3, np.exp(rng.uniform(np.log(1e-3), np.log(3.0), (40, 6)))]
    values.append(np.concatenate([rng.normal(size=(3, 8, 6)) * 2, (values[1][:8] + 1e-3 * rng.normal(size=(8, 6)))[None]]))
    tfd = tfp.distributions

    def log_probs(fast, dtype):
        logits, loc, scale, z = [tf.constant(v, dtype) for v in values]
        with tf.GradientTape() as tape:
            tape.watch([logits, loc, scale, z])
            if fast:
                p = kvae.priors.DiagonalGaussianMixture.from_parameters(logits, loc, scale)
            else:
                p = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), tfd.Independent(tfd.Normal(loc, scale), 1))
            value = p.log_prob(z)  # [k, b]
            total = tf.reduce_sum(value)
        return [value, *tape.gradient(total, [logits, loc, scale, z])]

    fast = log_probs(True, tf.float32)
    for name, got, exact in zip(["log_prob", "d/dlogits", "d/dloc", "d/dscale", "d/dz"], fast, log_probs(False, tf.float64)):
        exact = exact.numpy()
        np.testing.assert_allclose(got.numpy().astype(np.float64), exact, rtol=0, atol=1e-4 * np.abs(exact).max(),
                                   err_msg=name)
    assert fast[0].shape == (4, 8) and fast[0].dtype == tf.float32


def test_the_mixture_priors_use_the_fast_density_unless_their_components_are_not_diagonal():
    diagonal = kvae.build_vae((4,), 2, hidden_units=8, prior=kvae.priors.VampPrior(3, seed=0))
    full = kvae.build_vae((4,), 2, hidden_units=8, prior=kvae.priors.VampPrior(3, seed=0), posterior="full")
    mixture = kvae.build_vae((4,), 2, hidden_units=8, prior=kvae.priors.GaussianMixture(3, seed=0))
    assert type(diagonal.prior) is kvae.priors.DiagonalGaussianMixture
    assert type(mixture.prior) is kvae.priors.DiagonalGaussianMixture
    assert type(full.prior) is tfp.distributions.MixtureSameFamily
