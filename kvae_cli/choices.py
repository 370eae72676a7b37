"""The library's names the command line offers, readable without importing TensorFlow.

Generated from the library's registries by `python -m kvae.cli.choices`; do not edit.
`tests/test_cli_front_end.py` checks that this file is what the registries generate.
"""

# kvae.data.NAMES: the data sets `--data` knows by name (or a .npy/.npz path)
DATA = ("digits", "fashion_mnist")
# kvae.data.tfrecords.FEATURE_DTYPES
FEATURE_DTYPES = ("uint8", "float32", "encoded")
# kvae.networks.ARCHITECTURES
ARCHITECTURES = ("mlp", "conv")
# kvae.likelihoods.REGISTRY
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_fixed", "discretized_logistic", "categorical")
# kvae.priors.REGISTRY
PRIORS = ("normal", "mixture", "vamp", "top_down")
# kvae.posteriors.REGISTRY
POSTERIORS = ("normal", "full", "iaf", "ladder")
# kvae.objectives.REGISTRY
OBJECTIVES = ("elbo", "iwae")
# kvae.objectives.GRADIENTS
IW_GRADIENTS = ("reparam", "dreg")
# kvae.distribute.STRATEGIES
STRATEGIES = ("default", "mirrored", "multi_worker")
# kvae.networks.DTYPE_POLICIES
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
