"""kvae: variational autoencoders for TensorFlow/Keras 3."""

import os

# Keras 3 on TensorFlow; set before keras is first imported.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from kvae import callbacks  # noqa: E402
from kvae import checks  # noqa: E402
from kvae import conditions  # noqa: E402
from kvae import data  # noqa: E402
from kvae import distribute  # noqa: E402
from kvae import divergences  # noqa: E402
from kvae import evaluation  # noqa: E402
from kvae import execution  # noqa: E402
from kvae import export  # noqa: E402
from kvae import forward  # noqa: E402
from kvae import layers  # noqa: E402
from kvae import likelihoods  # noqa: E402
from kvae import metrics  # noqa: E402
from kvae import networks  # noqa: E402
from kvae import objectives  # noqa: E402
from kvae import optimizers  # noqa: E402
from kvae import plotting  # noqa: E402
from kvae import posteriors  # noqa: E402
from kvae import preprocessing  # noqa: E402
from kvae import priors  # noqa: E402
from kvae import protocol  # noqa: E402
from kvae import registry  # noqa: E402
from kvae import schedules  # noqa: E402
from kvae import testing  # noqa: E402
from kvae import run_folder  # noqa: E402
from kvae.model import VAE  # noqa: E402
from kvae.run_folder import RunFolder  # noqa: E402
from kvae.build import build_vae  # noqa: E402

__version__ = "0.1.0"

__all__ = ["VAE", "build_vae", "callbacks", "checks", "conditions", "data", "distribute", "divergences", "evaluation", "execution", "export", "forward", "layers", "likelihoods", "metrics", "networks", "objectives", "optimizers", "plotting", "posteriors", "preprocessing", "priors", "protocol", "registry", "run_folder", "RunFolder", "schedules", "testing", "__version__"]
