"""256-way categorical likelihood: a probability mass of 8-bit values with no shape imposed."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.likelihoods import eight_bit
from kvae.likelihoods.base import Likelihood

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Categorical(Likelihood):
    """An independent 256-way categorical p(x|z) per value x = k/255 (van den Oord et al., 2016).

    log p(x|z) = Σ_i log softmax(l_i)[k_i],   k_i = 255·x_i,

    where l_i are the decoder's 256 logits for value i. The most flexible mass
    of 8-bit data (any histogram of levels, with no order between them), and
    the largest decoder: 256 outputs per value (200,704 for a 28×28 image), so
    it suits conv decoders best. −log₂ p / D is a bits/dim comparable with
    published 8-bit results.

    The decoder emits the 256 logits of each value consecutively, on the last
    axis: `(H, W, 256·C)` for images `(H, W, C)`.

    Example:

    >>> import numpy as np, kvae
    >>> likelihood = kvae.likelihoods.Categorical()
    >>> likelihood.params_shape((28, 28, 1))
    (28, 28, 256)
    >>> p = likelihood.distribution(np.zeros((1, 2 * 256), "float32"))  # uniform over the levels
    >>> round(float(p.log_prob(np.array([[0.0, 1.0]], "float32"))[0]), 4)  # 2 · log(1/256)
    -11.0904
    """

    num_params = eight_bit.LEVELS
    support = (0.0, 1.0)
    levels = eight_bit.LEVELS

    def logits(self, params):
        """The decoder's output as logits `[batch, *event_shape, 256]`."""
        params = tf.convert_to_tensor(params, tf.float32)
        shape = tf.concat([tf.shape(params)[:-1], [-1, eight_bit.LEVELS]], axis=0)
        return tf.reshape(params, shape)

    def parameters(self, params):
        return {"logits": self.logits(params), "mean": self.distribution(params).mean()}

    def distribution(self, params):
        params = tf.convert_to_tensor(params, tf.float32)
        return CategoricalLevels(self.logits(params), params=params)

    def describe(self):
        return "256-way categorical"


class CategoricalLevels(eight_bit.EightBitDistribution):
    """The `tfd.Distribution` of `Categorical`: whole examples of levels k/255.

    Args:
        logits: `[batch, *event_shape, 256]`.
        params: the decoder's output (for the batch shape).
    """

    def __init__(self, logits, params):
        parameters = dict(locals())
        self.logits = logits
        super().__init__(params, tuple(logits.shape[1:-1]), parameters, name="CategoricalLevels")

    def _log_prob_levels(self, k):
        logits = tf.broadcast_to(self.logits, tf.concat([tf.shape(k), [eight_bit.LEVELS]], axis=0))
        per_value = -tf.nn.sparse_softmax_cross_entropy_with_logits(labels=k, logits=logits)
        return tf.reduce_sum(per_value, axis=list(range(-len(self.event_shape), 0)))

    def _mean(self):
        levels = tf.range(eight_bit.LEVELS, dtype=tf.float32) / (eight_bit.LEVELS - 1)
        return tf.reduce_sum(tf.nn.softmax(self.logits) * levels, axis=-1)

    def _sample_levels(self, n, seed):
        return tfd.Categorical(logits=self.logits).sample(n, seed=seed)
