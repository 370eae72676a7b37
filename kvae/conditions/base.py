"""The `Condition` base class: what a conditional VAE's condition is, from the user's values to the networks' tensor."""

import keras
import numpy as np

from kvae import protocol


@keras.saving.register_keras_serializable(package="kvae")
class Condition(protocol.Part, keras.layers.Layer):
    """Base class: one kind of condition c of q(z|x, c) and p(x|z, c), end to end.

    A condition part owns every step a condition takes, so the model and the
    exported signatures never ask what kind it is:

    - `check(values, num_examples, argument)`: host-side validation of the
      values a user passes (`fit`'s `y`, a method's `condition=`), with an
      error naming the argument;
    - `convert(values)`: the values as the networks' float32 tensor
      `[batch, *shape]`, once, at the model's boundary; everything past it
      takes that tensor;
    - `spec()`, `served(value, rows_of, other)`: the served input's
      `tf.TensorSpec` and its in-graph checks;
    - `example(n)`: valid values (the warm-up requests and the test harness
      send them), and `grid(columns)`, the conditions of a picture grid;
    - `per_example(values, n)`: one condition given for `n` examples, repeated.

    Subclasses set `shape` (one condition as the networks see it) and
    implement those methods. The VAE holds its condition as `model.condition`
    (`Unconditional` when there is none) and saves it in its config.
    """

    role = "condition"
    # Whether the networks take a condition (only `Unconditional` says no).
    conditional = True
    # The number of classes of a class-label condition (the sample grids draw one row per class), else None.
    num_classes = None

    def __init__(self, **kwargs):
        # Conversions are exact in float32 whatever the global policy: the networks cast to their own.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.built = True

    @property
    def shape(self):
        """One condition as the networks see it (a tuple), or None for `Unconditional`."""
        raise NotImplementedError

    def check(self, values, num_examples, argument="condition"):
        """Raises `ValueError` unless NumPy `values` are a valid condition for `num_examples` examples."""
        raise NotImplementedError

    def convert(self, values, argument="condition"):
        """The networks' float32 condition `[batch, *shape]` from `values` (a tensor or array)."""
        raise NotImplementedError

    def spec(self):
        """The served input's `tf.TensorSpec` (named `label` or `condition`), or None."""
        raise NotImplementedError

    def served(self, value, other, other_name):
        """`value` of the served input with its in-graph checks (rows as `other`'s, values in range)."""
        raise NotImplementedError

    def example(self, num_examples, seed=0):
        """Valid values for `num_examples` examples, as NumPy (what warm-up requests and the harness send)."""
        raise NotImplementedError

    def grid(self, columns, rows=8):
        """Conditions for a picture grid of `columns` per row, one condition per row (`rows` of them)."""
        return np.repeat(np.asarray(self.example(rows)), int(columns), axis=0)

    def per_example(self, values, num_examples):
        """`values` with one row per example: one condition given for all is repeated `num_examples` times."""
        if values is not None and np.ndim(values) == len(self.value_shape):
            return np.repeat(np.asarray(values)[np.newaxis], int(num_examples), axis=0)
        return values

    @property
    def value_shape(self):
        """The shape of one condition as users give it (`()` for a class id)."""
        return self.shape

    def rows(self, values, num_examples, argument):
        """`values` as a NumPy array, checked present with one row per example (the start of every `check`)."""
        if values is None:
            raise self.missing(argument)
        values = np.asarray(values)
        if values.ndim == 0 or len(values) != num_examples:
            received = "one value" if values.ndim == 0 else len(values)
            raise ValueError(f"`{argument}` must have one row per example ({num_examples}), received {received}")
        return values

    def missing(self, argument):
        """The error for a method of a conditional VAE called without its condition."""
        return ValueError(f"a conditional VAE needs `{argument}`: {self.expected()}")

    def expected(self):
        """What values this condition takes, in a few words (for messages)."""
        raise NotImplementedError
