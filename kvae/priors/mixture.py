"""The learned Gaussian-mixture prior."""

import keras
import tensorflow as tf

from kvae import checks
from kvae.priors.base import MIN_SCALE
from kvae.priors.base import Prior
from kvae.priors.diagonal_mixture import DiagonalGaussianMixture


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

    def describe(self):
        return f"Gaussian-mixture prior ({self.num_components} components)"

    def distribution(self):
        scales = tf.nn.softplus(self.scale_params) + MIN_SCALE
        return DiagonalGaussianMixture.from_parameters(self.logits, self.means, scales)

    def get_config(self):
        config = super().get_config()
        config.update(num_components=self.num_components, seed=self.seed)
        return config
