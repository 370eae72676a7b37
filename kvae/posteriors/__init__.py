"""Posteriors q(z|x): registered Keras layers that turn the encoder's output into a `tfd` distribution.

The `VAE` calls `posterior.distribution(params)` on what its encoder returns
and `posterior.sample_given_noise(q, ε)` for reparameterised samples with their
exact log-density; every result is float32 whatever the dtype policy (the one
cast at the boundary). `"normal"` is the diagonal Gaussian (default), `"full"`
the full-covariance Gaussian, `"iaf"` an inverse autoregressive flow.
"""

from kvae import registry
from kvae.posteriors.base import MIN_SCALE, Posterior
from kvae.posteriors.diagonal import DiagonalNormal
from kvae.posteriors.full import FullNormal
from kvae.posteriors.iaf import IAF

_BY_NAME = {
    "normal": lambda **kwargs: DiagonalNormal(**{"name": "posterior", **kwargs}),
    "full": lambda **kwargs: FullNormal(**{"name": "posterior", **kwargs}),
    "iaf": lambda **kwargs: IAF(**{"name": "posterior", **kwargs}),
}
NAMES = tuple(_BY_NAME)


def get(identifier="normal", **kwargs):
    """A posterior from a name (`"normal"`, `"full"`, `"iaf"`; made with `kwargs`), an instance or its config."""
    return registry.get(identifier, Posterior, _BY_NAME, "posterior", **kwargs)


__all__ = ["DiagonalNormal", "FullNormal", "IAF", "MIN_SCALE", "NAMES", "Posterior", "get"]
