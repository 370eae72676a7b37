"""The interface every decoder likelihood p(x|z) implements."""

import keras
import tensorflow_probability as tfp

from kvae import protocol

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class Likelihood(protocol.Part, keras.layers.Layer):
    """Maps the decoder's output tensor to the distribution p(x|z).

    The decoder emits `params_shape(event_shape)` numbers per example; a
    likelihood turns them into a `tfd.Independent` distribution whose event is
    one whole example, so `log_prob(x)` has shape `[batch]` and is in nats.

    Subclasses set `num_params` (numbers per data value) and implement
    `distribution(params)`.
    """

    num_params = 1
    role = "likelihood"
    # `(low, high)`: the values data may take (checked on training data and on served inputs), or None.
    support = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # A likelihood makes any weights it has here, so it is built from the start
        # (under a tf.distribute strategy, Keras would otherwise build the model by
        # calling it on x alone, which a conditional VAE cannot take).
        self.built = True

    def params_shape(self, event_shape):
        """The decoder output shape (without batch) for data of `event_shape`.

        Parameters are stacked on the last axis: for data of shape `(H, W, C)`
        a likelihood with `num_params=2` needs `(H, W, 2 * C)`.

        Args:
            event_shape: tuple of int. Shape of one example.
        """
        event_shape = tuple(event_shape)
        return event_shape[:-1] + (event_shape[-1] * self.num_params,)

    def check_data(self, x, argument="x"):
        """Raises if NumPy data `x` is outside this likelihood's `support` (no-op without one)."""
        if self.support is None or not x.size:
            return
        low, high = float(x.min()), float(x.max())
        if low < self.support[0] or high > self.support[1]:
            raise ValueError(
                f"`{argument}` must be in [{self.support[0]:g}, {self.support[1]:g}] for the "
                f"{type(self).__name__} likelihood, received values in [{low:.4g}, {high:.4g}]; scale the data "
                "or use a Gaussian likelihood"
            )

    def distribution(self, params):
        """Returns p(x|z) for a batch of decoder outputs `params`."""
        raise NotImplementedError

    def parameters(self, params):
        """The distribution's parameters by name, e.g. for a serving signature."""
        raise NotImplementedError

    def log_prob(self, params, x):
        """log p(x|z) per example `[batch]`, in nats: `distribution(params).log_prob(x)`.

        The training and evaluation steps call this rather than building the
        distribution, so a subclass may override it with a fused computation
        of the same value (as `Bernoulli` does); it must agree with
        `distribution(params).log_prob(x)` in value and gradient.
        """
        return self.distribution(params).log_prob(x)

    def call(self, params):
        # Layer call: the mean of p(x|z), the natural "reconstruction".
        return self.distribution(params).mean()

    @staticmethod
    def _independent(distribution, params):
        # Every non-batch axis belongs to the event: one example, one log-prob.
        return tfd.Independent(
            distribution, reinterpreted_batch_ndims=len(params.shape) - 1
        )
