"""Residual conv networks of a hierarchical VAE: latent layers as feature maps, one per resolution.

Latent layer l is a map of `latent_channels[l]` channels at 1/2^l of the
image's height and width (ceil), flattened into z = `[z₁, …, z_L]`; the
networks reshape it. Each resolution has an NVAE-style residual cell,
x + conv(swish(conv(swish(x)))) (Vahdat & Kautz, 2020), without NVAE's
batch normalisation and squeeze-excitation, to stay small on a CPU.
"""

import math

import keras

from kvae.layers import LatentSlice
from kvae.networks.mlp import with_condition


def latent_shapes(input_shape, latent_channels):
    """The feature-map shape `(h, w, c)` of each latent layer for images of `input_shape`.

    Example:

    >>> import kvae
    >>> kvae.networks.conv_ladder.latent_shapes((28, 28, 1), (4, 8))
    [(14, 14, 4), (7, 7, 8)]
    """
    height, width = input_shape[:2]
    shapes = []
    for l, channels in enumerate(latent_channels):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
        shapes.append((height, width, int(channels)))
    return shapes


def latent_dims(input_shape, latent_channels):
    """The flat sizes h·w·c of each latent layer (`latent_shapes`): the top-down prior's `latent_dims`."""
    return tuple(math.prod(shape) for shape in latent_shapes(input_shape, latent_channels))


def residual_cell(h, filters, name, dtype=None):
    """NVAE's residual cell (without batch norm): h + conv(swish(conv(swish(h)))), 3×3 convolutions."""
    branch = keras.layers.Activation("silu", dtype=dtype)(h)
    branch = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv_0", dtype=dtype)(branch)
    branch = keras.layers.Activation("silu", dtype=dtype)(branch)
    branch = keras.layers.Conv2D(filters, 3, padding="same", name=f"{name}_conv_1", dtype=dtype)(branch)
    return keras.layers.Add(dtype=dtype)([h, branch])


def conv_ladder_encoder(input_shape, latent_channels, filters, name="encoder", dtype=None, condition_shape=None):
    """x → every latent layer's bottom-up Gaussian, `[batch, 2 Σ d_l]` (all μ̂ maps flattened, then all s).

    Block l halves the resolution (a stride-2 3×3 convolution to `filters[l]`),
    applies a residual cell, and its 1×1 heads give layer l's μ̂ and s maps.

    Args:
        input_shape: tuple of int. `(H, W, C)`.
        latent_channels: tuple of int. Channels of each latent layer's map.
        filters: tuple of int. Filters of each block, one per latent layer.
        name, dtype: the model's name and dtype policy.
        condition_shape: tuple of int or None. A conditional VAE's condition,
            broadcast over the image as extra channels.

    Example:

    >>> import kvae
    >>> kvae.networks.conv_ladder_encoder((28, 28, 1), (4, 8), (16, 32)).output_shape  # 2 (784 + 392)
    (None, 2352)
    """
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h, inputs = _with_condition_maps(inputs, condition_shape, input_shape, dtype)
    locs, scales = [], []
    for l, (channels, f) in enumerate(zip(latent_channels, filters)):
        h = keras.layers.Conv2D(f, 3, strides=2, padding="same", name=f"down_{l + 1}", dtype=dtype)(h)
        h = residual_cell(h, f, f"block_{l + 1}", dtype)
        for heads, kind in ((locs, "loc"), (scales, "scale")):
            head = keras.layers.Conv2D(channels, 1, name=f"{kind}_{l + 1}", dtype=dtype)(h)
            heads.append(keras.layers.Flatten(dtype=dtype)(head))
    outputs = keras.layers.Concatenate(name="posterior_params", dtype=dtype)(locs + scales)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def conv_top_down(input_shape, latent_channels, filters, dtype=None):
    """The top-down prior's conditionals: network l maps z_{l+1} to `[μ_l, s_l]` flattened (`kvae.priors.TopDown`).

    z_{l+1}'s map → a 3×3 convolution to `filters[l + 1]`, a residual cell, a
    stride-2 transposed convolution to `filters[l]` (cropped to layer l's
    size), a residual cell, and 1×1 heads for μ_l and s_l.

    Example:

    >>> import kvae
    >>> [n.output_shape for n in kvae.networks.conv_top_down((28, 28, 1), (4, 8), (16, 32))]
    [(None, 1568)]
    """
    shapes = latent_shapes(input_shape, latent_channels)
    networks = []
    for l in range(len(shapes) - 1):
        z = keras.Input(shape=(math.prod(shapes[l + 1]),), name=f"z{l + 2}")
        h = keras.layers.Reshape(shapes[l + 1], dtype=dtype)(z)
        h = keras.layers.Conv2D(filters[l + 1], 3, padding="same", name="project", dtype=dtype)(h)
        h = residual_cell(h, filters[l + 1], "above", dtype)
        h = _up(h, filters[l], shapes[l][:2], "up", dtype)
        h = residual_cell(h, filters[l], "below", dtype)
        heads = [keras.layers.Flatten(dtype=dtype)(keras.layers.Conv2D(shapes[l][2], 1, name=kind, dtype=dtype)(h))
                 for kind in ("loc", "scale")]
        networks.append(keras.Model(z, keras.layers.Concatenate(dtype=dtype)(heads), name=f"p_z{l + 1}", dtype=dtype))
    return networks


