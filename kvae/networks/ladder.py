"""Networks of a hierarchical (ladder) VAE: the bottom-up encoder, and a decoder that reads z₁."""

import keras

from kvae.layers import LatentSlice
from kvae.networks.mlp import with_condition


def mlp_ladder_encoder(input_shape, latent_dims, hidden_units, activation="relu", name="encoder", dtype=None,
                       condition_shape=None):
    """Builds x → every latent layer's bottom-up Gaussian, one tensor `[batch, 2 Σ d_l]` (all μ̂, then all s).

    The deterministic path of Burda et al. (2016) and the Ladder VAE: block l
    is two `Dense` layers of `hidden_units[l]` on block l − 1's output (x,
    flattened, for l = 1), and its heads give layer l's μ̂_l and raw scale s_l.
    `kvae.posteriors.Ladder` combines them with the top-down prior.

    Args:
        input_shape: tuple of int. Shape of one example.
        latent_dims: tuple of int. d₁ … d_L, z₁ (nearest the data) first.
        hidden_units: tuple of int. One width per latent layer.
        activation: str. Activation of the hidden layers.
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None. Dtype policy of the layers.
        condition_shape: tuple of int or None. A conditional VAE's condition,
            concatenated to the flattened x.

    Example:

    >>> import kvae
    >>> kvae.networks.mlp_ladder_encoder((28, 28, 1), (32, 16), (256, 128)).output_shape
    (None, 96)
    """
    inputs = keras.Input(shape=tuple(input_shape), name="x")
    h = keras.layers.Flatten(dtype=dtype)(inputs)
    inputs, h = with_condition(inputs, h, condition_shape, dtype)
    locs, scales = [], []
    for l, (size, units) in enumerate(zip(latent_dims, hidden_units)):
        for i in range(2):
            h = keras.layers.Dense(units, activation=activation, name=f"block_{l + 1}_{i}", dtype=dtype)(h)
        locs.append(keras.layers.Dense(size, name=f"loc_{l + 1}", dtype=dtype)(h))
        scales.append(keras.layers.Dense(size, name=f"scale_{l + 1}", dtype=dtype)(h))
    outputs = keras.layers.Concatenate(name="posterior_params", dtype=dtype)(locs + scales)
    return keras.Model(inputs, outputs, name=name, dtype=dtype)


def first_layer_decoder(latent_dims, decoder, name="decoder", dtype=None, condition_shape=None):
    """Wraps `decoder` (z₁ → likelihood parameters) to take the whole z = `[z₁, …, z_L]`: p(x|z₁).

    Args:
        latent_dims: tuple of int. d₁ … d_L.
        decoder: keras.Model. Takes z₁ `[batch, d₁]` (and the condition, for a
            conditional VAE).
        name: str. Model name.
        dtype: str, `keras.DTypePolicy` or None.
        condition_shape: tuple of int or None. The condition `decoder` takes.

    Example:

    >>> import kvae
    >>> inner = kvae.networks.mlp_decoder(4, (8,), (16,))
    >>> kvae.networks.first_layer_decoder((4, 2), inner).input_shape
    (None, 6)
    """
    z = keras.Input(shape=(sum(latent_dims),), name="z")
    z1 = LatentSlice(0, latent_dims[0], name="z1", dtype=dtype)(z)
    if condition_shape is None:
        return keras.Model(z, decoder(z1), name=name, dtype=dtype)
    c = keras.Input(shape=tuple(condition_shape), name="condition")
    return keras.Model([z, c], decoder([z1, c]), name=name, dtype=dtype)
