"""The interface every decoder likelihood p(x|z) implements."""

import keras
import numpy as np
import tensorflow_probability as tfp

from kvae import protocol
from kvae.likelihoods import eight_bit

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
    # The number of evenly spaced values in `support` of which log p(x|z) is a probability mass (2: binary
    # data, 256: 8-bit pixels k/255), or None for a density of continuous data. See `what_nll_measures`.
    levels = None

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
        """Raises if NumPy data `x` is outside this likelihood's `support`, or off its 8-bit levels."""
        if self.support is None or not x.size:
            return
        low, high = float(x.min()), float(x.max())
        if low < self.support[0] or high > self.support[1]:
            raise ValueError(
                f"`{argument}` must be in [{self.support[0]:g}, {self.support[1]:g}] for the "
                f"{type(self).__name__} likelihood, received values in [{low:.4g}, {high:.4g}]; scale the data "
                "or use a Gaussian likelihood"
            )
        if self.levels == eight_bit.LEVELS:
            off = eight_bit.off_grid(x)
            if off:
                raise ValueError(
                    f"`{argument}` must hold 8-bit values k/255 for the {type(self).__name__} likelihood (a mass "
                    f"of the 256 levels), received {off} of {x.size} values between levels; pass the pixels "
                    "as loaded (integers / 255), not resized or dequantised"
                )

    def what_nll_measures(self, x):
        """What −log p(x) of the data `x` (a NumPy array) is, as `(kind, sentence)` for reports.

        kind is `"mass"` (a probability of the data's discrete values:
        bits/dim comparable with published results on the same data),
        `"density"` (a density of continuous data) or `"not a density"` (a
        Bernoulli on values other than 0 and 1: the number is not a
        likelihood of the data and must not be set beside published ones).
        """
        x = np.asarray(x)
        eight_bit_data = eight_bit.off_grid(x) == 0 and x.size and x.min() >= 0 and x.max() <= 1
        if self.levels == 2:
            if np.all((x == 0) | (x == 1)):
                return "mass", "a probability mass of binary data"
            return "not a density", (
                "NOT a likelihood of the data: a Bernoulli on values other than 0 and 1 (grey levels); binarize "
                "the data for a comparable NLL, or use an 8-bit likelihood"
            )
        if self.levels == eight_bit.LEVELS:
            return "mass", "a probability mass of 8-bit data (256 levels per value)"
        if eight_bit_data:
            return "density", (
                "a density of the values as continuous data, not a probability of 8-bit pixels: its bits/dim are "
                "not comparable with a discrete likelihood's (use \"discretized_logistic\" or \"categorical\")"
            )
        return "density", "a density of continuous data"

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