def conv_first_layer_decoder(input_shape, latent_channels, filters, params_channels, name="decoder", dtype=None,
                             condition_shape=None):
    """z = `[z₁, …, z_L]` → the likelihood's parameters `(H, W, params_channels)` from z₁ alone: p(x|z₁).

    z₁'s map → a 3×3 convolution to `filters[0]`, a residual cell, a stride-2
    transposed convolution back to the image's size, a residual cell and a
    3×3 output convolution.

    Example:

    >>> import kvae
    >>> kvae.networks.conv_first_layer_decoder((28, 28, 1), (4, 8), (16, 32), 3).output_shape
    (None, 28, 28, 3)
    """
    shapes = latent_shapes(input_shape, latent_channels)
    z = keras.Input(shape=(sum(math.prod(s) for s in shapes),), name="z")
    inputs, h = z, LatentSlice(0, math.prod(shapes[0]), name="z1", dtype=dtype)(z)
    inputs, h = with_condition(inputs, h, condition_shape, dtype)
    h = keras.layers.Dense(math.prod(shapes[0]), dtype=dtype)(h) if condition_shape is not None else h
    h = keras.layers.Reshape(shapes[0], dtype=dtype)(h)
    h = keras.layers.Conv2D(filters[0], 3, padding="same", name="project", dtype=dtype)(h)
    h = residual_cell(h, filters[0], "above", dtype)
    h = _up(h, filters[0], tuple(input_shape[:2]), "up", dtype)
    h = residual_cell(h, filters[0], "below", dtype)
    h = keras.layers.Activation("silu", dtype=dtype)(h)
    outputs = keras.layers.Conv2D(params_channels, 3, padding="same", name="likelihood_params", dtype=dtype)(h)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def _up(h, filters, size, name, dtype):
    # Double the resolution, then crop to `size` (odd sizes: 7 → 14 → cropped from 8 → ...).
    h = keras.layers.Conv2DTranspose(filters, 3, strides=2, padding="same", name=name, dtype=dtype)(h)
    extra_h, extra_w = h.shape[1] - size[0], h.shape[2] - size[1]
    if extra_h or extra_w:
        h = keras.layers.Cropping2D(((0, extra_h), (0, extra_w)), dtype=dtype)(h)
    return h


def _with_condition_maps(inputs, condition_shape, input_shape, dtype):
    # The condition as constant channels of the image, so every conv block sees it.
    if condition_shape is None:
        return inputs, inputs
    c = keras.Input(shape=tuple(condition_shape), name="condition")
    flat = keras.layers.Flatten(dtype=dtype)(c)
    height, width = input_shape[:2]
    maps = keras.layers.RepeatVector(height * width, dtype=dtype)(flat)
    maps = keras.layers.Reshape((height, width, -1), dtype=dtype)(maps)
    return keras.layers.Concatenate(dtype=dtype)([inputs, maps]), [inputs, c]
