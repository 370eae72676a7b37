"""Renamed arguments: the old keyword keeps working, with a `DeprecationWarning` naming the new one."""

import functools
import warnings


def renamed(old, new):
    """Decorator: `fn(..., old=v)` calls `fn(..., new=v)` and warns (kvae 0.2 renamed `labels=` to `condition=`).

    Example:

    >>> import warnings
    >>> from kvae import deprecation
    >>> @deprecation.renamed("labels", "condition")
    ... def sample(n, condition=None):
    ...     return condition
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     sample(2, labels=[0, 1])
    [0, 1]
    """

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if kwargs.get(new) is not None:
                    raise TypeError(f"{fn.__name__}() takes `{new}` or its old name `{old}`, not both")
                warnings.warn(f"{fn.__name__}(): `{old}=` is deprecated, pass `{new}=`", DeprecationWarning,
                              stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
