"""The full-covariance Gaussian posterior."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.posteriors.base import MIN_SCALE
from kvae.posteriors.base import Posterior

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class FullNormal(Posterior):
    """The full-covariance Gaussian q(z|x) = N(μ(x), L(x) L(x)ᵀ), as `tfd.MultivariateNormalTriL`.

    The encoder emits `loc` `[batch, latent_dim]` and the L(L+1)/2 entries of
    the lower-triangular Cholesky factor L (as `tfb.FillScaleTriL`: its
    diagonal is softplus(·) + 1e-6, so Σ is positive definite), as one tensor
    `[batch, latent_dim + latent_dim (latent_dim + 1) / 2]` or a pair. Samples
    are z = μ + L·ε. Against the standard normal prior the KL has a closed
    form in total (not per dimension, so no free bits):

        KL = ½ (tr Σ + μᵀμ − d − log det Σ).

    Example:

    >>> import numpy as np, kvae
    >>> q = kvae.posteriors.FullNormal().distribution(np.zeros((1, 5), "float32"))
    >>> q.event_shape, q.scale.to_dense().shape  # latent_dim = 2: 2 + 3 parameters
    (TensorShape([2]), TensorShape([1, 2, 2]))
    """

    provides = frozenset({"density"})

    def describe(self):
        return "full-covariance Gaussian posterior"

    def params_sizes(self, latent_dim):
        return (latent_dim, latent_dim * (latent_dim + 1) // 2)

    def distribution(self, params):
        """q(z|x) as `tfd.MultivariateNormalTriL`."""
        loc, tril_params = self.split(params)
        return tfd.MultivariateNormalTriL(loc=loc, scale_tril=scale_tril(tril_params))

    def sample_given_noise(self, posterior, epsilon):
        z = posterior.loc + tf.linalg.matvec(posterior.scale.to_dense(), epsilon)  # z = μ + L·ε
        return z, posterior.log_prob(z)

    def location(self, posterior):
        return posterior.loc

    def stop_gradient(self, posterior):
        return tfd.MultivariateNormalTriL(
            loc=tf.stop_gradient(posterior.loc), scale_tril=tf.stop_gradient(posterior.scale.to_dense())
        )

    def outputs(self, posterior):
        scale_tril = posterior.scale.to_dense()
        stddev = tf.sqrt(tf.reduce_sum(tf.square(scale_tril), axis=-1))  # marginal σ_j = ‖L_j,:‖
        return {"mean": posterior.loc, "stddev": stddev, "scale_tril": scale_tril}


def scale_tril(tril_params):
    """L `[..., d, d]` from its d(d+1)/2 entries, filled as `tfb.FillScaleTriL(diag_shift=1e-6)` does.

    The same numbers, bit for bit, but written with a constant identity mask:
    the gradient of the bijector's `matrix_set_diag` needs shapes XLA cannot
    read from a dynamic batch ("Reading input as constant from a dynamic
    tensor"), so `jit_compile=True`, Keras' default on GPUs, failed to train.
    """
    tril = tfp.math.fill_triangular(tril_params)
    eye = tf.eye(tril.shape[-1], dtype=tril.dtype)
    diag = tf.reduce_sum(tril * eye, axis=-1)
    return tril * (1.0 - eye) + eye * (tf.nn.softplus(diag) + MIN_SCALE)[..., tf.newaxis]
