"""What parts require of each other and provide, and the one generic check of a combination.

A `kvae.VAE` is a set of parts by role (`"prior"`, `"posterior"`,
`"objective"`, `"likelihood"`, `"preprocessing"`, `"condition"`). Each part
class declares the capabilities it `provides` (a frozenset of the names
below) and each part instance lists its `requirements()`: `Requirement`s on
the capabilities of other roles. `check` raises the first unmet requirement
with a message naming the parts that would meet it, read from the registries;
the model never tests a part's class.

Capabilities:

- `"density"` (posterior): log q(z|x) in closed form at any z, not only at the
  posterior's own samples, and a copy with its parameters held fixed
  (`Posterior.stop_gradient`). The VampPrior's components and the DReG
  estimator need it.
- `"factorized"` (posterior, prior): the distribution is a product over latent
  dimensions (`tfd.Independent` of a scalar family), so its KL against the
  other factorized part is a sum of one closed-form term per dimension. Free
  bits act on those terms.
- `"unconditional"` (condition): the VAE takes no condition
  (`kvae.conditions.Unconditional`).
- `"hierarchical"` (prior): a hierarchy of latent layers generated top-down,
  whose conditionals p(z_l | z_{l+1}) a ladder posterior is made with
  (`kvae.priors.TopDown`).
"""

import dataclasses

import keras

CAPABILITIES = {
    "density": "a posterior whose density has a closed form at any z",
    "factorized": "a KL with a closed form per latent dimension",
    "unconditional": "an unconditional VAE",
    "hierarchical": "a top-down hierarchical prior",
}


@dataclasses.dataclass(frozen=True)
class Requirement:
    """What one part needs of other roles.

    Args:
        subject: str. Who needs it, as the message starts: `"the VampPrior"`.
        needs: tuple of `(role, capability)` pairs, all required.
        reason: str or None. Why, in a few words (shown in parentheses).
        remedy: str or None. What the user can do instead (after a colon).

    Example:

    >>> from kvae import protocol
    >>> need = protocol.Requirement("the DReG gradient", (("posterior", "density"),))
    >>> need.capability
    'a posterior whose density has a closed form at any z'
    """

    subject: str
    needs: tuple
    reason: str = None
    remedy: str = None

    @property
    def capability(self):
        return CAPABILITIES[self.needs[0][1]]


class Part:
    """What every part (prior, posterior, objective, likelihood, preprocessing, condition) answers, besides its maths.

    Mixed into each kind's base class, before `keras.layers.Layer`.
    """

    # The capabilities this part's class provides to the others.
    provides = frozenset()
    # The part's argument name on `kvae.VAE`, set by each kind's base class.
    role = "part"

    def requirements(self):
        """What this part needs of the other parts: a list of `Requirement` (none by default)."""
        return []

    def describe(self):
        """One phrase for reports, from the part's own configuration (e.g. "VampPrior (500 pseudo-inputs)")."""
        return f"{type(self).__name__} {self.role}"

    def summary(self):
        """The part's class and JSON-able configuration, for `metrics.json`."""
        layer_keys = set(keras.layers.Layer.get_config(self))  # name, dtype, ...: the same for every part
        config = {k: v for k, v in self.get_config().items() if k not in layer_keys}
        return {"class": type(self).__name__, **config}


def unmet(requirement, parts, registries):
    """The error message for `requirement` given `parts` (dict role → part), or None.

    `registries` (dict role → `kvae.registry.Registry`) name the built-in parts
    that would provide what is missing.
    """
    if all(capability in parts[role].provides for role, capability in requirement.needs):
        return None
    subject = requirement.subject + (f" ({requirement.reason})" if requirement.reason else "")
    names = _names([(role, registries[role].providers(capability)) for role, capability in requirement.needs])
    received = " and the ".join(f"{type(parts[role]).__name__} {role}" for role, _ in requirement.needs)
    message = f"{subject} needs {requirement.capability} ({names}), received the {received}"
    return message + (f": {requirement.remedy}" if requirement.remedy else "")


def check(parts, registries, requirements=None):
    """Raises `ValueError` for the first unmet requirement of the parts (or of `requirements`, if given)."""
    if requirements is None:
        requirements = [need for part in parts.values() for need in part.requirements()]
    for requirement in requirements:
        message = unmet(requirement, parts, registries)
        if message:
            raise ValueError(message)


def _names(role_names):
    # ("normal" or "full") for one role; (the "normal" prior and the "normal" posterior) for two.
    def alternatives(names):
        return " or ".join(f'"{n}"' for n in names) or "none built in"

    if len(role_names) == 1:
        return alternatives(role_names[0][1])
    return "the " + " and the ".join(f"{alternatives(names)} {role}" for role, names in role_names)
