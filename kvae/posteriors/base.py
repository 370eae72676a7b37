"""The `Posterior` base class: what a VAE needs of q(z|x)."""

import keras
import tensorflow as tf

from kvae import protocol

# Floor on posterior scales: keeps log σ finite when softplus underflows.
MIN_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="kvae")
class Posterior(protocol.Part, keras.layers.Layer):
    """Base class: q(z|x) from the encoder's output.

    The encoder emits one tensor `[batch, sum(params_sizes(latent_dim))]`, or
    one tensor per entry of `params_sizes(latent_dim)`. A posterior turns it
    into a float32 `tfd` distribution over z (`distribution`) and draws
    reparameterised samples *with their exact log-density*
    (`sample_given_noise`), which is all the objectives and the importance
    sampler use. The KL against the prior goes through
    `kvae.divergences.kl_terms` (TFP's KL registry, else the single-sample
    estimate), so a posterior says nothing about priors.

    Subclasses declare the capabilities they `provide` (`kvae.protocol`):
    `"density"` if `distribution(params).log_prob` is exact and cheap at any z
    and `stop_gradient` gives a held copy; `"factorized"` if q is a product
    over the latent dimensions.
    """

    role = "posterior"

    def params_sizes(self, latent_dim):
        """Sizes of the parameter blocks the encoder emits, in order."""
        raise NotImplementedError

    def build(self, input_shape):
        """Builds for z of shape `input_shape` = `(batch, latent_dim)`."""
        self.latent_dim = int(input_shape[-1])
        self.built = True

    def connect(self, prior):
        """Receives the model's p(z) maker (a callable); posteriors made with the prior keep it."""

    def split(self, params):
        """The encoder's output as a list of float32 blocks of `params_sizes`."""
        if isinstance(params, (list, tuple)):
            return [tf.cast(p, self.variable_dtype) for p in params]
        params = tf.cast(params, self.variable_dtype)
        return tf.split(params, self.params_sizes(self._latent_dim(params)), axis=-1)

    def _latent_dim(self, params):
        # The latent size from a joined parameter tensor (before build, e.g. in a doctest).
        if getattr(self, "latent_dim", None) is not None:
            return self.latent_dim
        width = int(params.shape[-1])
        for latent_dim in range(1, width + 1):
            if sum(self.params_sizes(latent_dim)) == width:
                return latent_dim
        raise ValueError(f"no latent size gives {width} posterior parameters for {type(self).__name__}")

    def distribution(self, params):
        """q(z|x) as a float32 `tfd` distribution with event shape `[latent_dim]`."""
        raise NotImplementedError

    def sample_given_noise(self, posterior, epsilon):
        """Reparameterised z for standard normal noise ε, and log q(z|x) at it.

        Args:
            posterior: what `distribution` returned.
            epsilon: float32 `[*sample_shape, batch, latent_dim]`.

        Returns:
            `(z, log_q)`: `[*sample_shape, batch, latent_dim]` and
            `[*sample_shape, batch]`, differentiable in the parameters.
        """
        raise NotImplementedError

    def location(self, posterior):
        """z at zero noise `[batch, latent_dim]`: the posterior's centre (its mean for Gaussians)."""
        z, _ = self.sample_given_noise(posterior, tf.zeros_like(self._base_loc(posterior)))
        return z

    def stop_gradient(self, posterior):
        """q with its parameters held fixed (for the DReG estimator); parts that provide `"density"` implement it."""
        raise NotImplementedError(f"the {type(self).__name__} posterior has no held copy (it lacks \"density\")")

    def outputs(self, posterior):
        """The tensors the exported `encode` signature returns, by name."""
        raise NotImplementedError

    def _base_loc(self, posterior):
        raise NotImplementedError
