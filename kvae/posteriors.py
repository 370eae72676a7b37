"""Posteriors q(z|x): registered Keras layers that turn the encoder's output into a `tfd` distribution.

The `VAE` calls `posterior.distribution(params)` on what its encoder returns;
the result is float32 whatever the dtype policy (the one cast at the boundary).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import registry

tfd = tfp.distributions

# Floor on the posterior scale: keeps log σ finite when softplus underflows.
MIN_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="kvae")
class Posterior(keras.layers.Layer):
    """Base class: q(z|x) from the encoder's output."""

    def distribution(self, params):
        """q(z|x) as a float32 `tfd` distribution with event shape `[latent_dim]`."""
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="kvae")
class DiagonalNormal(Posterior):
    """The diagonal Gaussian q(z|x) = N(μ(x), diag σ(x)²), σ = softplus(s) + 1e-6.

    The encoder's output is a pair `(loc, scale_param)`, each
    `[batch, latent_dim]`, or one tensor `[batch, 2 * latent_dim]` holding
    `loc` then `scale_param`.

    Example:

    >>> import numpy as np, kvae
    >>> q = kvae.posteriors.DiagonalNormal().distribution(np.zeros((1, 4), "float32"))
    >>> q.event_shape, round(float(q.stddev()[0, 0]), 4)  # softplus(0) = log 2
    (TensorShape([2]), 0.6931)
    """

    def distribution(self, params):
        """q(z|x) as `tfd.Independent(tfd.Normal)`, with one whole z per event."""
        if isinstance(params, (list, tuple)):
            loc, scale_param = (self._float(p) for p in params)
        else:
            loc, scale_param = tf.split(self._float(params), 2, axis=-1)
        scale = tf.nn.softplus(scale_param) + MIN_SCALE
        return tfd.Independent(tfd.Normal(loc=loc, scale=scale), 1)

    def _float(self, tensor):
        return tf.cast(tensor, self.variable_dtype)


_BY_NAME = {"normal": lambda **kwargs: DiagonalNormal(**{"name": "posterior", **kwargs})}
NAMES = tuple(_BY_NAME)


def get(identifier="normal", **kwargs):
    """A posterior from a name (`"normal"`, made with `kwargs`), an instance or its serialized config."""
    return registry.get(identifier, Posterior, _BY_NAME, "posterior", **kwargs)
