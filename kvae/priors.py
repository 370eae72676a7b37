"""Priors p(z): registered Keras layers that give the VAE's prior as a `tfd` distribution.

The `VAE` builds its prior with the shapes of z and x
(`prior.build((None, latent_dim), (None, *event_shape))`) and asks it for p(z)
with `prior.distribution(model)`: a float32 distribution over z with event
shape `[latent_dim]` whatever the dtype policy. `analytic_kl` says whether
KL(q(z|x) ‖ p(z)) has a closed form per latent dimension against the diagonal
Gaussian posterior; otherwise the VAE estimates the KL with the training sample,
log q(z|x) − log p(z).
"""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import checks
from kvae import registry

tfd = tfp.distributions

# Floor on the learned scales, as on the posterior's.
MIN_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="kvae")
class Prior(keras.layers.Layer):
    """Base class: p(z) over `latent_dim` dimensions."""

    analytic_kl = False

    def build(self, z_shape, x_shape=None):
        self.latent_dim = int(z_shape[-1])

    def distribution(self, model=None):
        """p(z) as a float32 `tfd` distribution with event shape `[latent_dim]`."""
        raise NotImplementedError

    def sample_for_seeds(self, seeds, model=None):
        """One z `[latent_dim]` per int64 seed, stateless: the same seed, the same z anywhere."""
        prior = self.distribution(model)
        return tf.map_fn(
            lambda s: prior.sample(seed=tf.cast(tf.stack([s % 2**31, s // 2**31]), tf.int32)),
            tf.convert_to_tensor(seeds, tf.int64),
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.variable_dtype),
        )


@keras.saving.register_keras_serializable(package="kvae")
class StandardNormal(Prior):
    """The standard normal prior p(z) = N(0, I).

    Example:

    >>> import kvae
    >>> prior = kvae.priors.StandardNormal()
    >>> prior.build((None, 3))
    >>> float(prior.distribution().log_prob([0.0, 0.0, 0.0]))  # −(3/2) log 2π
    -2.756...
    """

    analytic_kl = True

    def distribution(self, model=None):
        zeros = tf.zeros([self.latent_dim], dtype=self.variable_dtype)
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), 1)

    def sample_for_seeds(self, seeds, model=None):
        return tf.map_fn(
            lambda s: tf.random.stateless_normal([self.latent_dim], tf.stack([s, tf.constant(0, tf.int64)])),
            tf.convert_to_tensor(seeds, tf.int64),
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.variable_dtype),
        )


@keras.saving.register_keras_serializable(package="kvae")
class GaussianMixture(Prior):
    """A learned mixture of K diagonal Gaussians: p(z) = Σ_k π_k N(z; m_k, diag s_k²).

    Weights π = softmax(logits), means m_k and scales s_k = softplus(·) + 1e-6
    are trained with the VAE. The KL term has no closed form: the VAE uses
    the single-sample estimate log q(z|x) − log p(z).

    Args:
        num_components: int. K, > 0.
        seed: int or None. Seed of the means' initialisation, N(0, 1).
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, prior=kvae.priors.GaussianMixture(3, seed=0))
    >>> vae.prior.batch_shape, vae.prior.event_shape, len(vae.prior_layer.trainable_weights)
    (TensorShape([]), TensorShape([2]), 3)
    """

    def __init__(self, num_components=10, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = checks.positive_int(num_components, "num_components")
        self.seed = seed

    def build(self, z_shape, x_shape=None):
        super().build(z_shape)
        shape = (self.num_components, self.latent_dim)
        self.logits = self.add_weight(shape=(self.num_components,), initializer="zeros", name="logits")
        self.means = self.add_weight(
            shape=shape, initializer=keras.initializers.RandomNormal(stddev=1.0, seed=self.seed), name="means"
        )
        # softplus(0.5413) = 1: unit scales to begin with.
        self.scale_params = self.add_weight(
            shape=shape, initializer=keras.initializers.Constant(0.5413), name="scale_params"
        )

    def distribution(self, model=None):
        scales = tf.nn.softplus(self.scale_params) + MIN_SCALE
        components = tfd.Independent(tfd.Normal(self.means, scales), 1)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=self.logits), components)

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="kvae")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling, 2018): p(z) = 1/K Σ_k q(z | u_k).

    K pseudo-inputs u_k in data space are learned with the VAE and pushed
    through its own encoder, so the prior is the aggregate posterior of K
    learned examples. As in the paper (and pythae), u_k = clip(w_k, 0, 1) for
    data in [0, 1] (`clip=None` leaves them free), initialised from
    N(0.05, 0.01²). The KL term is the single-sample estimate
    log q(z|x) − log p(z).

    Args:
        num_components: int. K pseudo-inputs, > 0.
        clip: tuple `(low, high)` or None. Range of the pseudo-inputs.
        seed: int or None. Seed of their initialisation.
        **kwargs: `keras.layers.Layer` arguments.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8, prior=kvae.priors.VampPrior(5, seed=0))
    >>> vae.prior_layer.pseudo_inputs.shape, vae.prior.event_shape
    (TensorShape([5, 4]), TensorShape([2]))
    """

    def __init__(self, num_components=500, clip=(0.0, 1.0), seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_components = checks.positive_int(num_components, "num_components")
        if clip is not None:
            clip = tuple(float(c) for c in clip)
            if len(clip) != 2 or not clip[0] < clip[1]:
                raise ValueError(f"`clip` must be None or a pair (low, high) with low < high, received: {clip!r}")
        self.clip = clip
        self.seed = seed

    def build(self, z_shape, x_shape=None):
        super().build(z_shape)
        if x_shape is None:
            raise ValueError("VampPrior needs the data shape: build it with `build(z_shape, x_shape)`")
        self.pseudo_inputs = self.add_weight(
            shape=(self.num_components,) + tuple(x_shape[1:]),
            initializer=keras.initializers.RandomNormal(mean=0.05, stddev=0.01, seed=self.seed),
            name="pseudo_inputs",
        )

    def inputs(self):
        """The pseudo-inputs u_k `[K, *event_shape]` as the encoder sees them."""
        u = tf.convert_to_tensor(self.pseudo_inputs)
        return u if self.clip is None else tf.clip_by_value(u, *self.clip)

    def distribution(self, model=None):
        if model is None:
            raise ValueError("VampPrior.distribution needs the model whose encoder defines it")
        components = model.posterior_from_params(model.encoder(self.inputs()))
        logits = tf.zeros([self.num_components], dtype=self.variable_dtype)
        return tfd.MixtureSameFamily(tfd.Categorical(logits=logits), components)

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, clip=self.clip, seed=self.seed)
        return config


_BY_NAME = {
    "normal": lambda **kwargs: StandardNormal(**{"name": "prior", **kwargs}),
    "mixture": lambda **kwargs: GaussianMixture(**{"name": "prior", **kwargs}),
    "vamp": lambda **kwargs: VampPrior(**{"name": "prior", **kwargs}),
}
NAMES = tuple(_BY_NAME)


def get(identifier="normal", **kwargs):
    """A prior from a name (`"normal"`, `"mixture"`, `"vamp"`; made with `kwargs`), an instance or a config."""
    return registry.get(identifier, Prior, _BY_NAME, "prior", **kwargs)
