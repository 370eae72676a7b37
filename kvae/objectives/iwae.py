"""The importance-weighted (IWAE) objective, with the reparameterised or DReG gradient."""

import keras
import tensorflow as tf

from kvae import checks
from kvae import protocol
from kvae.objectives.weighted import Weighted

GRADIENTS = ("reparam", "dreg")


@keras.saving.register_keras_serializable(package="kvae")
class IWAE(Weighted):
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

    A KL weight β < 1 tempers the weights, w_i = p(x|z_i) (p(z_i)/q(z_i|x))^β:
    the importance-weighted form of the ELBO's KL warm-up (Sønderby et al.,
    2016), which keeps upper layers of a hierarchy from collapsing early. It
    is a bound on −log p(x) only at β = 1, the default, where it is the IWAE
    exactly. Under DReG the encoder's weights become w̃_i((1 − β) + β w̃_i),
    which is w̃_i² at β = 1 (the score term of q scales with β).

    The logged `loss` is the bound's value; `elbo`, `reconstruction` and `kl`
    are the one-sample ELBO's terms at z_1, so runs compare with ELBO runs.

    Args:
        num_samples: int. k, > 0.
        gradient: str. `"reparam"` (default) or `"dreg"`.
        beta: float or `kvae.schedules.Schedule`. The weight β, >= 0, held
            in `objective.beta` (also `model.beta`), as the ELBO's: a
            `kvae.callbacks.KLWarmup` or a schedule warms it up.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, objective=kvae.objectives.IWAE(5))
    >>> vae.compile()
    >>> history = vae.fit(np.full((16, 4), 0.5, "float32"), epochs=1, verbose=0)
    >>> sorted(history.history)
    ['active_units', 'elbo', 'kl', 'loss', 'reconstruction']

    Warmed up over the first 100 steps:

    >>> objective = kvae.objectives.IWAE(5, beta=kvae.schedules.Warmup(duration=100))
    >>> float(objective.beta.numpy())
    0.0
    """

    def __init__(self, num_samples=5, gradient="reparam", beta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.num_samples = checks.positive_int(num_samples, "num_samples")
        if gradient not in GRADIENTS:
            raise ValueError(f"`gradient` must be one of {list(GRADIENTS)}, received: {gradient!r}")
        self.gradient = gradient
        self.add_scheduled_weights(beta=beta)
        self.built = True

    def describe(self):
        text = f"IWAE objective, k = {self.num_samples} ({self.gradient} gradient)"
        if self.beta_schedule is not None or float(self.beta.numpy()) != 1:
            text += f", β {self.describe_weight('beta')}"
        return text

    def requirements(self):
        if self.gradient != "dreg":
            return []
        return [protocol.Requirement(
            "the DReG gradient", (("posterior", "density"),),
            reason="it evaluates q with held parameters at its samples",
        )]

    def compute(self, forward, training=False):
        z, log_q = forward.sample(forward.noise(self.num_samples))  # [k, batch, L], [k, batch]
        beta = tf.cast(self.beta, log_q.dtype)
        if self.gradient == "dreg" and training:
            weights = {}
            z = _times_weights(z, weights, beta)
            held = forward.held_posterior()  # log q with q's parameters held fixed
            log_w, log_px_z = forward.log_weights(z, held.log_prob(z), beta)
            weights["w"] = tf.stop_gradient(tf.nn.softmax(log_w, axis=0))
            surrogate = -tf.reduce_sum(weights["w"] * log_w, axis=0)
        else:
            log_w, log_px_z = forward.log_weights(z, log_q, beta)
            surrogate = None
        neg_bound = -(tf.reduce_logsumexp(log_w, axis=0) - tf.math.log(tf.cast(self.num_samples, log_w.dtype)))
        loss = neg_bound if surrogate is None else (
            tf.stop_gradient(neg_bound) + surrogate - tf.stop_gradient(surrogate)  # value: the bound
        )
        # The one-sample ELBO's terms at z_1, for the metrics.
        kl_per_dim = forward.kl(z[0], log_q[0])
        return loss, (-log_px_z[0], kl_per_dim, forward.location)

    def get_config(self):
        config = super().get_config()
        config.update(num_samples=self.num_samples, gradient=self.gradient)
        return config


def _times_weights(z, weights, beta):
    # z unchanged, but the gradient reaching it is multiplied by (1 − β) + β w̃
    # with the normalised weights w̃ = `weights["w"]` [k, batch], set after z
    # is used (read at backprop): w̃ at β = 1, exactly.
    @tf.custom_gradient
    def identity(t):
        def grad(upstream):
            w = tf.cast(weights["w"][..., tf.newaxis], upstream.dtype)
            b = tf.cast(beta, upstream.dtype)
            return upstream * ((1 - b) + b * w)

        return tf.identity(t), grad

    return identity(z)
