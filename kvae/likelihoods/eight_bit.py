"""What the 8-bit likelihoods share: the grid of pixel values and a `tfd.Distribution` over it.

kvae's image data are 8-bit pixels scaled into [0, 1]: a value x stands for the
level k = 255·x ∈ {0, 1, …, 255}. A likelihood of such data that is a true
probability mass gives each example a probability P(k) with Σ P = 1 over the
256^D images of D values, so −log₂ P / D is a bits/dim that can be set beside
any paper's 8-bit results. `kvae.likelihoods.DiscretizedLogistic` and
`kvae.likelihoods.Categorical` are such masses; their distributions
(`EightBitDistribution`) take and give values k/255.
"""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

LEVELS = 256
# How far from a level k/255 a float value may lie (in levels) and still be that level.
TOLERANCE = 1e-3


def levels_of(x):
    """The integer levels k = round(255·x), int32, of values x in [0, 1]."""
    x = tf.convert_to_tensor(x)
    return tf.cast(tf.round(x * (LEVELS - 1)), tf.int32)


def off_grid(x):
    """How many of the NumPy values `x` are no level k/255 (within `TOLERANCE` of a level)."""
    scaled = np.asarray(x, "float64") * (LEVELS - 1)
    return int(np.count_nonzero(np.abs(scaled - np.round(scaled)) > TOLERANCE))


def on_grid(x):
    """A scalar bool tensor: every value of `x` is a level k/255 (within `TOLERANCE`), for served inputs."""
    scaled = tf.cast(x, tf.float32) * (LEVELS - 1)
    return tf.reduce_all(tf.abs(scaled - tf.round(scaled)) <= TOLERANCE)


class EightBitDistribution(tfd.Distribution):
    """A distribution of whole examples of 8-bit values k/255, one example per batch member.

    Subclasses give the log-mass of whole examples of integer levels
    (`_log_prob_levels`), the mean, and samples as integer levels.

    Args:
        params: tensor `[batch, ...]`. The decoder's output, whose first axis
            is the batch.
        event_shape: tuple of int. Shape of one example.
        parameters: dict. The constructor's arguments, for TFP.
        name: str.
    """

    def __init__(self, params, event_shape, parameters, name):
        self._params = params
        self._event = tf.TensorShape(event_shape)
        super().__init__(
            dtype=tf.float32,
            reparameterization_type=tfd.NOT_REPARAMETERIZED,
            validate_args=False,
            allow_nan_stats=True,
            parameters=parameters,
            name=name,
        )

    def _batch_shape(self):
        return self._params.shape[:1]

    def _batch_shape_tensor(self):
        return tf.shape(self._params)[:1]

    def _event_shape(self):
        return self._event

    def _event_shape_tensor(self):
        return tf.constant(self._event.as_list(), tf.int32)

    def _log_prob(self, x):
        # Values outside [0, 1] have no mass: −inf, computed on clipped levels so that no op sees a bad index.
        # Values between levels are rounded here; `Likelihood.check_data` and the served signatures refuse them.
        x = tf.convert_to_tensor(x, self.dtype)
        levels = tf.clip_by_value(levels_of(x), 0, LEVELS - 1)
        log_p = self._log_prob_levels(levels)
        event_axes = list(range(-len(self._event), 0))
        outside = tf.reduce_any(tf.logical_or(x < 0, x > 1), axis=event_axes) if event_axes else tf.logical_or(
            x < 0, x > 1)
        return tf.where(outside, tf.constant(-float("inf"), log_p.dtype), log_p)

    def _log_prob_levels(self, k):
        """log P(k) per example `[...]` for integer levels k `[..., *event_shape]`."""
        raise NotImplementedError

    def _sample_n(self, n, seed=None):
        return tf.cast(self._sample_levels(n, seed), tf.float32) / (LEVELS - 1)

    def _sample_levels(self, n, seed):
        """Integer levels `[n, batch, *event_shape]` drawn from the distribution."""
        raise NotImplementedError
