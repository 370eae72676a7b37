"""`Vector`: a real-valued condition of a fixed shape."""

import keras
import numpy as np
import tensorflow as tf

from kvae.conditions.base import Condition


@keras.saving.register_keras_serializable(package="kvae")
class Vector(Condition):
    """Real values c `[batch, *shape]`, given to the networks as they are (float32).

    The served signatures take `condition`, float32 `[batch, *shape]`,
    checked finite. `kvae.VAE(condition_shape=S)` is short for
    `condition=Vector(S)`.

    Args:
        shape: int or tuple of int. The shape of one condition, each size > 0.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import kvae
    >>> kvae.conditions.Vector(2).convert([[0.5, -1.0]]).shape
    TensorShape([1, 2])
    """

    def __init__(self, shape, **kwargs):
        super().__init__(**kwargs)
        dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        if not dims or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in dims):
            raise ValueError(f"`condition_shape` must be a tuple of positive integers, received: {shape!r}")
        self._shape = tuple(int(d) for d in dims)

    @property
    def shape(self):
        return self._shape

    def describe(self):
        return f"conditional on real values of shape {self._shape}"

    def expected(self):
        return f"condition values of shape (batch,) + {self._shape}"

    def check(self, values, num_examples, argument="condition"):
        values = self.rows(values, num_examples, argument)
        expected = (num_examples,) + self._shape
        if values.shape != expected or not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"`{argument}` must be condition values of shape {expected}, received shape {values.shape}")
        if not np.isfinite(values).all():
            raise ValueError(f"`{argument}` must hold finite values, received NaN or Inf")

    def convert(self, values, argument="condition"):
        if values is None:
            raise self.missing(argument)
        return tf.cast(tf.convert_to_tensor(values), tf.float32)

    def spec(self):
        return tf.TensorSpec([None, *self._shape], tf.float32, name="condition")

    def served(self, value, other, other_name):
        checks = [
            tf.debugging.assert_equal(tf.shape(value)[0], tf.shape(other)[0],
                                      message=f"input `condition` must have one row per row of `{other_name}`"),
            tf.debugging.assert_all_finite(value, "input `condition` must hold finite values"),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(value)

    def example(self, num_examples, seed=0):
        return np.random.default_rng(seed).normal(size=(int(num_examples), *self._shape)).astype(np.float32)

    def get_config(self):
        return {**super().get_config(), "shape": self._shape}
