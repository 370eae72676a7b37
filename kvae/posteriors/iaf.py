"""The inverse autoregressive flow posterior (Kingma et al., 2016)."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import checks
from kvae.layers.made import AutoregressiveNetwork
from kvae.posteriors.base import MIN_SCALE
from kvae.posteriors.base import Posterior

tfb = tfp.bijectors
tfd = tfp.distributions

# Added to the gate's pre-activation so that each step starts near the identity.
FORGET_BIAS = 1.0


@keras.saving.register_keras_serializable(package="kvae")
class IAF(Posterior):
    """A diagonal Gaussian pushed through inverse autoregressive flow steps.

    The encoder emits `(μ, s, h)`: `[batch, latent_dim]` twice and a context
    `h` `[batch, context_units]`. With z₀ = μ + σ·ε, σ = softplus(s) + 1e-6,
    each step t = 1 … T is Kingma et al.'s gated update

        [m_t, g_t] = MADE_t(z_{t−1}, h),   σ_t = sigmoid(g_t + 1),
        z_t = σ_t ⊙ z_{t−1} + (1 − σ_t) ⊙ m_t,

    with MADE_t a masked autoregressive network (`kvae.layers.
    AutoregressiveNetwork`, Keras 3) so that z_t,i depends on z_{t−1,<i} only,
    and the order of z reversed between steps. The Jacobian is triangular, so

        log q(z_T|x) = log N(z₀; μ, σ²) − Σ_t Σ_i log σ_t,i

    exactly, at the cost of one pass per step. The steps are `tfp.bijectors`
    (`Invert(MaskedAutoregressiveFlow)`, `Permute`, `Chain`); `distribution`
    returns the `tfd.TransformedDistribution`, whose `log_prob` at an arbitrary
    z inverts the flow one dimension at a time (slow, but exact). Training and
    importance sampling use `sample_given_noise`, which never inverts. The KL
    is the single-sample estimate log q(z|x) − log p(z).

    Args:
        num_steps: int. Flow steps T, > 0.
        hidden_units: int or tuple of int. Hidden widths of each step's MADE.
        context_units: int. Size of the context h the encoder emits, >= 0
            (0: the steps see z only).
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> iaf = kvae.posteriors.IAF(num_steps=2, hidden_units=16, context_units=4)
    >>> iaf.build((None, 3))
    >>> q = iaf.distribution(np.zeros((5, 3 + 3 + 4), "float32"))
    >>> z, log_q = iaf.sample_given_noise(q, np.ones((5, 3), "float32"))
    >>> z.shape, log_q.shape
    (TensorShape([5, 3]), TensorShape([5]))
    """

    def __init__(self, num_steps=2, hidden_units=(128, 128), context_units=32, **kwargs):
        super().__init__(**kwargs)
        self.num_steps = checks.positive_int(num_steps, "num_steps")
        self.hidden_units = checks.positive_ints(hidden_units, "hidden_units")
        if isinstance(context_units, bool) or not isinstance(context_units, int) or context_units < 0:
            raise ValueError(f"`context_units` must be an int >= 0, received: {context_units!r}")
        self.context_units = context_units

    def describe(self):
        return f"IAF posterior ({self.num_steps} flow steps)"

    def params_sizes(self, latent_dim):
        return (latent_dim, latent_dim) + ((self.context_units,) if self.context_units else ())

    def build(self, input_shape):
        super().build(input_shape)
        context_shape = (None, self.context_units) if self.context_units else None
        # Layers in float32 whatever the policy: log-determinants are summed in it.
        self.steps = []
        for t in range(self.num_steps):
            made = AutoregressiveNetwork(2, self.hidden_units, name=f"made_{t}", dtype="float32")
            made.build((None, self.latent_dim), context_shape)
            self.steps.append(made)
        self.built = True

    def distribution(self, params):
        """q(z|x) as a `tfd.TransformedDistribution` of the diagonal Gaussian base."""
        blocks = self.split(params)
        loc, scale_param = blocks[0], blocks[1]
        context = blocks[2] if self.context_units else None
        base = tfd.Independent(tfd.Normal(loc, tf.nn.softplus(scale_param) + MIN_SCALE), 1)
        q = tfd.TransformedDistribution(base, self.flow(context))
        q.iaf_context = context  # the steps' context h, for `sample_given_noise`
        return q

    def flow(self, context=None):
        """The T steps as one `tfp.bijectors` bijector z₀ → z_T, given the context h."""
        reverse = tfb.Permute(list(range(self.latent_dim - 1, -1, -1)))
        bijectors = []
        for t, made in enumerate(self.steps):
            if t:
                bijectors.append(reverse)
            bijectors.append(tfb.Invert(tfb.MaskedAutoregressiveFlow(bijector_fn=_gated_update(made, context))))
        return tfb.Chain(bijectors[::-1])  # Chain applies its last bijector first

    def sample_given_noise(self, posterior, epsilon):
        # The same steps as `flow`, written out so that each MADE runs once per
        # step for both z_t and log σ_t (the bijector computes them apart).
        base = posterior.distribution
        z = base.distribution.loc + base.distribution.scale * epsilon
        log_q = base.log_prob(z)
        for t, made in enumerate(self.steps):
            if t:
                z = tf.reverse(z, axis=[-1])
            m, g = tf.unstack(made(z, posterior.iaf_context), axis=-2)
            log_sigma = tf.math.log_sigmoid(g + FORGET_BIAS)
            sigma = tf.exp(log_sigma)
            z = sigma * z + (1.0 - sigma) * m
            log_q = log_q - tf.reduce_sum(log_sigma, axis=-1)
        return z, log_q

    def _base_loc(self, posterior):
        return posterior.distribution.distribution.loc

    def outputs(self, posterior):
        base = posterior.distribution.distribution
        return {"location": self.location(posterior), "base_mean": base.loc, "base_stddev": base.scale}

    def get_config(self):
        config = super().get_config()
        config.update(num_steps=self.num_steps, hidden_units=self.hidden_units, context_units=self.context_units)
        return config


def _gated_update(made, context):
    # MaskedAutoregressiveFlow(bijector_fn).inverse(z) = bijector_fn(z).inverse(z);
    # Invert(MAF) is the IAF step, so bijector_fn(z).inverse must be the gated update.
    def bijector_fn(z, **kwargs):
        m, g = tf.unstack(made(z, context), axis=-2)
        log_sigma = tf.math.log_sigmoid(g + FORGET_BIAS)
        shift = (1.0 - tf.exp(log_sigma)) * m
        return tfb.Invert(tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=log_sigma)]))

    return bijector_fn
