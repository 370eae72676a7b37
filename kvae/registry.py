"""One lookup for the VAE's parts: a name, a serialized config or an instance becomes the part.

`kvae.likelihoods.get`, `kvae.priors.get`, `kvae.posteriors.get` and
`kvae.objectives.get` all resolve their argument here, so every part accepts
the same three forms and a bad one gets the same wording.
"""

import keras


def get(identifier, base, factories, argument, **kwargs):
    """Returns the part `identifier` stands for.

    Args:
        identifier: str (a key of `factories`, called with `kwargs`), dict (a
            serialized part) or an instance of `base` (returned as is).
        base: the class every part of this kind derives from.
        factories: dict from name to a callable that makes the part.
        argument: str. The argument's name, for the error message.

    Example:

    >>> import kvae
    >>> from kvae import registry
    >>> likelihood = registry.get("gaussian", kvae.likelihoods.Likelihood,
    ...                           {"gaussian": kvae.likelihoods.Gaussian}, "likelihood")
    >>> type(likelihood).__name__
    'Gaussian'
    """
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str) and identifier in factories:
        return factories[identifier](**kwargs)
    kind = f"{base.__module__.rsplit('.base', 1)[0]}.{base.__name__}"
    raise ValueError(f"`{argument}` must be one of {list(factories)} or a {kind}, received: {identifier!r}")
