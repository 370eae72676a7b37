"""A VAE's bounds on log p(x), term by term: the ELBO's terms and the importance weights.

The objectives (`kvae.objectives`) and the evaluation (`kvae.evaluation`)
build on these functions, so training, metrics and test scores share one
computation of each term.
"""

import tensorflow as tf

from kvae import distribute


def terms_given_noise(model, x, posterior, epsilon, training=False, condition=None):
    """The ELBO's terms at the reparameterised z for a given posterior q(z|x) and noise ε.

    Args:
        model: `kvae.VAE`.
        x: tensor `[batch, *event_shape]`. The examples.
        posterior: q(z|x), `model.encode(x)`.
        epsilon: tensor `[batch, latent_dim]` of standard normal noise.
        training: bool. Passed to the decoder.
        condition: the conditional VAE's condition `[batch, ...]` (`model.condition`), or None.

    Returns:
        `(reconstruction, kl_per_dim, location)`: −log p(x|z) `[batch]`, the KL
        and the posterior's location `[batch, latent_dim]`, in nats. The KL is
        closed-form when the posterior and prior allow it
        (`posterior_layer.analytic_kl`): per dimension, KL_j `[batch,
        latent_dim]`, for the diagonal Gaussian against N(0, I), in total
        `[batch, 1]` for the full-covariance one; otherwise `[batch, 1]` holds
        the single-sample estimate log q(z|x) − log p(z) at the same z.
    """
    z, log_q = model.posterior_layer.sample_given_noise(posterior, epsilon)
    reconstruction = -model.likelihood.log_prob(model.decoder_params(z, training, condition), x)
    return reconstruction, kl_terms(model, posterior, z, log_q), model.posterior_layer.location(posterior)


def kl_terms(model, posterior, z, log_q):
    """KL(q(z|x) ‖ p(z)): closed-form if the parts allow, else log q(z|x) − log p(z) at z `[batch, 1]`."""
    analytic = model.posterior_layer.analytic_kl(posterior, model.prior_layer, model.prior)
    if analytic is not None:
        return analytic
    return (log_q - model.prior.log_prob(z))[..., tf.newaxis]


def sample_terms(model, x, training=False, condition=None):
    """`terms_given_noise` at noise ε from the model's seed generator (`draw_noise`)."""
    posterior = model.encode(x, training, condition)
    return terms_given_noise(model, x, posterior, draw_noise(model, x), training, condition)


def draw_noise(model, x, num_samples=None):
    """Standard normal noise ε for the batch `x` from the model's seed generator.

    `[batch, latent_dim]`, or `[num_samples, batch, latent_dim]`. The noise is
    drawn for the global batch and each replica takes its own rows, so an
    example gets the same ε however the batch is split across devices.
    """
    seed = tf.cast(model.seed_generator.next(), tf.int32)  # TFP's stateless samplers take int32 [2]
    batch = tf.shape(x)[0]
    if num_samples is None:
        return distribute.global_batch_normal(tf.stack([batch, model.latent_dim]), seed)
    noise = distribute.global_batch_normal(tf.stack([batch, num_samples, model.latent_dim]), seed)
    return tf.transpose(noise, [1, 0, 2])


def log_weights(model, x, z, log_q, condition=None):
    """log p(x|z) + log p(z) − log q(z|x) `[k, batch]` for samples z `[k, batch, latent_dim]`.

    `log_q` `[k, batch]` is log q(z|x) at the samples (from
    `posterior_layer.sample_given_noise`, or a held copy's density for the
    DReG estimator). `condition` (a conditional VAE's, `[batch, ...]`) is
    repeated for each sample. Also returns log p(x|z) `[k, batch]`.
    """
    num_samples, batch = tf.shape(z)[0], tf.shape(z)[1]
    flat_z = tf.reshape(z, [-1, model.latent_dim])
    flat_x = _repeat(x, num_samples)
    flat_c = None if condition is None else _repeat(condition, num_samples)
    log_px_z = tf.reshape(
        model.likelihood.log_prob(model.decoder_params(flat_z, labels=flat_c), flat_x), [num_samples, batch]
    )
    return log_px_z + model.prior.log_prob(z) - log_q, log_px_z


def _repeat(t, num_samples):
    # [batch, ...] → [num_samples * batch, ...], sample-major (as z is flattened).
    multiples = tf.concat([[num_samples], tf.ones([len(t.shape)], tf.int32)], axis=0)
    return tf.reshape(tf.tile(t[tf.newaxis], multiples), tf.concat([[-1], tf.shape(t)[1:]], axis=0))
