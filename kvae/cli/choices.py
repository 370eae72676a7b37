"""Writes `kvae_cli/choices.py`: the library's names the command line offers, from the registries.

The front end parses options without importing TensorFlow (so `kvae --help`
stays under a second), so it cannot ask the registries at run time; this
module generates its table from them instead, and
`tests/test_cli_front_end.py` checks the committed file is what it generates.
After adding a part to a registry, run:

    python -m kvae.cli.choices
"""

from pathlib import Path

from kvae import data, distribute, likelihoods, networks, objectives, posteriors, priors
from kvae.data import tfrecords

TARGET = Path(__file__).resolve().parents[2] / "kvae_cli" / "choices.py"

# name in kvae_cli.choices: (where it comes from, the names).
SOURCES = {
    "DATA": ("kvae.data.NAMES: the data sets `--data` knows by name (or a .npy/.npz path)", data.NAMES),
    "FEATURE_DTYPES": ("kvae.data.tfrecords.FEATURE_DTYPES", tfrecords.FEATURE_DTYPES),
    "ARCHITECTURES": ("kvae.networks.ARCHITECTURES", networks.ARCHITECTURES),
    "LIKELIHOODS": ("kvae.likelihoods.REGISTRY", likelihoods.REGISTRY.names),
    "PRIORS": ("kvae.priors.REGISTRY", priors.REGISTRY.names),
    "POSTERIORS": ("kvae.posteriors.REGISTRY", posteriors.REGISTRY.names),
    "OBJECTIVES": ("kvae.objectives.REGISTRY", objectives.REGISTRY.names),
    "IW_GRADIENTS": ("kvae.objectives.GRADIENTS", objectives.GRADIENTS),
    "STRATEGIES": ("kvae.distribute.STRATEGIES", distribute.STRATEGIES),
    "DTYPE_POLICIES": ("kvae.networks.DTYPE_POLICIES", networks.DTYPE_POLICIES),
}


def source():
    """The text of `kvae_cli/choices.py` for today's registries."""
    lines = [
        '"""The library\'s names the command line offers, readable without importing TensorFlow.',
        "",
        "Generated from the library's registries by `python -m kvae.cli.choices`; do not edit.",
        "`tests/test_cli_front_end.py` checks that this file is what the registries generate.",
        '"""',
        "",
    ]
    for name, (origin, names) in SOURCES.items():
        quoted = ", ".join(f'"{n}"' for n in names)
        lines += [f"# {origin}", f"{name} = ({quoted})"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    TARGET.write_text(source())
    print(f"wrote {TARGET}")
