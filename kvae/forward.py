"""`ForwardPass`: what one pass of a VAE over a batch computed, and the bounds' terms built from it.

`VAE.forward(x, condition)` encodes the batch once and builds the prior once;
the objective (`kvae.objectives`), the importance sampler and the test-set
report (`kvae.evaluation`) then ask the pass for samples, log-densities and
decoder log-likelihoods. They never see the model, so an objective is written
against this one object, and training, metrics and test scores share one
computation of each term.
"""

import tensorflow as tf

from kvae import divergences


class ForwardPass:
    """One batch's posterior, prior and the functions of z an objective needs.

    Made by `kvae.VAE.forward`; every tensor is float32 whatever the dtype
    policy.

    Args:
        x: tensor `[batch, *event_shape]`. The examples as the networks see
            them (after the model's preprocessing).
        condition: tensor `[batch, ...]` or None. A conditional VAE's
            condition, already converted (`kvae.VAE.condition`).
        posterior: q(z|x), a `tfd` distribution with event shape `[L]`.
        prior: p(z), the same.
        posterior_layer: the `kvae.posteriors.Posterior` that made `posterior`.
        likelihood: the `kvae.likelihoods.Likelihood`.
        decode: callable `(z [n, L], condition [n, ...] or None) -> params`:
            the decoder's float32 output for the likelihood.
        noise: callable `(num_samples or None) -> ε`: standard normal noise
            `[batch, L]` or `[num_samples, batch, L]`.
        log_det: tensor `[batch]` or None. log |det ∂u/∂x| of the model's
            preprocessing (`kvae.preprocessing`), added to every log p(x|z) so
            that all densities are of the data as given (None: 0).
    """

    def __init__(self, x, condition, posterior, prior, posterior_layer, likelihood, decode, noise, log_det=None):
        self.x = x
        self.log_det = log_det
        self.condition = condition
        self.posterior = posterior
        self.prior = prior
        self.posterior_layer = posterior_layer
        self.likelihood = likelihood
        self._decode = decode
        self._noise = noise

    @property
    def location(self):
        """The posterior's location `[batch, L]` (its mean for the Gaussians), for the active-units metric."""
        return self.posterior_layer.location(self.posterior)

    def noise(self, num_samples=None):
        """Standard normal ε `[batch, L]`, or `[num_samples, batch, L]`."""
        return self._noise(num_samples)

    def sample(self, epsilon):
        """Reparameterised z for noise ε and log q(z|x) at it: `Posterior.sample_given_noise`."""
        return self.posterior_layer.sample_given_noise(self.posterior, epsilon)

    def held_posterior(self):
        """q with its parameters held fixed (`Posterior.stop_gradient`), for the DReG estimator."""
        return self.posterior_layer.stop_gradient(self.posterior)

    def log_likelihood(self, z):
        """log p(x|z) for z `[batch, L]` → `[batch]`, or z `[k, batch, L]` → `[k, batch]`."""
        if len(z.shape) == 2:
            log_px_z = self.likelihood.log_prob(self._decode(z, self.condition), self.x)
        else:
            num_samples, batch = tf.shape(z)[0], tf.shape(z)[1]
            flat_z = tf.reshape(z, [-1, z.shape[-1]])
            flat_c = None if self.condition is None else _repeat(self.condition, num_samples)
            log_px_z = self.likelihood.log_prob(self._decode(flat_z, flat_c), _repeat(self.x, num_samples))
            log_px_z = tf.reshape(log_px_z, [num_samples, batch])
        # The change of variables of the preprocessing: densities of the data, not of u.
        return log_px_z if self.log_det is None else log_px_z + self.log_det

    def kl(self, z, log_q):
        """KL(q ‖ p) at the sample z: `kvae.divergences.kl_terms`, `[batch, L]` or `[batch, 1]`."""
        return divergences.kl_terms(self.posterior, self.prior, z, log_q)

    def elbo_terms(self, epsilon):
        """The ELBO's terms at the reparameterised z for noise ε `[batch, L]`.

        Returns:
            `(reconstruction, kl_per_dim, location)`: −log p(x|z) `[batch]`,
            the KL (`kl`) and the posterior's location `[batch, L]`, in nats.
        """
        z, log_q = self.sample(epsilon)
        return -self.log_likelihood(z), self.kl(z, log_q), self.location

    def log_weights(self, z, log_q, beta=1.0):
        """log p(x|z) + β (log p(z) − log q(z|x)) `[k, batch]` for z `[k, batch, L]`, and log p(x|z).

        `log_q` `[k, batch]` is log q(z|x) at the samples (from `sample`, or the
        held posterior's density for the DReG estimator); `beta` tempers the
        weights (at 1 the products are exact and the sums keep their order).
        """
        log_px_z = self.log_likelihood(z)
        return log_px_z + beta * self.prior.log_prob(z) - beta * log_q, log_px_z


def _repeat(t, num_samples):
    # [batch, ...] → [num_samples * batch, ...], sample-major (as z is flattened).
    multiples = tf.concat([[num_samples], tf.ones([len(t.shape)], tf.int32)], axis=0)
    return tf.reshape(tf.tile(t[tf.newaxis], multiples), tf.concat([[-1], tf.shape(t)[1:]], axis=0))
