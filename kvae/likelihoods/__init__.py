"""Decoder likelihoods p(x|z), chosen by name or passed as objects."""

from kvae import registry
from kvae.likelihoods.base import Likelihood
from kvae.likelihoods.bernoulli import Bernoulli
from kvae.likelihoods.categorical import Categorical
from kvae.likelihoods.discretized_logistic import DiscretizedLogistic
from kvae.likelihoods.gaussian import Gaussian
from kvae.likelihoods.gaussian_fixed import GaussianFixed

REGISTRY = registry.Registry("likelihood", Likelihood, {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "gaussian_fixed": GaussianFixed,
    "discretized_logistic": DiscretizedLogistic,
    "categorical": Categorical,
})
NAMES = REGISTRY.names


def get(identifier):
    """Returns a `Likelihood` from a name, a config dict or an instance.

    Args:
        identifier: str, dict or `kvae.likelihoods.Likelihood`. One of
            `"bernoulli"`, `"gaussian"`, `"gaussian_fixed"`,
            `"discretized_logistic"`, `"categorical"`; a serialized
            likelihood; or a likelihood object (returned as is).

    Example:

    >>> import kvae
    >>> type(kvae.likelihoods.get("gaussian")).__name__
    'Gaussian'
    """
    return REGISTRY.get(identifier)

__all__ = [
    "Likelihood", "Bernoulli", "Categorical", "DiscretizedLogistic", "Gaussian", "GaussianFixed", "get", "NAMES",
    "REGISTRY",
]
