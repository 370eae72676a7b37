"""A VAE's bounds on log p(x), term by term: the ELBO's terms and the importance weights.

The objectives (`kvae.objectives`) and the evaluation (`kvae.evaluation`)
build on these functions, so training, metrics and test scores share one
computation of each term.
"""

import tensorflow as tf
import tensorflow_probability as tfp

from kvae import distribute

tfd = tfp.distributions


def terms_given_noise(model, x, posterior, epsilon, training=False):
    """The ELBO's terms at z = μ + σ·ε for a given posterior q(z|x) and noise ε.

    Args:
        model: `kvae.VAE`.
        x: tensor `[batch, *event_shape]`. The examples.
        posterior: `tfd.Independent(tfd.Normal)`, `model.encode(x)`.
        epsilon: tensor `[batch, latent_dim]` of standard normal noise.
        training: bool. Passed to the decoder.

    Returns:
        `(reconstruction, kl_per_dim, loc)`: −log p(x|z) `[batch]`, the KL and
        μ(x) `[batch, latent_dim]`, in nats. The KL is closed-form per
        dimension, KL_j `[batch, latent_dim]` (`tfd.kl_divergence`), when the
        prior allows (`prior_layer.analytic_kl`); otherwise `[batch, 1]` holds
        the single-sample estimate log q(z|x) − log p(z) at the same z.
    """
    normal = posterior.distribution
    z = normal.loc + normal.scale * epsilon  # reparameterised: z = μ + σ·ε
    reconstruction = -model.likelihood.log_prob(model.decoder_params(z, training=training), x)
    if model.prior_layer.analytic_kl:
        kl_per_dim = tfd.kl_divergence(normal, model.prior.distribution)
    else:
        kl_per_dim = (posterior.log_prob(z) - model.prior.log_prob(z))[:, tf.newaxis]
    return reconstruction, kl_per_dim, normal.loc


def sample_terms(model, x, training=False):
    """`terms_given_noise` at noise ε from the model's seed generator (`draw_noise`)."""
    posterior = model.encode(x, training=training)
    return terms_given_noise(model, x, posterior, draw_noise(model, posterior), training=training)


def draw_noise(model, posterior, num_samples=None):
    """Standard normal noise ε for `posterior`'s batch from the model's seed generator.

    `[batch, latent_dim]`, or `[num_samples, batch, latent_dim]`. The noise is
    drawn for the global batch and each replica takes its own rows, so an
    example gets the same ε however the batch is split across devices.
    """
    seed = tf.cast(model.seed_generator.next(), tf.int32)  # TFP's stateless samplers take int32 [2]
    shape = tf.shape(posterior.mean())
    if num_samples is None:
        return distribute.global_batch_normal(shape, seed)
    noise = distribute.global_batch_normal(tf.stack([shape[0], num_samples, shape[1]]), seed)
    return tf.transpose(noise, [1, 0, 2])


def log_weights(model, x, z, posterior, log_q_posterior=None):
    """log p(x|z) + log p(z) − log q(z|x) `[k, batch]` for samples z `[k, batch, latent_dim]`.

    Also returns log p(x|z) `[k, batch]`. `log_q_posterior` (default
    `posterior`) is the q whose density enters the weight (a copy with stopped
    gradients, for the DReG estimator).
    """
    num_samples, batch = tf.shape(z)[0], tf.shape(z)[1]
    flat_z = tf.reshape(z, [-1, model.latent_dim])
    multiples = tf.concat([[num_samples], tf.ones([len(x.shape)], tf.int32)], axis=0)
    flat_x = tf.reshape(tf.tile(x[tf.newaxis], multiples), tf.concat([[-1], tf.shape(x)[1:]], axis=0))
    log_px_z = tf.reshape(model.likelihood.log_prob(model.decoder_params(flat_z), flat_x), [num_samples, batch])
    log_q = (posterior if log_q_posterior is None else log_q_posterior).log_prob(z)
    return log_px_z + model.prior.log_prob(z) - log_q, log_px_z
