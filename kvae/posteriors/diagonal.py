"""The diagonal Gaussian posterior."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.posteriors.base import MIN_SCALE
from kvae.posteriors.base import Posterior

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class DiagonalNormal(Posterior):
    """The diagonal Gaussian q(z|x) = N(μ(x), diag σ(x)²), σ = softplus(s) + 1e-6.

    The encoder's output is a pair `(loc, scale_param)`, each
    `[batch, latent_dim]`, or one tensor `[batch, 2 * latent_dim]` holding
    `loc` then `scale_param`. Samples are z = μ + σ·ε; against the standard
    normal prior the KL has a closed form per latent dimension (`kvae.divergences`).

    Example:

    >>> import numpy as np, kvae
    >>> q = kvae.posteriors.DiagonalNormal().distribution(np.zeros((1, 4), "float32"))
    >>> q.event_shape, round(float(q.stddev()[0, 0]), 4)  # softplus(0) = log 2
    (TensorShape([2]), 0.6931)
    """

    provides = frozenset({"density", "factorized"})

    def describe(self):
        return "diagonal Gaussian posterior"

    def params_sizes(self, latent_dim):
        return (latent_dim, latent_dim)

    def distribution(self, params):
        """q(z|x) as `tfd.Independent(tfd.Normal)`, with one whole z per event."""
        loc, scale_param = self.split(params)
        return _normal(loc, tf.nn.softplus(scale_param) + MIN_SCALE)

    def sample_given_noise(self, posterior, epsilon):
        normal = posterior.distribution
        z = normal.loc + normal.scale * epsilon  # reparameterised: z = μ + σ·ε
        return z, posterior.log_prob(z)

    def location(self, posterior):
        return posterior.distribution.loc

    def stop_gradient(self, posterior):
        normal = posterior.distribution
        return _normal(tf.stop_gradient(normal.loc), tf.stop_gradient(normal.scale))

    def outputs(self, posterior):
        return {"mean": posterior.distribution.loc, "stddev": posterior.distribution.scale}


def _normal(loc, scale):
    return tfd.Independent(tfd.Normal(loc=loc, scale=scale), 1)
