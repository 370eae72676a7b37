"""KL(q(z|x) ‖ p(z)) for any posterior and prior: closed form where TFP's KL registry has one.

The ELBO's KL term is, in order of preference,

1. per latent dimension, `[batch, latent_dim]`, when both distributions are
   products over the dimensions (`tfd.Independent` over one axis) whose
   marginals have a registered KL: the diagonal Gaussian against N(0, I),

       KL_j = −½ (1 + log σ_j² − μ_j² − σ_j²),

   which free bits act on;
   for a hierarchy of latent layers (`kvae.priors.TopDown`, `kvae.posteriors.Ladder`)
   whose layers are diagonal Gaussians given the layers above, the same per
   dimension at the sampled path z,

       KL_j = KL(q(z_{l,j} | z_{l+1}, x) ‖ p(z_{l,j} | z_{l+1})),

   an unbiased single-sample estimate of the KL (exact for the top layer)
   with the variance of only the layers above: LVAE's and NVAE's terms;
2. in total, `[batch, 1]`, when `tfd.kl_divergence` knows the pair (e.g. the
   full-covariance Gaussian against N(0, I), ½ (tr Σ + μᵀμ − d − log det Σ));
3. otherwise the single-sample estimate log q(z|x) − log p(z) at the training
   sample z, `[batch, 1]` (unbiased for the KL; mixture and VampPrior priors,
   flow posteriors).

A new pair gets its closed form the way TFP adds one: `tfd.RegisterKL`,
without editing any caller. This module registers the one pair kvae needs that
TFP lacks: a multivariate normal against a diagonal `Independent(Normal)`.
"""

import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def kl_terms(posterior, prior, z, log_q):
    """KL(q ‖ p) per dimension `[batch, L]`, else in total `[batch, 1]`, else estimated at z `[batch, 1]`.

    Args:
        posterior: q(z|x), a `tfd` distribution with event shape `[L]`.
        prior: p(z), the same.
        z: `[batch, L]`, a sample of q (used only by the estimate).
        log_q: `[batch]`, log q(z|x) at `z` (used only by the estimate).

    Example:

    >>> import tensorflow_probability as tfp
    >>> from kvae import divergences
    >>> tfd = tfp.distributions
    >>> q = tfd.Independent(tfd.Normal([[1.0, 0.0]], [[1.0, 1.0]]), 1)
    >>> p = tfd.Independent(tfd.Normal([0.0, 0.0], [1.0, 1.0]), 1)
    >>> divergences.kl_terms(q, p, None, None).numpy().tolist()  # ½ μ² per dimension
    [[0.5, 0.0]]
    """
    per_dimension = _per_dimension(posterior, prior)
    if per_dimension is not None:
        return per_dimension
    per_layer = _per_layer(posterior, prior, z)
    if per_layer is not None:
        return per_layer
    try:
        return tfd.kl_divergence(posterior, prior)[..., tf.newaxis]
    except NotImplementedError:
        return (log_q - prior.log_prob(z))[..., tf.newaxis]


def _per_dimension(posterior, prior):
    if not all(isinstance(d, tfd.Independent) and _event_axes(d) == 1 for d in (posterior, prior)):
        return None
    try:
        return tfd.kl_divergence(posterior.distribution, prior.distribution)
    except NotImplementedError:
        return None


def _per_layer(posterior, prior, z):
    # A hierarchy gives its layers' conditionals at the path z (`conditionals(z)`); a diagonal Gaussian
    # posterior against a hierarchical prior is split into the prior's layers.
    hierarchy = prior if hasattr(prior, "conditionals") else posterior if hasattr(posterior, "conditionals") else None
    if hierarchy is None or z is None:
        return None
    layers = [_conditionals(d, z, hierarchy.latent_dims) for d in (posterior, prior)]
    if any(layer is None for layer in layers):
        return None
    return tf.concat([tfd.kl_divergence(q.distribution, p.distribution) for q, p in zip(*layers)], axis=-1)


def _conditionals(distribution, z, latent_dims):
    if hasattr(distribution, "conditionals"):
        return distribution.conditionals(z)
    if isinstance(distribution, tfd.Independent) and isinstance(distribution.distribution, tfd.Normal) and \
            _event_axes(distribution) == 1:
        normal = distribution.distribution
        locs, scales = (tf.split(tf.broadcast_to(t, tf.shape(z)), latent_dims, axis=-1) for t in (normal.loc,
                                                                                                  normal.scale))
        return [tfd.Independent(tfd.Normal(loc, scale), 1) for loc, scale in zip(locs, scales)]
    return None


def _event_axes(independent):
    return int(tf.get_static_value(independent.reinterpreted_batch_ndims))


@tfd.RegisterKL(tfd.MultivariateNormalLinearOperator, tfd.Independent)
def _kl_multivariate_normal_diagonal_normal(q, p, name=None):
    # KL(N(μ, Σ) ‖ Π_j N(m_j, s_j²)): the Independent is one diagonal multivariate normal.
    if not (isinstance(p.distribution, tfd.Normal) and _event_axes(p) == 1):
        raise NotImplementedError(f"no closed-form KL between {type(q).__name__} and this {p}")
    diagonal = tfd.MultivariateNormalDiag(p.distribution.loc, p.distribution.scale)
    return tfd.kl_divergence(q, diagonal, name=name)
