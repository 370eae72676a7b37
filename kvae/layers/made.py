"""Masked autoregressive networks (MADE, Germain et al. 2015) as Keras 3 layers."""

import keras
import numpy as np

from kvae import checks


@keras.saving.register_keras_serializable(package="kvae")
class MaskedDense(keras.layers.Layer):
    """A `Dense` layer whose kernel is multiplied by a fixed 0/1 connectivity mask.

    Unit j may see input i only if `output_degrees[j] >= input_degrees[i]`
    (`exclusive=False`, hidden layers) or `>` (`exclusive=True`, the output
    layer): with input degrees 1 … d this makes output k depend on inputs < k only.

    Args:
        input_degrees: list of int. Degree of each input feature.
        output_degrees: list of int. Degree of each unit; their number is the width.
        exclusive: bool. Strict inequality (output layer).
        activation: str or None.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> layer = kvae.layers.MaskedDense([1, 2, 3], [1, 2, 3], exclusive=True)
    >>> layer.mask.astype(int)  # output k sees inputs < k
    array([[0, 1, 1],
           [0, 0, 1],
           [0, 0, 0]])
    """

    def __init__(self, input_degrees, output_degrees, exclusive=False, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.input_degrees = [int(d) for d in input_degrees]
        self.output_degrees = [int(d) for d in output_degrees]
        self.exclusive = bool(exclusive)
        self.activation = keras.activations.get(activation)
        out, inp = np.asarray(self.output_degrees)[None, :], np.asarray(self.input_degrees)[:, None]
        self.mask = (out > inp) if self.exclusive else (out >= inp)

    def build(self, input_shape):
        if int(input_shape[-1]) != len(self.input_degrees):
            raise ValueError(
                f"MaskedDense expects {len(self.input_degrees)} input features, received shape {tuple(input_shape)}"
            )
        units = len(self.output_degrees)
        self.kernel = self.add_weight(
            shape=(len(self.input_degrees), units), initializer="glorot_uniform", name="kernel"
        )
        self.bias = self.add_weight(shape=(units,), initializer="zeros", name="bias")

    def call(self, inputs):
        mask = keras.ops.convert_to_tensor(self.mask, dtype=self.compute_dtype)
        return self.activation(keras.ops.matmul(inputs, self.kernel * mask) + self.bias)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (len(self.output_degrees),)

    def get_config(self):
        config = super().get_config()
        config.update(
            input_degrees=self.input_degrees,
            output_degrees=self.output_degrees,
            exclusive=self.exclusive,
            activation=keras.activations.serialize(self.activation),
        )
        return config


@keras.saving.register_keras_serializable(package="kvae")
class AutoregressiveNetwork(keras.layers.Layer):
    """A MADE: `num_params` outputs per dimension, output k a function of inputs 1 … k−1 only.

    `call(z, context)` returns `[..., num_params, d]` for z `[..., d]`; the
    optional context `[batch, context_dim]` (e.g. the encoder's h) enters the
    first hidden layer unmasked, so every output may depend on it. Hidden
    units get degrees 1 … d−1 in turn (all 0 when d = 1: the outputs then
    depend on the context alone).

    Args:
        num_params: int. Outputs per dimension, > 0.
        hidden_units: tuple of int. Widths of the masked hidden layers.
        activation: str. Activation of the hidden layers.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> made = kvae.layers.AutoregressiveNetwork(num_params=2, hidden_units=(8,))
    >>> made(np.zeros((5, 3), "float32"), np.zeros((5, 4), "float32")).shape
    TensorShape([5, 2, 3])
    """

    def __init__(self, num_params=2, hidden_units=(128, 128), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.num_params = checks.positive_int(num_params, "num_params")
        self.hidden_units = checks.positive_ints(hidden_units, "hidden_units")
        self.activation = activation

    def build(self, inputs_shape, context_shape=None):
        dim = int(inputs_shape[-1])
        self.dim = dim
        degrees = list(range(1, dim + 1))
        self.hidden_layers = []
        for i, units in enumerate(self.hidden_units):
            hidden = [k % max(dim - 1, 1) + min(1, dim - 1) for k in range(units)]
            layer = MaskedDense(degrees, hidden, activation=None if i == 0 else self.activation,
                                name=f"masked_{i}", dtype=self.dtype_policy)
            layer.build(tuple(inputs_shape[:-1]) + (len(degrees),))
            self.hidden_layers.append(layer)
            degrees = hidden
        self.context_layer = None
        if context_shape is not None:
            self.context_layer = keras.layers.Dense(
                self.hidden_units[0], use_bias=False, name="context", dtype=self.dtype_policy
            )
            self.context_layer.build(context_shape)
        self.output_layer = MaskedDense(
            degrees, list(range(1, dim + 1)) * self.num_params, exclusive=True, name="output",
            dtype=self.dtype_policy,
        )
        self.output_layer.build(tuple(inputs_shape[:-1]) + (len(degrees),))
        self.built = True

    def call(self, inputs, context=None):
        h = self.hidden_layers[0](inputs)
        if context is not None:
            h = h + self.context_layer(context)
        h = keras.activations.get(self.activation)(h)
        for layer in self.hidden_layers[1:]:
            h = layer(h)
        out = self.output_layer(h)
        shape = keras.ops.shape(out)
        return keras.ops.reshape(out, tuple(shape[:-1]) + (self.num_params, self.dim))

    def get_config(self):
        config = super().get_config()
        config.update(num_params=self.num_params, hidden_units=self.hidden_units, activation=self.activation)
        return config

