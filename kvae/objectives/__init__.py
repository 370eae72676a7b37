"""Training objectives: what `VAE.train_step` minimises, per example.

An objective is a registered Keras layer the `VAE` owns (`model.objective`):
`"elbo"` (default, with β and free bits) or `"iwae"` (the k-sample bound, with β). It
turns the batch's `kvae.forward.ForwardPass` into a loss; see `Objective`.
"""

import numpy as np

from kvae import registry
from kvae.objectives.base import Objective
from kvae.objectives.elbo import ELBO, FREE_BITS, SCHEDULED
from kvae.objectives.iwae import GRADIENTS, IWAE
from kvae.objectives.weighted import Weighted

REGISTRY = registry.Registry("objective", Objective, {
    "elbo": ELBO,
    "iwae": IWAE,
})
NAMES = REGISTRY.names


def get(identifier="elbo", beta=1.0, free_bits=0.0, **kwargs):
    """An objective from a name (`"elbo"`, `"iwae"`), an instance or its serialized config.

    `beta` configures a named objective (both have a KL weight), `free_bits`
    the named ELBO; `kwargs` (e.g. `num_samples`) a named objective; an
    instance carries its own.
    """
    if identifier == "elbo":
        return REGISTRY.get(identifier, beta=beta, free_bits=free_bits, **kwargs)
    if identifier == "iwae":
        if not _is_number(free_bits, 0.0):
            raise ValueError(
                "`free_bits` configures the \"elbo\" objective (the IWAE bound has no per-dimension KL to "
                f"floor), received free_bits={free_bits!r} with objective 'iwae'"
            )
        return REGISTRY.get(identifier, beta=beta, **kwargs)
    if not (_is_number(beta, 1.0) and _is_number(free_bits, 0.0)):
        raise ValueError(
            "`beta` and `free_bits` configure a named objective (\"elbo\", \"iwae\"); pass them to an "
            f"objective instance instead, received beta={beta!r}, free_bits={free_bits!r} with objective "
            f"{identifier!r}"
        )
    return REGISTRY.get(identifier, **kwargs)


def _is_number(value, expected):
    return isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and value == expected


__all__ = ["ELBO", "FREE_BITS", "GRADIENTS", "IWAE", "NAMES", "Objective", "REGISTRY", "SCHEDULED", "Weighted", "get"]
