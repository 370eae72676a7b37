"""Preprocessing: fixed, invertible maps from the data to the networks' inputs, inside the model.

`"identity"` (default) or `Standardize(mean, stddev)`. Saved with the model,
so a `.keras` file or SavedModel takes the data as the user has it and
reports its nats; see `Preprocessing`.
"""

from keras.saving import serialize_keras_object as serialize

from kvae import registry
from kvae.preprocessing.base import Identity, Preprocessing
from kvae.preprocessing.standardize import Standardize

REGISTRY = registry.Registry("preprocessing", Preprocessing, {
    "identity": Identity,
    "standardize": Standardize,
}, default="identity")
NAMES = REGISTRY.names
# Preprocessing from a name (made with `kwargs`), an instance or its config: `Registry.get`.
get = REGISTRY.get



def attach(model, preprocessing):
    """A copy of `model` that applies `preprocessing` to its inputs first, with the same weights.

    For models trained on inputs someone else transformed (a run folder's
    `transform.json` of kvae 0.1): the copy takes the data as it was before
    the transform, and reports its nats.

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((2,), latent_dim=2, hidden_units=8, likelihood="gaussian", seed=0)
    >>> raw = kvae.preprocessing.attach(vae, kvae.preprocessing.Standardize([10.0, 0.0], [2.0, 1.0]))
    >>> a = raw.log_likelihood(np.array([[12.0, 1.0]], "float32"), num_samples=4)  # raw rows
    >>> b = vae.log_likelihood(np.array([[1.0, 1.0]], "float32"), num_samples=4)  # standardised by hand
    >>> bool(np.allclose(a, b - np.log(2.0)))  # log p(x) = log p(u) − Σ log σ
    True
    """
    if not model.preprocessing.is_identity:
        raise ValueError(
            f"the model already has {model.preprocessing.describe()}: it takes the data as given, received "
            f"another preprocessing {preprocessing!r}"
        )
    config = dict(model.get_config(), preprocessing=serialize(preprocessing))
    copy = type(model).from_config(config)
    copy.set_weights(model.get_weights())
    copy.seed_generator.state.assign(model.seed_generator.state)
    return copy


__all__ = ["Identity", "NAMES", "attach", "Preprocessing", "REGISTRY", "Standardize", "get"]
