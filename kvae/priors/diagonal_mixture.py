"""A mixture of diagonal Gaussians whose density is matrix products, for the mixture priors."""

import math

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


class DiagonalGaussianMixture(tfd.MixtureSameFamily):
    """`tfd.MixtureSameFamily` of K diagonal Gaussians over L dimensions, with a fast `log_prob`.

    TFP evaluates every component at every point, a `[n, K, L]` tensor (and as
    many again in the gradient): for the VampPrior's K = 500 and a batch of
    128 that is most of a training step's memory traffic. Here the squared
    Mahalanobis distances come from the expansion

        Σ_l (z_l − μ_kl)² / σ_kl² = z² · (1/σ²)ᵀ − 2 z · (μ/σ²)ᵀ + Σ_l μ_kl² / σ_kl²,

    two `[n, L] × [L, K]` products. The expansion cancels: its terms grow as
    μ²/σ², so they are summed in float64 (the products are tiny) and the
    result matches TFP's to float32 precision (test). Sampling, means and
    everything else are `MixtureSameFamily`'s.

    Args:
        logits: tensor `[K]`. The mixture weights' logits.
        loc, scale: tensors `[K, L]`. The components' means and standard
            deviations.

    Example:

    >>> import numpy as np, kvae
    >>> p = kvae.priors.DiagonalGaussianMixture.from_parameters(
    ...     np.zeros(3, "float32"), np.zeros((3, 2), "float32"), np.ones((3, 2), "float32"))
    >>> round(float(p.log_prob(np.zeros(2, "float32"))), 4)  # log N(0; 0, I) in 2-D
    -1.8379
    """

    @classmethod
    def from_parameters(cls, logits, loc, scale):
        """The mixture Σ_k softmax(logits)_k N(loc_k, diag scale_k²)."""
        return cls.from_components(logits, tfd.Independent(tfd.Normal(loc, scale), 1))

    @classmethod
    def from_components(cls, logits, components):
        """The mixture of `components` (any `[K]` batch of distributions) with weights softmax(`logits`).

        A fast `DiagonalGaussianMixture` when the components are diagonal
        Gaussians (`tfd.Independent` of a `tfd.Normal`, as the diagonal
        posterior gives), else a plain `tfd.MixtureSameFamily`.
        """
        mixture = tfd.Categorical(logits=logits)
        if _is_diagonal_gaussian(components):
            return cls(mixture, components)
        return tfd.MixtureSameFamily(mixture, components)

    def _log_prob(self, x):
        normal = self.components_distribution.distribution
        loc, scale = tf.convert_to_tensor(normal.loc), tf.convert_to_tensor(normal.scale)
        x = tf.convert_to_tensor(x, loc.dtype)
        dims = tf.shape(loc)[-1]
        flat = tf.cast(tf.reshape(x, [-1, dims]), tf.float64)  # [n, L]
        precision = tf.cast(1.0 / tf.square(scale), tf.float64)  # [K, L]
        loc64 = tf.cast(loc, tf.float64)
        squared = (tf.matmul(tf.square(flat), precision, transpose_b=True)
                   - 2.0 * tf.matmul(flat, loc64 * precision, transpose_b=True)
                   + tf.reduce_sum(tf.square(loc64) * precision, axis=-1))  # [n, K]
        normaliser = tf.reduce_sum(tf.math.log(scale), axis=-1) + 0.5 * math.log(2 * math.pi) * tf.cast(dims, loc.dtype)
        log_components = -0.5 * tf.cast(tf.maximum(squared, 0.0), loc.dtype) - normaliser  # [n, K]
        log_weights = tf.math.log_softmax(self.mixture_distribution.logits_parameter(), axis=-1)
        log_p = tf.reduce_logsumexp(log_components + log_weights, axis=-1)
        return tf.reshape(log_p, tf.shape(x)[:-1])


def _is_diagonal_gaussian(distribution):
    if not (isinstance(distribution, tfd.Independent) and isinstance(distribution.distribution, tfd.Normal)):
        return False
    # A traced Independent holds its reinterpreted rank as a tensor: only a known 1 qualifies.
    ndims = tf.get_static_value(tf.convert_to_tensor(distribution.reinterpreted_batch_ndims))
    return ndims == 1 and distribution.batch_shape.rank == 1 and distribution.distribution.batch_shape.rank == 2
