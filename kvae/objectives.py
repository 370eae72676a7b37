"""Training objectives: what `VAE.train_step` minimises, per example.

An objective is a registered Keras layer the `VAE` owns (`model.objective`).
`VAE`'s steps call `objective.update(step)` once per step (scheduled weights)
and `objective.compute(model, x, training)`, which returns the per-example loss
and the one-sample ELBO terms the metrics report (so `elbo`, `reconstruction`
and `kl` mean the same whatever the objective).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from kvae import bounds
from kvae import checks
from kvae import registry
from kvae import schedules as schedules_lib

SCHEDULED = ("beta", "free_bits")


@keras.saving.register_keras_serializable(package="kvae")
class Objective(keras.layers.Layer):
    """Base class: a per-example training loss of a `VAE`, and the terms its metrics report."""

    def compute(self, model, x, training=False, condition=None):
        """Returns `(per_example_loss [batch], (reconstruction [batch], kl_per_dim [batch, L], loc [batch, L]))`.

        `condition` is a conditional VAE's `model.condition(y)` for the batch, else None.
        """
        raise NotImplementedError

    # Whether the loss needs the KL of each latent dimension (a closed-form KL).
    uses_kl_per_dimension = False

    def update(self, step):
        """Called once per train step with `optimizer.iterations`; returns `{name: variable}` to log."""
        return {}


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

    @property
    def uses_kl_per_dimension(self):
        # The free-bits floor acts on each dimension's KL.
        return self.free_bits_schedule is not None or float(self.free_bits.numpy()) > 0

    def compute(self, model, x, training=False, condition=None):
        """`(per_example_loss, (reconstruction, kl_per_dim, loc))` for a batch `x` of `model`."""
        reconstruction, kl_per_dim, loc = bounds.sample_terms(model, x, training, condition)
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


GRADIENTS = ("reparam", "dreg")


@keras.saving.register_keras_serializable(package="kvae")
class IWAE(Objective):
    """The importance-weighted bound with k samples (Burda et al., 2016).

    Per example, with z_i reparameterised samples of q(z|x) (z_i = μ + σ·ε_i,
    ε_i ~ N(0, I), for the diagonal Gaussian), i = 1 … k,

        w_i = p(x|z_i) p(z_i) / q(z_i|x),    loss = −log (1/k) Σ_i w_i,

    a bound on −log p(x) that tightens as k grows; k = 1 is the ELBO with a
    single-sample KL. `gradient="reparam"` differentiates it as written;
    `gradient="dreg"` uses the doubly-reparameterised estimator of Tucker et
    al. (2019) for the encoder: Σ_i w̃_i² ∂log w_i/∂z_i ∂z_i/∂φ with
    normalised weights w̃ and q's parameters held fixed inside log w, which is
    unbiased for the same gradient with less variance as k grows (the decoder
    and prior get the usual Σ_i w̃_i ∇ log w_i).

    The logged `loss` is the bound's value; `elbo`, `reconstruction` and `kl`
    are the one-sample ELBO's terms at z_1, so runs compare with ELBO runs.

    Args:
        num_samples: int. k, > 0.
        gradient: str. `"reparam"` (default) or `"dreg"`.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, objective=kvae.objectives.IWAE(5))
    >>> vae.compile()
    >>> history = vae.fit(np.full((16, 4), 0.5, "float32"), epochs=1, verbose=0)
    >>> sorted(history.history)
    ['active_units', 'elbo', 'kl', 'loss', 'reconstruction']
    """

    def __init__(self, num_samples=5, gradient="reparam", **kwargs):
        super().__init__(**kwargs)
        self.num_samples = checks.positive_int(num_samples, "num_samples")
        if gradient not in GRADIENTS:
            raise ValueError(f"`gradient` must be one of {list(GRADIENTS)}, received: {gradient!r}")
        self.gradient = gradient
        self.built = True

    def compute(self, model, x, training=False, condition=None):
        posterior = model.encode(x, training, condition)
        posterior_layer = model.posterior_layer
        epsilon = bounds.draw_noise(model, x, self.num_samples)
        z, log_q = posterior_layer.sample_given_noise(posterior, epsilon)  # [k, batch, L], [k, batch]
        if self.gradient == "dreg" and training:
            weights = {}
            z = _times_weights(z, weights)
            held = posterior_layer.stop_gradient(posterior)  # log q with q's parameters held fixed
            log_w, log_px_z = bounds.log_weights(model, x, z, held.log_prob(z), condition)
            weights["w"] = tf.stop_gradient(tf.nn.softmax(log_w, axis=0))
            surrogate = -tf.reduce_sum(weights["w"] * log_w, axis=0)
        else:
            log_w, log_px_z = bounds.log_weights(model, x, z, log_q, condition)
            surrogate = None
        neg_bound = -(tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(tf.cast(self.num_samples, log_w.dtype)))
        loss = neg_bound if surrogate is None else (
            tf.stop_gradient(neg_bound) + surrogate - tf.stop_gradient(surrogate)  # value: the bound
        )
        # The one-sample ELBO's terms at z_1, for the metrics.
        kl_per_dim = bounds.kl_terms(model, posterior, z[0], log_q[0])
        return loss, (-log_px_z[0], kl_per_dim, posterior_layer.location(posterior))

    def get_config(self):
        config = super().get_config()
        config.update(num_samples=self.num_samples, gradient=self.gradient)
        return config


def _times_weights(z, weights):
    # z unchanged, but the gradient reaching it is multiplied by the normalised
    # weights `weights["w"]` [k, batch], set after z is used (read at backprop).
    @tf.custom_gradient
    def identity(t):
        def grad(upstream):
            return upstream * tf.cast(weights["w"][..., tf.newaxis], upstream.dtype)

        return tf.identity(t), grad

    return identity(z)


_BY_NAME = {
    "elbo": lambda **kwargs: ELBO(**{"name": "objective", **kwargs}),
    "iwae": lambda **kwargs: IWAE(**{"name": "objective", **kwargs}),
}
NAMES = tuple(_BY_NAME)


def get(identifier="elbo", beta=1.0, free_bits=0.0, **kwargs):
    """An objective from a name (`"elbo"`, `"iwae"`), an instance or its serialized config.

    `beta` and `free_bits` configure the named ELBO; `kwargs` (e.g.
    `num_samples`) a named objective; an instance carries its own.
    """
    if identifier == "elbo":
        return registry.get(identifier, Objective, _BY_NAME, "objective", beta=beta, free_bits=free_bits, **kwargs)
    if not (_is_number(beta, 1.0) and _is_number(free_bits, 0.0)):
        raise ValueError(
            "`beta` and `free_bits` configure the \"elbo\" objective; pass them to an objective "
            f"instance instead, received beta={beta!r}, free_bits={free_bits!r} with objective {identifier!r}"
        )
    return registry.get(identifier, Objective, _BY_NAME, "objective", **kwargs)


def free_bits_unavailable(prior, posterior):
    """Why free bits cannot apply to these parts (a message), or None: they need a KL per latent dimension."""
    if prior.analytic_kl and posterior.factorized:
        return None
    return (
        "free_bits needs a KL with a closed form per latent dimension (the \"normal\" prior and posterior), "
        f"received the {type(prior).__name__} prior and the {type(posterior).__name__} posterior"
    )


def _is_number(value, expected):
    return isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and value == expected


def _initial(value, schedule):
    return float(schedule(0)) if schedule is not None else float(value)


def _config_value(variable, schedule):
    if schedule is not None:
        return keras.saving.serialize_keras_object(schedule)
    return float(keras.ops.convert_to_numpy(variable))
