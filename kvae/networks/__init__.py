"""Encoder and decoder builders (`kvae.build_vae` pairs them into a model: `kvae.build`)."""

ARCHITECTURES = ("mlp", "conv")
# Keras dtype policies the networks are tested under (`dtype=` of `build_vae`).
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

from kvae.networks.conv import conv_decoder, conv_encoder
from kvae.networks.conv_ladder import conv_first_layer_decoder, conv_ladder_encoder, conv_top_down
from kvae.networks.ladder import first_layer_decoder, mlp_ladder_encoder
from kvae.networks.mlp import mlp_decoder, mlp_encoder, with_condition

__all__ = [
    "ARCHITECTURES",
    "DTYPE_POLICIES",
    "conv_decoder",
    "conv_encoder",
    "conv_first_layer_decoder",
    "conv_ladder_encoder",
    "conv_top_down",
    "first_layer_decoder",
    "mlp_decoder",
    "mlp_encoder",
    "mlp_ladder_encoder",
    "with_condition",
]
