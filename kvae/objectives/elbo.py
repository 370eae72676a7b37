"""The (β-weighted, free-bits) ELBO objective."""

import keras
import tensorflow as tf

from kvae import protocol
from kvae.objectives.weighted import Weighted

SCHEDULED = ("beta", "free_bits")

# What a free-bits floor needs: a closed-form KL per latent dimension.
FREE_BITS = protocol.Requirement(
    "free_bits", (("prior", "factorized"), ("posterior", "factorized")), remedy="use free_bits=0"
)


@keras.saving.register_keras_serializable(package="kvae")
class ELBO(Weighted):
    """The (β-weighted, free-bits) negative ELBO, from one reparameterised sample.

    Per example,

        loss = −log p(x|z) + β · Σ_j max(λ, KL_j),   z = μ + σ·ε,  ε ~ N(0, I),

    with KL_j the closed-form KL(q(z_j|x) ‖ p(z_j)) of latent dimension j. With
    β = 1 and λ = 0 it is the negative ELBO in nats.

    Args:
        beta: float or `kvae.schedules.Schedule`. Weight β of the KL term,
            >= 0. Its current value lives in a non-trainable `keras.Variable`
            (`objective.beta`, also `model.beta`) that callbacks may
            `.assign()`; a schedule is evaluated by the compiled train step
            from `optimizer.iterations`, like a `LearningRateSchedule`, and
            logged as `beta`.
        free_bits: float or `kvae.schedules.Schedule`. The free-bits floor λ in
            nats per latent dimension, >= 0 (0 = off); `objective.free_bits`.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import kvae
    >>> objective = kvae.objectives.ELBO(beta=kvae.schedules.Warmup(duration=100))
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, objective=objective)
    >>> vae.objective is objective, float(vae.beta.numpy())
    (True, 0.0)
    """

    def __init__(self, beta=1.0, free_bits=0.0, **kwargs):
        super().__init__(**kwargs)
        self.add_scheduled_weights(beta=beta, free_bits=free_bits)
        self.built = True

    def describe(self):
        text = f"ELBO objective, β {self.describe_weight('beta')}"
        if self.free_bits_schedule is not None or float(self.free_bits.numpy()) > 0:
            text += f", free bits {self.describe_weight('free_bits')} nats/dim"
        return text

    def requirements(self):
        # The free-bits floor acts on each dimension's KL.
        if self.schedule("free_bits") is not None or float(self.free_bits.numpy()) > 0:
            return [FREE_BITS]
        return []

    def compute(self, forward, training=False):
        """`(per_example_loss, (reconstruction, kl_per_dim, loc))` for the batch's `ForwardPass`."""
        reconstruction, kl_per_dim, loc = forward.elbo_terms(forward.noise())
        return self.loss(reconstruction, kl_per_dim), (reconstruction, kl_per_dim, loc)

    def loss(self, reconstruction, kl_per_dim):
        """−log p(x|z) + β Σ_j max(λ, KL_j), per example, from the terms `[batch]` and `[batch, L]`."""
        floored = tf.maximum(kl_per_dim, tf.cast(self.free_bits, kl_per_dim.dtype))
        return reconstruction + tf.cast(self.beta, kl_per_dim.dtype) * tf.reduce_sum(floored, axis=-1)
