"""Keras 3 layers kvae's parts are built from: masked autoregressive networks (MADE)."""

from kvae.layers.made import AutoregressiveNetwork, MaskedDense

__all__ = ["AutoregressiveNetwork", "MaskedDense"]
