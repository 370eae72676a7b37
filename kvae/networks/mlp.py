"""Fully connected encoder and decoder networks."""

import math

import keras


def mlp_encoder(
    input_shape, latent_dim, hidden_units=(400,), activation="relu", name="encoder", dtype=None, params_size=None,
    condition_shape=None,
):
    """Builds x → the posterior's parameters, one tensor `[batch, params_size]`.

    By default `[loc, scale_param]` of the diagonal Gaussian
    (`params_size = 2 * latent_dim`); `kvae.build_vae` passes its posterior's
    `sum(params_sizes(latent_dim))`.

    Args:
        input_shape: tuple of int. Shape of one example (flattened inside).
        latent_dim: int. Size of z.
        hidden_units: tuple of int. Widths of the hidden `Dense` layers.
        activation: str. Activation of the hidden layers.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers
            (e.g. `"mixed_bfloat16"`; None: Keras' global policy).
        params_size: int or None. Width of the output (None: `2 * latent_dim`).
        condition_shape: tuple of int or None. For a conditional VAE: the
            network takes `[x, c]` and concatenates the flattened c to the
            flattened x.

    Example:

    >>> import kvae
    >>> encoder = kvae.networks.mlp_encoder((28, 28, 1), latent_dim=20)
    >>> encoder.output_shape
    (None, 40)
    """
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = keras.layers.Flatten(dtype=dtype)(inputs)
    inputs, h = with_condition(inputs, h, condition_shape, dtype)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=dtype)(h)
    outputs = keras.layers.Dense(params_size or 2 * latent_dim, name="posterior_params", dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def with_condition(inputs, h, condition_shape, dtype=None):
    """`(inputs, h)` unchanged, or `([inputs, c], concat(h, flatten(c)))` with a condition input c.

    Example:

    >>> import keras, kvae
    >>> z = keras.Input((2,))
    >>> inputs, h = kvae.networks.with_condition(z, z, condition_shape=(10,))
    >>> [tuple(i.shape) for i in inputs], tuple(h.shape)
    ([(None, 2), (None, 10)], (None, 12))
    """
    if condition_shape is None:
        return inputs, h
    c = keras.Input(shape=tuple(condition_shape), name="condition")
    flat_c = keras.layers.Flatten(dtype=dtype)(c) if len(condition_shape) > 1 else c
    return [inputs, c], keras.layers.Concatenate(dtype=dtype)([h, flat_c])


def mlp_decoder(
    latent_dim, output_shape, hidden_units=(400,), activation="relu", name="decoder", dtype=None,
    condition_shape=None,
):
    """Builds z → likelihood parameters of shape `output_shape`.

    Args:
        latent_dim: int. Size of z.
        output_shape: tuple of int. Parameter shape per example, usually
            `likelihood.params_shape(input_shape)`.
        hidden_units: tuple of int. Widths of the hidden `Dense` layers, in
            order from z (pass the encoder's reversed).
        activation: str. Activation of the hidden layers.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers
            (e.g. `"mixed_bfloat16"`; None: Keras' global policy).
        condition_shape: tuple of int or None. For a conditional VAE: the
            network takes `[z, c]` and concatenates the flattened c to z.

    Example:

    >>> import kvae
    >>> decoder = kvae.networks.mlp_decoder(20, (28, 28, 1))
    >>> decoder.output_shape
    (None, 28, 28, 1)
    """
    inputs = keras.Input(shape=(latent_dim,), name="z")
    inputs, h = with_condition(inputs, inputs, condition_shape, dtype)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=dtype)(h)
    h = keras.layers.Dense(math.prod(output_shape), name="likelihood_params", dtype=dtype)(h)
    outputs = keras.layers.Reshape(tuple(output_shape), dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)
