"""Priors p(z): registered Keras layers that give the VAE's prior as a `tfd` distribution.

A prior is built for a latent size (`prior.build((None, latent_dim))`, which
the `VAE` does) and returns, from `distribution()`, a float32 distribution over
z with event shape `[latent_dim]` whatever the dtype policy. `analytic_kl` says
whether `tfd.kl_divergence` has a closed form against the diagonal Gaussian
posterior, per latent dimension.
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import registry

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Prior(keras.layers.Layer):
    """Base class: p(z) over `latent_dim` dimensions, set by `build((None, latent_dim))`."""

    analytic_kl = False

    def build(self, input_shape):
        self.latent_dim = int(input_shape[-1])
        self.built = True

    def distribution(self):
        """p(z) as a float32 `tfd` distribution with event shape `[latent_dim]`."""
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="kvae")
class StandardNormal(Prior):
    """The standard normal prior p(z) = N(0, I).

    Example:

    >>> import kvae
    >>> prior = kvae.priors.StandardNormal()
    >>> prior.build((None, 3))
    >>> float(prior.distribution().log_prob([0.0, 0.0, 0.0]))  # −(3/2) log 2π
    -2.756...
    """

    analytic_kl = True

    def distribution(self):
        """N(0, I) over `latent_dim` dimensions, in the variable dtype (float32 under mixed policies)."""
        zeros = tf.zeros([self.latent_dim], dtype=self.variable_dtype)
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), 1)


_BY_NAME = {"normal": lambda **kwargs: StandardNormal(**{"name": "prior", **kwargs})}
NAMES = tuple(_BY_NAME)


def get(identifier="normal", **kwargs):
    """A prior from a name (`"normal"`, made with `kwargs`), an instance or its serialized config."""
    return registry.get(identifier, Prior, _BY_NAME, "prior", **kwargs)
