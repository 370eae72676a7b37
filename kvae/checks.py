"""Argument checks shared by kvae's public functions: one wording for every message."""

import math
import numbers


def positive_int(value, name):
    """Returns `value` as an int if it is an integer > 0 (NumPy integers too); raises otherwise.

    Example:

    >>> import numpy as np
    >>> from kvae import checks
    >>> checks.positive_int(np.int64(3), "latent_dim")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, received: {value!r}")
    return int(value)


def non_negative_float(value, name):
    """Returns `value` as a float if it is a finite number >= 0; raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(f"`{name}` must be a finite number >= 0, received: {value!r}")
    return float(value)
