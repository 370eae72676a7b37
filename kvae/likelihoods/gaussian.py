"""Gaussian likelihood whose mean and scale are both predicted by the decoder."""

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.likelihoods.base import Likelihood

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Gaussian(Likelihood):
    """Independent Normal p(x|z) = N(μ_θ(z), σ_θ(z)²) with a learned, bounded scale.

    The decoder emits two numbers per data value, stacked on the last axis:
    the mean μ_θ(z) (unconstrained) and a raw scale r, mapped into
    (`min_scale`, `max_scale`) by

        σ_θ(z) = min_scale + (max_scale − min_scale) · sigmoid(r + r₀),

    where r₀ puts σ at 1 (clipped into the bounds) when r = 0. The lower bound
    keeps the density from diverging on data with repeated values; the upper
    bound keeps early training stable.

    log p(x|z) = Σ_i [−½ ((x_i − μ_i)/σ_i)² − log σ_i − ½ log 2π].

    Args:
        min_scale: float. Smallest scale the decoder can predict, > 0.
        max_scale: float. Largest scale the decoder can predict, > `min_scale`.

    Example:

    >>> import numpy as np, kvae
    >>> likelihood = kvae.likelihoods.Gaussian()
    >>> likelihood.params_shape((28, 28, 1))
    (28, 28, 2)
    >>> p = likelihood.distribution(np.zeros((1, 4), "float32"))
    >>> [round(float(v), 4) for v in p.stddev()[0]]
    [1.0, 1.0]
    """

    num_params = 2

    def __init__(self, min_scale=1e-3, max_scale=10.0, **kwargs):
        super().__init__(**kwargs)
        if not min_scale > 0:
            raise ValueError(
                f"`min_scale` must be a float > 0, received: min_scale={min_scale}"
            )
        if not max_scale > min_scale:
            raise ValueError(
                "`max_scale` must be greater than `min_scale`, received: "
                f"min_scale={min_scale}, max_scale={max_scale}"
            )
        self.min_scale = float(min_scale)
        self.max_scale = float(max_scale)
        unit = min(max((1.0 - self.min_scale) / (self.max_scale - self.min_scale), 1e-3), 1 - 1e-3)
        self._offset = math.log(unit / (1.0 - unit))

    def scale(self, raw_scale):
        """Maps the decoder's raw scale output to σ_θ(z) ∈ (min_scale, max_scale)."""
        span = self.max_scale - self.min_scale
        return self.min_scale + span * tf.sigmoid(raw_scale + self._offset)

    def parameters(self, params):
        loc, raw_scale = tf.split(params, 2, axis=-1)
        return {"mean": loc, "stddev": self.scale(raw_scale)}

    def distribution(self, params):
        loc, raw_scale = tf.split(params, 2, axis=-1)
        return self._independent(
            tfd.Normal(loc=loc, scale=self.scale(raw_scale)), params
        )

    def get_config(self):
        config = super().get_config()
        config.update({"min_scale": self.min_scale, "max_scale": self.max_scale})
        return config
