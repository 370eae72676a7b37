"""The `Prior` base class: what a VAE needs of p(z)."""

import keras
import tensorflow as tf

from kvae import protocol

# Floor on the learned scales, as on the posterior's.
MIN_SCALE = 1e-6


@keras.saving.register_keras_serializable(package="kvae")
class Prior(protocol.Part, keras.layers.Layer):
    """Base class: p(z) over `latent_dim` dimensions.

    The `VAE` builds its prior with the shapes of z and x
    (`build((None, latent_dim), (None, *event_shape))`), then `connect`s it to
    its posterior map x → q(z|x), and asks it once per pass for p(z) with
    `distribution()`: a float32 `tfd` distribution over z with event shape
    `[latent_dim]` whatever the dtype policy. The KL against the posterior goes
    through `kvae.divergences.kl_terms` (TFP's KL registry, else the
    single-sample estimate).

    Subclasses implement `distribution`, declare the capabilities they
    `provide` (see `kvae.protocol`) and may list `requirements()`.
    """

    role = "prior"
    # The sizes of the latent layers z₁ … z_L of a hierarchical prior (z₁'s first), or None for one layer.
    latent_dims = None

    def build(self, z_shape, x_shape=None):
        self.latent_dim = int(z_shape[-1])

    def connect(self, posterior_of):
        """Receives the model's map x → q(z|x) (a callable); priors defined by the posterior keep it."""

    def distribution(self):
        """p(z) as a float32 `tfd` distribution with event shape `[latent_dim]`."""
        raise NotImplementedError

    def from_noise(self, epsilon):
        """z for standard normal noise ε `[..., latent_dim]`, for priors that are a map of such noise.

        What temperature sampling scales (ε → T·ε, as NVAE and VDVAE do), and
        what a hierarchy's per-layer pictures vary (`kvae.plotting.hierarchy`).
        """
        raise NotImplementedError(f"the {type(self).__name__} prior is not a map of standard normal noise")

    def sample_for_seeds(self, seeds):
        """One z `[latent_dim]` per int64 seed, stateless: the same seed, the same z anywhere."""
        prior = self.distribution()
        return tf.map_fn(
            lambda s: prior.sample(seed=tf.cast(tf.stack([s % 2**31, s // 2**31]), tf.int32)),
            tf.convert_to_tensor(seeds, tf.int64),
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.variable_dtype),
        )
