"""Gaussian likelihood with one scale shared by every data value."""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.likelihoods.base import Likelihood

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class GaussianFixed(Likelihood):
    """Independent Normal p(x|z) = N(μ_θ(z), σ²) with one scalar σ.

    The decoder predicts only the mean. σ is either fixed (`learn_scale=False`,
    the classic "MSE" VAE up to constants) or a single learned scalar, stored
    as an unconstrained weight ρ with σ = softplus(ρ) + 1e-6.

    log p(x|z) = Σ_i [−½ ((x_i − μ_i)/σ)² − log σ − ½ log 2π].

    Args:
        scale: float. The scale σ, > 0 (the initial value if learned).
        learn_scale: bool. Whether σ is a trainable weight.

    Example:

    >>> import numpy as np, kvae
    >>> likelihood = kvae.likelihoods.GaussianFixed(scale=0.5)
    >>> p = likelihood.distribution(np.zeros((1, 3), "float32"))
    >>> round(float(p.log_prob(np.zeros((1, 3), "float32"))[0]), 4)
    -0.6774
    """

    num_params = 1

    def __init__(self, scale=1.0, learn_scale=False, **kwargs):
        super().__init__(**kwargs)
        if not scale > 0:
            raise ValueError(f"`scale` must be a float > 0, received: scale={scale}")
        self.initial_scale = float(scale)
        self.learn_scale = bool(learn_scale)
        # softplus⁻¹(σ − 1e-6), so that scale() starts exactly at `scale`.
        shifted = max(self.initial_scale - 1e-6, 1e-12)
        raw = shifted + math.log(-math.expm1(-shifted))
        self.raw_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(raw),
            trainable=self.learn_scale,
            name="raw_scale",
        )
        self.built = True

    def scale(self):
        """The current σ as a scalar tensor."""
        return tf.nn.softplus(self.raw_scale) + 1e-6

    def parameters(self, params):
        scale = tf.cast(self.scale(), params.dtype)
        return {"mean": params, "stddev": tf.broadcast_to(scale, tf.shape(params))}

    def distribution(self, params):
        scale = tf.cast(self.scale(), params.dtype)
        return self._independent(tfd.Normal(loc=params, scale=scale), params)

    def get_config(self):
        config = super().get_config()
        config.update({"scale": self.initial_scale, "learn_scale": self.learn_scale})
        return config
