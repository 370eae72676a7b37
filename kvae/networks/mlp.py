"""Fully connected encoder and decoder networks."""

import math

import keras


def mlp_encoder(
    input_shape, latent_dim, hidden_units=(400,), activation="relu", name="encoder", dtype=None, params_size=None
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

    Example:

    >>> import kvae
    >>> encoder = kvae.networks.mlp_encoder((28, 28, 1), latent_dim=20)
    >>> encoder.output_shape
    (None, 40)
    """
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = keras.layers.Flatten(dtype=dtype)(inputs)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=dtype)(h)
    outputs = keras.layers.Dense(params_size or 2 * latent_dim, name="posterior_params", dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def mlp_decoder(latent_dim, output_shape, hidden_units=(400,), activation="relu", name="decoder", dtype=None):
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

    Example:

    >>> import kvae
    >>> decoder = kvae.networks.mlp_decoder(20, (28, 28, 1))
    >>> decoder.output_shape
    (None, 28, 28, 1)
    """
    inputs = keras.Input(shape=(latent_dim,), name="z")
    h = inputs
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=dtype)(h)
    h = keras.layers.Dense(math.prod(output_shape), name="likelihood_params", dtype=dtype)(h)
    outputs = keras.layers.Reshape(tuple(output_shape), dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)
