"""The VampPrior: a mixture of the posterior at learned pseudo-inputs."""

import keras
import tensorflow as tf

from kvae import checks
from kvae import protocol
from kvae.priors.base import Prior
from kvae.priors.diagonal_mixture import DiagonalGaussianMixture


@keras.saving.register_keras_serializable(package="kvae")
class VampPrior(Prior):
    """The VampPrior (Tomczak & Welling, 2018): p(z) = 1/K Σ_k q(z | u_k).

    K pseudo-inputs u_k in data space are learned with the VAE and pushed
    through its own encoder (the posterior map the model `connect`s at build
    time), so the prior is the aggregate posterior of K learned examples. As
    in the paper (and pythae), u_k = clip(w_k, 0, 1) for data in [0, 1]
    (`clip=None` leaves them free), initialised from N(0.05, 0.01²). The KL
    term is the single-sample estimate log q(z|x) − log p(z).

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
        self._posterior_of = None

    def describe(self):
        return f"VampPrior ({self.num_components} pseudo-inputs)"

    def requirements(self):
        return [
            protocol.Requirement(
                "the VampPrior", (("condition", "unconditional"),), reason="its pseudo-inputs have no labels"
            ),
            protocol.Requirement(
                "the VampPrior", (("posterior", "density"),),
                reason="its components are the posterior at the pseudo-inputs",
            ),
        ]

    def build(self, z_shape, x_shape=None):
        super().build(z_shape)
        if x_shape is None:
            raise ValueError("VampPrior needs the data shape: build it with `build(z_shape, x_shape)`")
        self.pseudo_inputs = self.add_weight(
            shape=(self.num_components,) + tuple(x_shape[1:]),
            initializer=keras.initializers.RandomNormal(mean=0.05, stddev=0.01, seed=self.seed),
            name="pseudo_inputs",
        )

    def connect(self, posterior_of):
        # A plain callable, not a layer: the encoder stays the model's to track and save.
        self._posterior_of = posterior_of

    def inputs(self):
        """The pseudo-inputs u_k `[K, *event_shape]` as the encoder sees them."""
        u = tf.convert_to_tensor(self.pseudo_inputs)
        return u if self.clip is None else tf.clip_by_value(u, *self.clip)

    def distribution(self):
        if self._posterior_of is None:
            raise ValueError("the VampPrior is defined by a VAE's encoder: use it as a kvae.VAE's `prior`")
        components = self._posterior_of(self.inputs())
        logits = tf.zeros([self.num_components], dtype=self.variable_dtype)
        return DiagonalGaussianMixture.from_components(logits, components)

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, clip=self.clip, seed=self.seed)
        return config
