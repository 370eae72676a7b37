"""The parts and combinations the harness runs: enumerated from the registries, never listed by hand."""

import dataclasses
import itertools

from kvae import conditions
from kvae import likelihoods
from kvae import objectives
from kvae import posteriors
from kvae import preprocessing
from kvae import priors

# Each kind's registry, by the part's role on `kvae.VAE`.
REGISTRIES = {
    "prior": priors.REGISTRY,
    "posterior": posteriors.REGISTRY,
    "objective": objectives.REGISTRY,
    "likelihood": likelihoods.REGISTRY,
    "preprocessing": preprocessing.REGISTRY,
    "condition": conditions.REGISTRY,
}
# The roles whose parts meet in `combinations` (preprocessing acts before all of them, and a condition
# reaches only the networks).
COMBINED_ROLES = ("prior", "posterior", "objective", "likelihood")
# Small settings of the built-in parts whose defaults are sized for real data (500
# pseudo-inputs, 128-unit MADEs), and the variants a part's config switches between
# (the DReG gradient): the harness checks behaviour, not capacity.
SETTINGS = {
    ("prior", "mixture"): [{"num_components": 3, "seed": 0}],
    ("prior", "vamp"): [{"num_components": 3, "seed": 0}],
    ("prior", "top_down"): [{"latent_dims": (2, 1), "hidden_units": 8}],  # the harness's latent_dim=3
    ("posterior", "iaf"): [{"num_steps": 2, "hidden_units": (8,), "context_units": 4}],
    ("objective", "iwae"): [{"num_samples": 3}, {"num_samples": 3, "gradient": "dreg"}],
    ("preprocessing", "standardize"): [{"mean": [0.5] * 6, "stddev": [0.25] * 6}],  # `data()`'s 6 columns
    ("condition", "class_label"): [{"num_classes": 3}],
    ("condition", "vector"): [{"shape": (2,)}],
}


@dataclasses.dataclass(frozen=True)
class PartSpec:
    """One built-in part at harness settings: `make()` gives a new instance."""

    role: str
    name: str
    kwargs: tuple = ()

    def make(self):
        return REGISTRIES[self.role].get(self.name, **dict(self.kwargs))

    @property
    def id(self):
        shown = [f"{k}={v}" for k, v in self.kwargs if k in ("gradient",)]
        return f"{self.role}={self.name}" + (f"({','.join(shown)})" if shown else "")


def registered_parts(role=None):
    """Every built-in part (and config variant) as a `PartSpec`, in registry order.

    Example:

    >>> from kvae import testing
    >>> [spec.id for spec in testing.registered_parts("objective")]
    ['objective=elbo', 'objective=iwae', 'objective=iwae(gradient=dreg)']
    """
    specs = []
    for kind, registry in REGISTRIES.items():
        if role not in (None, kind):
            continue
        for name in registry.names:
            for kwargs in SETTINGS.get((kind, name), [{}]):
                specs.append(PartSpec(kind, name, tuple(sorted(kwargs.items()))))
    return specs


def companions_for(part, given=()):
    """The parts `part` needs in other roles (its `requirements()`), as the first registered provider of each.

    `given`: parts already chosen (their roles are left alone).

    Example:

    >>> import kvae
    >>> [type(p).__name__ for p in kvae.testing.companions_for(kvae.posteriors.Ladder())]
    ['TopDown']
    """
    roles = {p.role for p in given} | {part.role}
    companions = []
    for requirement in part.requirements():
        for role, capability in requirement.needs:
            if role in roles:
                continue
            spec = next(s for s in registered_parts(role) if capability in REGISTRIES[role].parts[s.name].provides)
            companions.append(spec.make())
            roles.add(role)
    return companions


def combinations():
    """Every prior × posterior × objective, each with a likelihood, as dicts role → `PartSpec`.

    The likelihood of combination (i, j, k) is number (i + j + k) mod n: with
    three of each other role, the sums i + j + k for one fixed part cover
    five consecutive values, so every likelihood (of up to five) meets every
    prior, posterior and objective, in 27 models rather than 27·n; no
    requirement involves a likelihood today. Valid or not: `kvae.VAE`
    decides.
    """
    likelihood_specs = registered_parts("likelihood")
    by_role = [list(enumerate(registered_parts(role))) for role in COMBINED_ROLES[:3]]
    result = []
    for picked in itertools.product(*by_role):
        combination = {spec.role: spec for _, spec in picked}
        combination["likelihood"] = likelihood_specs[sum(i for i, _ in picked) % len(likelihood_specs)]
        result.append(combination)
    return result
