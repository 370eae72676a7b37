"""Ladder inference: each latent layer's posterior combines bottom-up features with the top-down prior."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae import protocol
from kvae.posteriors.base import MIN_SCALE
from kvae.posteriors.base import Posterior

tfd = tfp.distributions

# The ladder's layers below the top are made with the prior's conditionals.
TOP_DOWN_PRIOR = protocol.Requirement(
    "the ladder posterior", (("prior", "hierarchical"),),
    reason="each layer's posterior is made with the top-down prior's conditional",
    remedy="pass prior=\"top_down\" with the layers' sizes, or build_vae(latent_dim=(d1, d2, ...))",
)


@keras.saving.register_keras_serializable(package="kvae")
class Ladder(Posterior):
    """The Ladder VAE's posterior q(z|x) = q(z_L|x) · Π_{l<L} q(z_l | z_{l+1}, x) (Sønderby et al., 2016).

    The encoder's bottom-up pass gives each layer a Gaussian N(μ̂_l, σ̂_l²)
    (one tensor `[batch, 2 Σ d_l]`: all μ̂, then all raw scales, σ̂ =
    softplus(s) + 1e-6). Inference then runs top-down with the prior
    (`kvae.priors.TopDown`): the top layer is q(z_L|x) = N(μ̂_L, σ̂_L²), and
    every layer below combines its bottom-up Gaussian with the prior's
    conditional N(μ_p, σ_p²) at the sampled layer above, by precision:

        σ_q⁻² = σ̂⁻² + σ_p⁻²,   μ_q = σ_q² (μ̂ σ̂⁻² + μ_p σ_p⁻²).

    So the generative and the inference path share the top-down networks, as
    in LVAE and NVAE. Samples are reparameterised layer by layer from one
    standard normal ε over all layers, with their exact log-density; the KL
    against the prior is a closed-form sum per dimension given the sampled
    layers above (`kvae.divergences`), which is what free bits act on and what
    the model logs per layer. The layers' sizes are the prior's.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8,), latent_dim=(4, 2), hidden_units=(16, 8))  # a Ladder VAE
    >>> type(vae.posterior_layer).__name__, type(vae.prior_layer).__name__
    ('Ladder', 'TopDown')
    >>> sorted(vae.posterior_layer.outputs(vae.encode(kvae.testing.data((8,), n=3))))
    ['mean_1', 'mean_2', 'stddev_1', 'stddev_2']
    """

    provides = frozenset({"factorized"})

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._prior = None

    def requirements(self):
        return [TOP_DOWN_PRIOR]

    def describe(self):
        return "ladder posterior (top-down, precision-weighted)"

    def connect(self, prior):
        """Receives the model's p(z) maker (a callable returning `kvae.priors.TopDown`'s distribution)."""
        self._prior = prior

    def params_sizes(self, latent_dim):
        return (latent_dim, latent_dim)

    def distribution(self, params):
        if self._prior is None:
            raise ValueError("the ladder posterior is made with its model's top-down prior: use it inside a kvae.VAE")
        loc, scale_param = self.split(params)
        return LadderNormal(loc, tf.nn.softplus(scale_param) + MIN_SCALE, self._prior())

    def sample_given_noise(self, posterior, epsilon):
        return posterior.sample_given_noise(epsilon)

    def _base_loc(self, posterior):
        return posterior.bottom_up_loc

    def outputs(self, posterior):
        # Each layer's Gaussian on the path of zero noise (the posterior's location), by layer, z₁ first.
        layers = posterior.conditionals(self.location(posterior))
        result = {}
        for l, q in enumerate(layers):
            result[f"mean_{l + 1}"] = q.distribution.loc
            result[f"stddev_{l + 1}"] = q.distribution.scale
        return result


class LadderNormal(tfd.Distribution):
    """The `tfd.Distribution` of `Ladder`: q(z|x) over `[z₁, …, z_L]`, one z per batch member.

    Args:
        bottom_up_loc, bottom_up_scale: `[batch, Σ d_l]`. The encoder's μ̂, σ̂.
        prior: the `kvae.priors.TopDown` distribution (its layers' sizes and
            conditionals).
    """

    def __init__(self, bottom_up_loc, bottom_up_scale, prior):
        parameters = dict(locals())
        self.bottom_up_loc, self.bottom_up_scale, self.prior = bottom_up_loc, bottom_up_scale, prior
        self.latent_dims = prior.latent_dims
        super().__init__(dtype=bottom_up_loc.dtype, reparameterization_type=tfd.FULLY_REPARAMETERIZED,
                         validate_args=False, allow_nan_stats=True, parameters=parameters, name="LadderNormal")

    def _batch_shape(self):
        return self.bottom_up_loc.shape[:-1]

    def _batch_shape_tensor(self):
        return tf.shape(self.bottom_up_loc)[:-1]

    def _event_shape(self):
        return tf.TensorShape([sum(self.latent_dims)])

    def _event_shape_tensor(self):
        return tf.constant([sum(self.latent_dims)], tf.int32)

    def _layer(self, l, z_above):
        # q(z_{l+1} | z_{l+2}, x) (0-based l): the top layer's bottom-up Gaussian, or its precision-weighted product
        # with the prior's conditional at the layer above.
        loc_hat = tf.split(self.bottom_up_loc, self.latent_dims, axis=-1)[l]
        scale_hat = tf.split(self.bottom_up_scale, self.latent_dims, axis=-1)[l]
        if z_above is None:
            return loc_hat, scale_hat
        prior_loc, prior_scale = self.prior.conditional(l, z_above)
        precision_hat, precision_prior = tf.math.reciprocal(tf.square(scale_hat)), tf.math.reciprocal(
            tf.square(prior_scale))
        variance = tf.math.reciprocal(precision_hat + precision_prior)
        return variance * (loc_hat * precision_hat + prior_loc * precision_prior), tf.sqrt(variance)

    def sample_given_noise(self, epsilon):
        """Reparameterised z for ε `[*sample_shape, batch, Σ d_l]`, top layer first, and log q(z|x) at it."""
        noise = tf.split(epsilon, self.latent_dims, axis=-1)
        top = len(noise) - 1
        layers, log_q = [None] * len(noise), 0.0
        for l in range(top, -1, -1):
            loc, scale = self._layer(l, None if l == top else layers[l + 1])
            layers[l] = loc + scale * noise[l]
            log_q += tf.reduce_sum(tfd.Normal(loc, scale).log_prob(layers[l]), axis=-1)
        return tf.concat(layers, axis=-1), log_q

    def conditionals(self, z):
        """q(z_l | z_{l+1}, x) for every layer at the path z, as diagonal `tfd.Independent(tfd.Normal)`s, z₁'s first."""
        layers = tf.split(z, self.latent_dims, axis=-1)
        top = len(layers) - 1
        return [tfd.Independent(tfd.Normal(*self._layer(l, None if l == top else layers[l + 1])), 1)
                for l in range(len(layers))]

    def _log_prob(self, z):
        layers = tf.split(z, self.latent_dims, axis=-1)
        return tf.add_n([q.log_prob(z_l) for q, z_l in zip(self.conditionals(z), layers)])

    def _sample_n(self, n, seed=None):
        shape = tf.concat([[n], tf.shape(self.bottom_up_loc)], axis=0)
        epsilon = tf.random.stateless_normal(shape, tfp.random.sanitize_seed(seed), dtype=self.dtype)
        return self.sample_given_noise(epsilon)[0]
