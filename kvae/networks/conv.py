"""Convolutional encoder and decoder networks for images `(height, width, channels)`."""

import math

import keras

from kvae.networks.mlp import with_condition


def check_image_shape(input_shape):
    """Raises unless `input_shape` is an image's `(height, width, channels)`."""
    if len(input_shape) != 3:
        raise ValueError(
            "`input_shape` must be (height, width, channels) for the conv "
            f"architecture, received: {tuple(input_shape)}"
        )


def conv_encoder(
    input_shape, latent_dim, filters=(32, 64), hidden_units=(256,), name="encoder", dtype=None, params_size=None,
    condition_shape=None,
):
    """Builds x → the posterior's parameters: stride-2 convolutions, then `Dense` layers.

    The output is one tensor `[batch, params_size]`, by default `[loc,
    scale_param]` of the diagonal Gaussian (`2 * latent_dim`).

    Args:
        input_shape: tuple of int. `(height, width, channels)`.
        latent_dim: int. Size of z.
        filters: tuple of int. Filters of each 3×3, stride-2 convolution.
        hidden_units: tuple of int. Widths of the `Dense` layers after them.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers
            (e.g. `"mixed_bfloat16"`; None: Keras' global policy).
        params_size: int or None. Width of the output (None: `2 * latent_dim`).
        condition_shape: tuple of int or None. For a conditional VAE: the
            network takes `[x, c]`; c joins the flattened feature maps.

    Example:

    >>> import kvae
    >>> kvae.networks.conv_encoder((28, 28, 1), latent_dim=8).output_shape
    (None, 16)
    """
    check_image_shape(input_shape)
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = inputs
    for i, f in enumerate(filters):
        h = keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu", name=f"conv_{i}", dtype=dtype)(h)
    h = keras.layers.Flatten(dtype=dtype)(h)
    inputs, h = with_condition(inputs, h, condition_shape, dtype)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}", dtype=dtype)(h)
    outputs = keras.layers.Dense(params_size or 2 * latent_dim, name="posterior_params", dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def conv_decoder(
    latent_dim, output_shape, filters=(64, 32), hidden_units=(256,), name="decoder", dtype=None, condition_shape=None
):
    """Builds z → likelihood parameters `(height, width, channels')`.

    Mirrors `conv_encoder`: `Dense` layers, a reshape to the smallest feature
    map, stride-2 transposed convolutions, a 3×3 output convolution, and a crop
    when the image size is not a multiple of 2^len(filters).

    Args:
        latent_dim: int. Size of z.
        output_shape: tuple of int. `likelihood.params_shape(input_shape)`.
        filters: tuple of int. Filters of each transposed convolution, from z
            (pass the encoder's reversed).
        hidden_units: tuple of int. Widths of the `Dense` layers from z.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers
            (e.g. `"mixed_bfloat16"`; None: Keras' global policy).
        condition_shape: tuple of int or None. For a conditional VAE: the
            network takes `[z, c]`, concatenated.

    Example:

    >>> import kvae
    >>> kvae.networks.conv_decoder(8, (28, 28, 2)).output_shape
    (None, 28, 28, 2)
    """
    check_image_shape(output_shape)
    height, width, channels = output_shape
    factor = 2 ** len(filters)
    h0, w0 = math.ceil(height / factor), math.ceil(width / factor)
    inputs = keras.Input(shape=(latent_dim,), name="z")
    inputs, h = with_condition(inputs, inputs, condition_shape, dtype)
    for i, units in enumerate(hidden_units):
        h = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}", dtype=dtype)(h)
    first = filters[0] if filters else channels
    h = keras.layers.Dense(h0 * w0 * first, activation="relu", name="project", dtype=dtype)(h)
    h = keras.layers.Reshape((h0, w0, first), dtype=dtype)(h)
    for i, f in enumerate(filters):
        h = keras.layers.Conv2DTranspose(
            f, 3, strides=2, padding="same", activation="relu", name=f"deconv_{i}", dtype=dtype
        )(h)
    h = keras.layers.Conv2D(channels, 3, padding="same", name="likelihood_params", dtype=dtype)(h)
    extra_h, extra_w = h0 * factor - height, w0 * factor - width
    if extra_h or extra_w:
        h = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), dtype=dtype)(h)
    return keras.Model(inputs, h, name=name, dtype=dtype)
