"""Every `Example:` in kvae's docstrings runs and prints what it says."""

import doctest
import importlib
import pkgutil

import pytest

import kvae
import kvae_cli

MODULES = sorted(
    m.name
    for package in (kvae, kvae_cli)
    for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")
    if not m.name.endswith("__main__")
) + ["kvae_cli"]


@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_the_public_classes_have_examples():
    for obj in (kvae.VAE, kvae.build_vae, kvae.likelihoods.Bernoulli, kvae.likelihoods.Gaussian,
                kvae.likelihoods.GaussianFixed, kvae.data.make_dataset, kvae.data.load_digits):
        assert "Example:" in obj.__doc__ and ">>> " in obj.__doc__, obj.__name__
