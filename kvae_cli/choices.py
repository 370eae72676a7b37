"""The library's names the command line offers, readable without importing TensorFlow.

Each tuple mirrors a registry of the library, whose modules import TensorFlow;
`tests/test_cli_front_end.py` checks that every pair agrees, so a likelihood,
architecture or strategy added to the library must be added here to reach the
command line.
"""

# kvae.data.NAMES: the data sets `--data` knows by name (or a .npy/.npz path).
DATA = ("digits", "fashion_mnist")
# kvae.data.tfrecords.FEATURE_DTYPES
FEATURE_DTYPES = ("uint8", "float32", "encoded")
# kvae.networks.ARCHITECTURES
ARCHITECTURES = ("mlp", "conv")
# kvae.likelihoods.NAMES
LIKELIHOODS = ("bernoulli", "gaussian", "gaussian_fixed")
# kvae.priors.NAMES
PRIORS = ("normal", "mixture", "vamp")
# kvae.posteriors.NAMES
POSTERIORS = ("normal", "full", "iaf")
# kvae.objectives.NAMES
OBJECTIVES = ("elbo", "iwae")
# kvae.objectives.GRADIENTS
IW_GRADIENTS = ("reparam", "dreg")
# kvae.distribute.STRATEGIES
STRATEGIES = ("default", "mirrored", "multi_worker")
# Keras dtype policies kvae is tested under (tests/test_mixed_precision.py).
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")
