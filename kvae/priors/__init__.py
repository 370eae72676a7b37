"""Priors p(z): registered Keras layers that give the VAE's prior as a `tfd` distribution.

`"normal"` is N(0, I) (default), `"mixture"` a learned Gaussian mixture,
`"vamp"` the VampPrior. See `Prior` for what a prior implements.
"""

from kvae import registry
from kvae.priors.base import MIN_SCALE, Prior
from kvae.priors.diagonal_mixture import DiagonalGaussianMixture
from kvae.priors.mixture import GaussianMixture
from kvae.priors.standard_normal import StandardNormal
from kvae.priors.vamp import VampPrior

REGISTRY = registry.Registry("prior", Prior, {
    "normal": StandardNormal,
    "mixture": GaussianMixture,
    "vamp": VampPrior,
}, default="normal")
NAMES = REGISTRY.names

# A prior from a name (made with `kwargs`), an instance or its config: `Registry.get`.
get = REGISTRY.get

__all__ = ["DiagonalGaussianMixture", "GaussianMixture", "MIN_SCALE", "NAMES", "Prior", "REGISTRY", "StandardNormal", "VampPrior", "get"]
