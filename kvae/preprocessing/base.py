"""The `Preprocessing` base class: a fixed, invertible map from the data to what the networks see."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import protocol

tfb = tfp.bijectors
tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Preprocessing(protocol.Part, keras.layers.Layer):
    """Base class: the model's data x and its networks' inputs u = f(x), f a `tfp.bijectors` bijector.

    The `VAE` applies `bijector()` to every input, so its networks and
    likelihood model u, and turns their densities into densities of the data
    by the change of variables, in one place (`kvae.forward.ForwardPass`):

        log p(x) = log p(u) + log |det ∂f/∂x|,   u = f(x).

    Means, samples and reconstructions go back through f⁻¹. Python
    `evaluate`, `kvae evaluate` and the served `score` therefore all report
    nats of the data the user has. The bijector is elementwise (event rank 0)
    and saved with the model (`.keras` and SavedModel).

    Subclasses implement `bijector()` and may override `data_parameters`.
    """

    role = "preprocessing"
    # Whether f is the identity (the default, which nothing else needs to know about).
    is_identity = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def bijector(self):
        """The fixed bijector f: data → network inputs, elementwise."""
        raise NotImplementedError

    def forward(self, x):
        """u = f(x) and log |det ∂f/∂x| per example: `[batch, ...]`, `[batch]` (None: always 0)."""
        bijector = self.bijector()
        event_ndims = len(x.shape) - 1
        return bijector.forward(x), bijector.forward_log_det_jacobian(x, event_ndims=event_ndims) + tf.zeros(
            tf.shape(x)[:1], x.dtype)

    def inverse(self, u):
        """x = f⁻¹(u): a mean, sample or reconstruction back in data units."""
        return self.bijector().inverse(u)

    def data_distribution(self, distribution):
        """p(x|z) from the likelihood's p(u|z): the pushforward through f⁻¹."""
        return tfd.TransformedDistribution(distribution, tfb.Invert(self.bijector()))

    def data_parameters(self, params):
        """A likelihood's named parameters (`mean`, `stddev`, ...) in data units; only affine maps have them."""
        raise NotImplementedError(f"{type(self).__name__} has no data-unit parameters")

    def data_support(self, support):
        """The data values whose image lies in the likelihood's `support` `(low, high)`, or None if unbounded."""
        return None


@keras.saving.register_keras_serializable(package="kvae")
class Identity(Preprocessing):
    """No preprocessing (the default): the networks see the data as given; nothing is added to the nats.

    Example:

    >>> import numpy as np, kvae
    >>> u, log_det = kvae.preprocessing.Identity().forward(np.ones((2, 3), "float32"))
    >>> u.shape, log_det  # None: nothing is added to any log-density
    ((2, 3), None)
    """

    is_identity = True

    def bijector(self):
        return tfb.Identity()

    def forward(self, x):
        return x, None  # nothing to add to any log-density

    def inverse(self, u):
        return u

    def data_distribution(self, distribution):
        return distribution

    def data_parameters(self, params):
        return params

    def data_support(self, support):
        return support

    def describe(self):
        return "no preprocessing"
