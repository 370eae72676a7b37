"""`ClassLabel`: a condition that is one of C classes, given as class ids or one-hot rows."""

import keras
import numpy as np
import tensorflow as tf

from kvae.conditions.base import Condition

# The most classes a data set's labels may name: a label is a class id in [0, MAX_CLASSES), so that one
# stray value (10**7) cannot build a model of that many classes.
MAX_CLASSES = 10_000


@keras.saving.register_keras_serializable(package="kvae")
class ClassLabel(Condition):
    """A class label y in {0, ..., C−1}: the networks see it one-hot, `[batch, C]` float32.

    Users give class ids `[batch]` (any integer dtype, or `[batch, 1]`) or
    one-hot rows `[batch, C]`; the served signatures take `label`, int64 class
    ids `[batch]`, checked in range. `kvae.VAE(num_classes=C)` is short for
    `condition=ClassLabel(C)`.

    Args:
        num_classes: int. C, >= 2.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import kvae
    >>> kvae.conditions.ClassLabel(3).convert([2, 0]).numpy()
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """

    def __init__(self, num_classes, **kwargs):
        super().__init__(**kwargs)
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2, received: {num_classes!r}")
        self.num_classes = int(num_classes)

    @property
    def shape(self):
        return (self.num_classes,)

    @property
    def value_shape(self):
        return ()

    def describe(self):
        return f"conditional on {self.num_classes} class labels"

    def expected(self):
        return f"class ids or one-hot rows for num_classes={self.num_classes}"

    def check(self, values, num_examples, argument="condition"):
        labels = self.rows(values, num_examples, argument)
        if labels.ndim == 2 and labels.shape[1] == self.num_classes:
            return  # one-hot rows
        ids = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.number) or not np.all(np.mod(ids, 1) == 0):
            raise ValueError(
                f"`{argument}` must be class ids [n] or one-hot rows [n, {self.num_classes}], "
                f"received shape {labels.shape} of {labels.dtype}"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_classes):
            raise ValueError(
                f"`{argument}` must be class ids in [0, {self.num_classes}), received values in "
                f"[{ids.min()}, {ids.max()}]"
            )

    def convert(self, values, argument="condition"):
        if values is None:
            raise self.missing(argument)
        labels = tf.convert_to_tensor(values)
        if labels.shape.rank == 2 and labels.shape[-1] == 1:
            labels = labels[:, 0]
        if labels.shape.rank == 1:  # class ids
            return tf.one_hot(tf.cast(labels, tf.int32), self.num_classes, dtype=tf.float32)
        return tf.cast(labels, tf.float32)  # one-hot rows

    def spec(self):
        return tf.TensorSpec([None], tf.int64, name="label")

    def served(self, value, other, other_name):
        message = f"input `label` must be in [0, {self.num_classes})"
        checks = [
            tf.debugging.assert_equal(tf.shape(value)[0], tf.shape(other)[0],
                                      message=f"input `label` must have one row per row of `{other_name}`"),
            tf.debugging.assert_non_negative(value, message=message),
            tf.debugging.assert_less(value, tf.constant(self.num_classes, value.dtype), message=message),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(value)

    def example(self, num_examples, seed=0):
        return np.random.default_rng(seed).integers(0, self.num_classes, size=int(num_examples), dtype=np.int64)

    def grid(self, columns, rows=None):
        """One row per class: `[num_classes * columns]` class ids, class c filling row c."""
        return np.repeat(np.arange(self.num_classes, dtype=np.int64), int(columns))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


def check_class_ids(ids, where):
    """Raises unless `ids` are class ids: numeric, integral, in [0, MAX_CLASSES); `where` names their source.

    Example:

    >>> from kvae import conditions
    >>> conditions.check_class_ids([0, 2, 1], "`y`")
    >>> conditions.check_class_ids([0, -1], "`y`")
    Traceback (most recent call last):
    ...
    ValueError: `y` must hold class ids, integers in [0, 10000); received -1 (example 2)
    """
    ids = np.asarray(ids)
    if ids.size == 0:
        return
    if not (np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)):
        raise ValueError(f"{where} must hold class ids, integers in [0, {MAX_CLASSES}); received values of "
                         f"type {ids.dtype} (e.g. {ids.reshape(-1)[0].item()!r}): map class names to ids first")
    flat = ids.reshape(-1)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(flat) | (flat < 0) | (flat >= MAX_CLASSES) | (np.mod(flat, 1) != 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{where} must hold class ids, integers in [0, {MAX_CLASSES}); received {flat[i].item()!r} "
                         f"(example {i + 1})")
