"""Priors p(z): registered Keras layers that give the VAE's prior as a `tfd` distribution.

`"normal"` is N(0, I) (default), `"mixture"` a learned Gaussian mixture,
`"vamp"` the VampPrior, `"top_down"` a hierarchy of latent layers generated
top-down (the Ladder VAE's prior). See `Prior` for what a prior implements.
"""

from kvae import registry
from kvae.priors.base import MIN_SCALE, Prior
from kvae.priors.diagonal_mixture import DiagonalGaussianMixture
from kvae.priors.mixture import GaussianMixture
from kvae.priors.standard_normal import StandardNormal
from kvae.priors.top_down import TopDown
from kvae.priors.vamp import VampPrior

REGISTRY = registry.Registry("prior", Prior, {
    "normal": StandardNormal,
    "mixture": GaussianMixture,
    "vamp": VampPrior,
    "top_down": TopDown,
}, default="normal")
NAMES = REGISTRY.names

# A prior from a name (made with `kwargs`), an instance or its config: `Registry.get`.
get = REGISTRY.get

__all__ = ["DiagonalGaussianMixture", "GaussianMixture", "MIN_SCALE", "NAMES", "Prior", "REGISTRY", "StandardNormal", "TopDown", "VampPrior",
           "get"]
