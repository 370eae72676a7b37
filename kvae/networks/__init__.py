"""Encoder and decoder builders, and `build_vae`."""

from kvae.networks.builder import ARCHITECTURES, DTYPE_POLICIES, build_vae
from kvae.networks.conv import conv_decoder, conv_encoder
from kvae.networks.mlp import mlp_decoder, mlp_encoder, with_condition

__all__ = [
    "ARCHITECTURES",
    "DTYPE_POLICIES",
    "build_vae",
    "conv_decoder",
    "conv_encoder",
    "mlp_decoder",
    "mlp_encoder",
    "with_condition",
]
