"""One lookup for the VAE's parts: a name, a serialized config or an instance becomes the part.

Each kind of part (`kvae.likelihoods`, `kvae.priors`, `kvae.posteriors`,
`kvae.objectives`) keeps one `Registry` of its built-in parts by name. Its
`get` accepts the same three forms for every kind and words a bad one the same
way; the command line's choices, the harness in `kvae.testing` and the
combination checks (`kvae.protocol`) all enumerate the registries, so a new
built-in part is one new file plus its registry line.
"""

import keras


class Registry:
    """The built-in parts of one kind, by name.

    Args:
        role: str. The part's argument name on `kvae.VAE` (`"prior"`, ...).
        base: the class every part of this kind derives from.
        parts: dict from name to the part's class. `get(name, **kwargs)`
            makes `cls(name=role, **kwargs)`.
        default: str or None. The name `get(None)` makes (None: `get(None)`
            is an error, as for a likelihood, which has no default).

    Example:

    >>> import kvae
    >>> kvae.posteriors.REGISTRY.names
    ('normal', 'full', 'iaf', 'ladder')
    >>> type(kvae.posteriors.REGISTRY.get("full")).__name__
    'FullNormal'
    """

    def __init__(self, role, base, parts, default=None):
        self.role = role
        self.default = default
        self.base = base
        self.parts = dict(parts)

    @property
    def names(self):
        """The built-in names, in the order the docs and the CLI list them."""
        return tuple(self.parts)

    def providers(self, capability):
        """The names of the built-in parts that provide `capability` (see `kvae.protocol`)."""
        return tuple(name for name, cls in self.parts.items() if capability in cls.provides)

    def get(self, identifier=None, **kwargs):
        """Returns the part `identifier` stands for.

        Args:
            identifier: str (a built-in name, made with `kwargs`), dict (a
                serialized part), an instance of `base` (returned as is) or
                None (the default name, if there is one).
            **kwargs: constructor arguments of a named part.
        """
        if identifier is None and self.default is not None:
            identifier = self.default
        if isinstance(identifier, dict):
            identifier = keras.saving.deserialize_keras_object(identifier)
        if isinstance(identifier, self.base):
            return identifier
        if isinstance(identifier, str) and identifier in self.parts:
            return self.parts[identifier](**{"name": self.role, **kwargs})
        kind = f"{self.base.__module__.rsplit('.base', 1)[0]}.{self.base.__name__}"
        raise ValueError(f"`{self.role}` must be one of {list(self.parts)} or a {kind}, received: {identifier!r}")
