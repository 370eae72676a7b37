"""Parts defined outside `kvae/` go through the same harness as the built-in ones, with no edit to kvae.

A Laplace prior (KL estimated by Monte Carlo: TFP has no closed form against
the posterior), a diagonal Gaussian posterior with exp-parameterised scales, the
capacity objective of Burgess et al. (2018), a Laplace likelihood, and a
condition on an angle, given in radians and seen by the networks as (cos, sin).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import kvae

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="custom_parts_test")
class LaplacePrior(kvae.priors.Prior):
    """p(z) = Π_j Laplace(z_j; 0, b), b learned."""

    def build(self, z_shape, x_shape=None):
        super().build(z_shape)
        self.log_scale = self.add_weight(shape=(), initializer="zeros", name="log_scale")

    def distribution(self):
        zeros = tf.zeros([self.latent_dim], self.variable_dtype)
        return tfd.Independent(tfd.Laplace(zeros, tf.exp(self.log_scale) + zeros), 1)


@keras.saving.register_keras_serializable(package="custom_parts_test")
class ExpScaleNormal(kvae.posteriors.Posterior):
    """q(z|x) = N(μ, diag exp(s)²): the encoder emits (μ, s)."""

    provides = frozenset({"density", "factorized"})

    def params_sizes(self, latent_dim):
        return (latent_dim, latent_dim)

    def distribution(self, params):
        loc, log_scale = self.split(params)
        return tfd.Independent(tfd.Normal(loc, tf.exp(tf.clip_by_value(log_scale, -10.0, 5.0))), 1)

    def sample_given_noise(self, posterior, epsilon):
        z = posterior.distribution.loc + posterior.distribution.scale * epsilon
        return z, posterior.log_prob(z)

    def location(self, posterior):
        return posterior.distribution.loc

    def stop_gradient(self, posterior):
        normal = posterior.distribution
        return tfd.Independent(tfd.Normal(tf.stop_gradient(normal.loc), tf.stop_gradient(normal.scale)), 1)

    def outputs(self, posterior):
        return {"mean": posterior.distribution.loc, "stddev": posterior.distribution.scale}


@keras.saving.register_keras_serializable(package="custom_parts_test")
class Capacity(kvae.objectives.Objective):
    """loss = −log p(x|z) + γ |KL − C| (Burgess et al., 2018), C nats of capacity."""

    def __init__(self, gamma=10.0, capacity=2.0, **kwargs):
        super().__init__(**kwargs)
        self.gamma, self.capacity = float(gamma), float(capacity)

    def compute(self, forward, training=False):
        reconstruction, kl_per_dim, location = forward.elbo_terms(forward.noise())
        kl = tf.reduce_sum(kl_per_dim, axis=-1)
        return reconstruction + self.gamma * tf.abs(kl - self.capacity), (reconstruction, kl_per_dim, location)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "capacity": self.capacity}


@keras.saving.register_keras_serializable(package="custom_parts_test")
class LaplaceLikelihood(kvae.likelihoods.Likelihood):
    """p(x|z) = Π Laplace(x; m, b), the decoder emitting m and b's softplus parameter per value."""

    num_params = 2

    def parameters(self, params):
        loc, raw = tf.split(params, 2, axis=-1)
        return {"loc": loc, "scale": tf.nn.softplus(raw) + 1e-3}

    def distribution(self, params):
        p = self.parameters(params)
        return self._independent(tfd.Laplace(p["loc"], p["scale"]), p["loc"])


@keras.saving.register_keras_serializable(package="custom_parts_test")
class Angle(kvae.conditions.Condition):
    """A condition on one angle θ per example, in radians, fed to the networks as (cos θ, sin θ)."""

    @property
    def shape(self):
        return (2,)

    @property
    def value_shape(self):
        return ()

    def expected(self):
        return "one angle in radians per example"

    def check(self, values, num_examples, argument="condition"):
        values = np.asarray(values, dtype="float64")
        if values.shape != (num_examples,) or not np.isfinite(values).all():
            raise ValueError(f"`{argument}` must be {num_examples} finite angles, received shape {values.shape}")

    def convert(self, values, argument="condition"):
        if values is None:
            raise self.missing(argument)
        theta = tf.cast(tf.convert_to_tensor(values), tf.float32)
        return tf.stack([tf.cos(theta), tf.sin(theta)], axis=-1)

    def spec(self):
        return tf.TensorSpec([None], tf.float32, name="angle")

    def served(self, value, other, other_name):
        check = tf.debugging.assert_equal(tf.shape(value)[0], tf.shape(other)[0],
                                          message=f"input `angle` must have one row per row of `{other_name}`")
        with tf.control_dependencies([check]):
            return tf.identity(value)

    def example(self, num_examples, seed=0):
        return np.random.default_rng(seed).uniform(0, 2 * np.pi, size=num_examples).astype("float32")


CUSTOM = [LaplacePrior(name="prior"), ExpScaleNormal(name="posterior"), Capacity(name="objective"),
          LaplaceLikelihood(name="likelihood"), Angle(name="condition")]
IDS = [type(part).__name__ for part in CUSTOM]


@pytest.mark.parametrize("part", CUSTOM, ids=IDS)
def test_a_part_from_outside_kvae_trains_and_round_trips(part):
    kvae.testing.run_part_test(part, checks=("serialization", "fit"))


@pytest.mark.slow
@pytest.mark.parametrize("part", CUSTOM, ids=IDS)
def test_a_part_from_outside_kvae_passes_the_whole_harness(part, tmp_path):
    kvae.testing.run_part_test(part, checks=("jit", "saving", "export", "mixed_precision"),
                               folder=str(tmp_path))


@pytest.mark.slow
def test_parts_from_outside_kvae_take_the_same_steps_on_two_replicas(tmp_path):
    from test_parts import replicas_in_a_process_of_their_own

    out = replicas_in_a_process_of_their_own([f"custom:{name}" for name in IDS], tmp_path / "replicas.log")
    assert out.count("the same steps on 2 replicas") == len(IDS)


def test_the_laplace_prior_kl_is_the_monte_carlo_estimate():
    model = kvae.testing.small_vae([LaplacePrior()])
    forward = model.forward(kvae.testing.data(n=4))
    epsilon = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    z, log_q = forward.sample(epsilon)
    _, kl, _ = forward.elbo_terms(epsilon)
    np.testing.assert_allclose(kl[:, 0], log_q - forward.prior.log_prob(z), rtol=1e-6)


def test_an_angle_and_the_same_angle_plus_a_turn_are_the_same_condition():
    model = kvae.testing.small_vae([Angle()])
    x = kvae.testing.data(n=3)
    theta = np.array([0.5, 1.0, 2.0], "float32")
    np.testing.assert_allclose(model.reconstruct(x, condition=theta), model.reconstruct(x, condition=theta + 2 * np.pi),
                               atol=1e-5)
    with pytest.raises(ValueError, match=r"`y` must be 16 finite angles, received shape \(16, 2\)"):
        model.fit(kvae.testing.data(), np.zeros((16, 2)), verbose=0)


def test_free_bits_refuse_a_prior_that_does_not_factorize_its_kl():
    with pytest.raises(ValueError, match=r"free_bits needs a KL with a closed form per latent dimension .* "
                                         r"received the LaplacePrior prior and the DiagonalNormal posterior"):
        kvae.build_vae((6,), 3, hidden_units=(8,), prior=LaplacePrior(), free_bits=0.5)
