"""Bernoulli likelihood for data in [0, 1]."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.likelihoods.base import Likelihood

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Bernoulli(Likelihood):
    """Independent Bernoulli p(x|z) with decoder-predicted logits.

    log p(x|z) = Σ_i x_i log σ(l_i) + (1 − x_i) log(1 − σ(l_i)),

    where l are the decoder's logits and σ the logistic sigmoid. TFP computes it
    as `-sigmoid_cross_entropy_with_logits`, which is stable for large |l| and
    also accepts grey levels x ∈ [0, 1] (the usual "binary cross-entropy"
    reconstruction term of image VAEs).

    Example:

    >>> import numpy as np, kvae
    >>> likelihood = kvae.likelihoods.Bernoulli()
    >>> p = likelihood.distribution(np.zeros((2, 3), "float32"))
    >>> [round(float(v), 4) for v in p.log_prob(np.ones((2, 3), "float32"))]
    [-2.0794, -2.0794]
    """

    num_params = 1

    def check_data(self, x, argument="x"):
        low, high = float(x.min()), float(x.max())
        if low < 0 or high > 1:
            raise ValueError(
                f"`{argument}` must be in [0, 1] for the Bernoulli likelihood, received values in "
                f"[{low:.4g}, {high:.4g}]; scale the data or use a Gaussian likelihood"
            )

    def parameters(self, params):
        return {"logits": params, "probs": tf.sigmoid(params)}

    def distribution(self, params):
        return self._independent(
            tfd.Bernoulli(logits=params, dtype=params.dtype), params
        )
