"""Posteriors q(z|x): registered Keras layers that turn the encoder's output into a `tfd` distribution.

The `VAE` calls `posterior.distribution(params)` on what its encoder returns
and `posterior.sample_given_noise(q, ε)` for reparameterised samples with their
exact log-density; every result is float32 whatever the dtype policy (the one
cast at the boundary). `"normal"` is the diagonal Gaussian (default), `"full"`
the full-covariance Gaussian, `"iaf"` an inverse autoregressive flow, `"ladder"`
the Ladder VAE's top-down inference over a hierarchy of latent layers.
"""

from kvae import registry
from kvae.posteriors.base import MIN_SCALE, Posterior
from kvae.posteriors.diagonal import DiagonalNormal
from kvae.posteriors.full import FullNormal
from kvae.posteriors.iaf import IAF
from kvae.posteriors.ladder import Ladder

REGISTRY = registry.Registry("posterior", Posterior, {
    "normal": DiagonalNormal,
    "full": FullNormal,
    "iaf": IAF,
    "ladder": Ladder,
}, default="normal")
NAMES = REGISTRY.names

# A posterior from a name (made with `kwargs`), an instance or its config: `Registry.get`.
get = REGISTRY.get

__all__ = ["DiagonalNormal", "FullNormal", "IAF", "Ladder", "MIN_SCALE", "NAMES", "Posterior", "REGISTRY", "get"]
