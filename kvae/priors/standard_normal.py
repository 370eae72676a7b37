"""The standard normal prior."""

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from kvae.priors.base import Prior

tfd = tfp.distributions


@keras.saving.register_keras_serializable(package="kvae")
class StandardNormal(Prior):
    """The standard normal prior p(z) = N(0, I), as `tfd.Independent(tfd.Normal)`.

    A product over the latent dimensions: against the diagonal Gaussian
    posterior the KL has a closed form per dimension (`kvae.divergences`).

    Example:

    >>> import kvae
    >>> prior = kvae.priors.StandardNormal()
    >>> prior.build((None, 3))
    >>> float(prior.distribution().log_prob([0.0, 0.0, 0.0]))  # −(3/2) log 2π
    -2.756...
    """

    provides = frozenset({"factorized"})

    def describe(self):
        return "N(0, I) prior"

    def distribution(self):
        zeros = tf.zeros([self.latent_dim], dtype=self.variable_dtype)
        return tfd.Independent(tfd.Normal(zeros, tf.ones_like(zeros)), 1)

    def from_noise(self, epsilon):
        return tf.convert_to_tensor(epsilon, self.variable_dtype)

    def sample_for_seeds(self, seeds):
        return tf.map_fn(
            lambda s: tf.random.stateless_normal([self.latent_dim], tf.stack([s, tf.constant(0, tf.int64)])),
            tf.convert_to_tensor(seeds, tf.int64),
            fn_output_signature=tf.TensorSpec([self.latent_dim], self.variable_dtype),
        )
