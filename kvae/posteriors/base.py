"""The `Posterior` base class: what a VAE needs of q(z|x)."""

import keras
import tensorflow as tf

# Floor on posterior scales: keeps log σ finite when softplus underflows.
MIN_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="kvae")
class Posterior(keras.layers.Layer):
    """Base class: q(z|x) from the encoder's output.

    The encoder emits one tensor `[batch, sum(params_sizes(latent_dim))]`, or
    one tensor per entry of `params_sizes(latent_dim)`. A posterior turns it
    into a float32 `tfd` distribution over z (`distribution`) and draws
    reparameterised samples *with their exact log-density*
    (`sample_given_noise`), which is all the objectives and the importance
    sampler use. Subclasses say whether their KL against an analytic prior has
    a closed form (`analytic_kl`), per latent dimension or in total.
    """

    # KL(q ‖ p) against an analytic prior is a sum of one term per latent dimension.
    factorized = False
    # log q(z|x) in closed form at any z (not only at q's own samples): what
    # the VampPrior's components and the DReG estimator's held copy need.
    density_in_closed_form = True

    def params_sizes(self, latent_dim):
        """Sizes of the parameter blocks the encoder emits, in order."""
        raise NotImplementedError

    def build(self, input_shape):
        """Builds for z of shape `input_shape` = `(batch, latent_dim)`."""
        self.latent_dim = int(input_shape[-1])
        self.built = True

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

    def analytic_kl(self, posterior, prior_layer, prior):
        """KL(q ‖ p) in closed form, `[batch, latent_dim]` or `[batch, 1]`, or None if it has none."""
        return None

    def stop_gradient(self, posterior):
        """q with its parameters held fixed (for the DReG estimator); None if not available."""
        return None

    def outputs(self, posterior):
        """The tensors the exported `encode` signature returns, by name."""
        raise NotImplementedError

    def _base_loc(self, posterior):
        raise NotImplementedError
