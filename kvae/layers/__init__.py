"""Keras 3 layers kvae's parts are built from: masked autoregressive networks (MADE), a latent layer's slice."""

from kvae.layers.latent_slice import LatentSlice
from kvae.layers.made import AutoregressiveNetwork, MaskedDense

__all__ = ["AutoregressiveNetwork", "LatentSlice", "MaskedDense"]
