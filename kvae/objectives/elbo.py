"""The (β-weighted, free-bits) ELBO objective."""

import math

import keras
import numpy as np
import tensorflow as tf

from kvae import protocol
from kvae import schedules as schedules_lib
from kvae.objectives.base import Objective

SCHEDULED = ("beta", "free_bits")

# What a free-bits floor needs: a closed-form KL per latent dimension.
FREE_BITS = protocol.Requirement(
    "free_bits", (("prior", "factorized"), ("posterior", "factorized")), remedy="use free_bits=0"
)


@keras.saving.register_keras_serializable(package="kvae")
class ELBO(Objective):
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
        self.beta_schedule = schedules_lib.get(beta, "beta")
        self.free_bits_schedule = schedules_lib.get(free_bits, "free_bits")
        if self.beta_schedule is None and not (isinstance(beta, (int, float, np.floating)) and beta >= 0):
            raise ValueError(f"`beta` must be a float >= 0 or a kvae.schedules.Schedule, received: {beta!r}")
        if self.free_bits_schedule is None and not (
            isinstance(free_bits, (int, float, np.floating)) and 0 <= free_bits < math.inf
        ):
            raise ValueError(
                f"`free_bits` must be a finite float >= 0 (nats per latent dimension) or a "
                f"kvae.schedules.Schedule, received: {free_bits!r}"
            )
        # Schedules installed for one `fit` by kvae's per-step callbacks.
        self._fit_schedules = {}
        # The step assigns scheduled values; every replica computes the same one.
        self.beta = keras.Variable(
            _initial(beta, self.beta_schedule), trainable=False, dtype="float32", name="beta",
            aggregation="only_first_replica",
        )
        self.free_bits = keras.Variable(
            _initial(free_bits, self.free_bits_schedule), trainable=False, dtype="float32",
            name="free_bits", aggregation="only_first_replica",
        )
        self.built = True

    def describe(self):
        text = f"ELBO objective, β {_describe_value(self.beta, self.beta_schedule)}"
        if self.free_bits_schedule is not None or float(self.free_bits.numpy()) > 0:
            text += f", free bits {_describe_value(self.free_bits, self.free_bits_schedule)} nats/dim"
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

    def update(self, step):
        """Assigns the scheduled weights from the optimizer's `step`; returns them to be logged."""
        scheduled = {}
        for name in SCHEDULED:
            schedule = self.schedule(name)
            if schedule is not None:
                variable = getattr(self, name)
                variable.assign(tf.cast(schedule(step), variable.dtype))
                scheduled[name] = variable
        return scheduled

    def schedule(self, name):
        """The schedule of `name` in effect: a callback's for this `fit`, else the objective's own (None: constant)."""
        return self._fit_schedules.get(name, getattr(self, f"{name}_schedule"))

    def set_fit_schedule(self, name, schedule):
        """Installs (or with None removes) a schedule of `name` for the current `fit`.

        kvae's per-step callbacks use this so that their schedule is evaluated
        inside the compiled step; the objective's config is left unchanged.
        Returns whether the train function must be traced again.
        """
        if name not in SCHEDULED:
            raise ValueError(f"`name` must be one of {list(SCHEDULED)}, received: {name!r}")
        before = self.schedule(name)
        if schedule is None:
            self._fit_schedules.pop(name, None)
        else:
            self._fit_schedules[name] = schedule
        return self.schedule(name) is not before

    def get_config(self):
        config = super().get_config()
        config.update(
            beta=_config_value(self.beta, self.beta_schedule),
            free_bits=_config_value(self.free_bits, self.free_bits_schedule),
        )
        return config


def _initial(value, schedule):
    return float(schedule(0)) if schedule is not None else float(value)


def _config_value(variable, schedule):
    if schedule is not None:
        return keras.saving.serialize_keras_object(schedule)
    return float(keras.ops.convert_to_numpy(variable))


def _describe_value(variable, schedule):
    return type(schedule).__name__ if schedule is not None else f"{float(keras.ops.convert_to_numpy(variable)):.4g}"
