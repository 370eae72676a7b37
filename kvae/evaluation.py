"""Evaluating a VAE: importance-sampled log-likelihood, anomaly scores, and the test-set report.

Every estimate here draws its noise statelessly from a `seed`: the same call
gives the same numbers, and evaluating never advances the model's training
noise generator (so it does not change what `fit` does next).
"""

import math

import keras
import numpy as np
import tensorflow as tf

from kvae import checks
from kvae import deprecation
from kvae.metrics import ActiveUnits

# Decoder rows evaluated at once by `log_likelihood` (examples × samples).
LOG_LIKELIHOOD_ROWS = 16384


@deprecation.renamed("labels", "condition")
def log_likelihood(model, x, num_samples=1000, batch_size=None, seed=0, verbose=0, condition=None):
    """Importance-weighted estimate of log p(x) per example, in nats (log p(x|c) given a `condition`).

    With K samples z_k ~ q(z|x),

        log p(x) ≈ logsumexp_k [log p(x|z_k) + log p(z_k) − log q(z_k|x)] − log K,

    the IWAE bound of Burda et al. (2016): a lower bound on log p(x) that
    equals the ELBO in expectation for K = 1 and tightens as K grows. The
    work is split into chunks of examples × samples, so memory stays bounded
    whatever K and the number of examples.

    Args:
        model: `kvae.VAE`.
        x: array `[n, *event_shape]`. The examples.
        num_samples: int. K, the importance samples per example, >= 1.
        batch_size: int or None. Examples per chunk (default: chosen so a
            chunk holds about 16k decoder rows).
        seed: int. Seed of the importance samples; same seed, same result.
        verbose: int. 1 shows a Keras progress bar.
        condition: a conditional VAE's conditions for `x` (for class labels:
            ids or one-hot rows).

    Returns:
        NumPy array `[n]` of log p(x) estimates (negate for the NLL).

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16, seed=0)
    >>> x = np.random.default_rng(0).uniform(size=(5, 8, 8, 1)).astype("float32")
    >>> a = kvae.evaluation.log_likelihood(vae, x, num_samples=20, seed=3)
    >>> a.shape, bool(np.all(a == kvae.evaluation.log_likelihood(vae, x, num_samples=20, seed=3)))
    ((5,), True)
    """
    checks.positive_int(num_samples, "num_samples")
    x = np.asarray(x, dtype=model.distribution_dtype)
    model.check_event_shape(x.shape)
    n = len(x)
    condition = _checked_condition(model, condition, n)
    if batch_size is None:
        batch_size = max(1, min(n, LOG_LIKELIHOOD_ROWS // num_samples, 256))
    chunk = max(1, min(num_samples, LOG_LIKELIHOOD_ROWS // batch_size))
    progbar = keras.utils.Progbar(n, unit_name="example") if verbose else None
    base_seed = tf.constant([seed, 0], dtype=tf.int32)
    results = []
    for b, start in enumerate(range(0, n, batch_size)):
        batch = tf.constant(x[start : start + batch_size])
        batch_condition = None if condition is None else condition[start : start + batch_size]
        log_weights = []
        for c, k0 in enumerate(range(0, num_samples, chunk)):
            k = min(chunk, num_samples - k0)
            chunk_seed = tf.random.experimental.stateless_fold_in(
                tf.random.experimental.stateless_fold_in(base_seed, b), c
            )
            log_weights.append(log_importance_weights(model, batch, k, chunk_seed, batch_condition))
        log_weights = tf.concat(log_weights, axis=0)
        results.append((tf.reduce_logsumexp(log_weights, axis=0) - math.log(num_samples)).numpy())
        if progbar is not None:
            progbar.add(len(batch))
    return np.concatenate(results) if results else np.zeros([0], model.distribution_dtype)


@deprecation.renamed("labels", "condition")
def score(model, x, num_samples=100, seed=0, condition=None):
    """Per-example anomaly scores from `num_samples` posterior samples, in nats.

    Returns a dict with `neg_elbo` (−mean of the log importance weights, the
    K-sample ELBO estimate, negated) and `log_likelihood` (their
    log-mean-exp, the IWAE estimate of log p(x)). Deterministic for a given
    `seed` (an int or a scalar tensor, as in the exported `score`
    signature); evaluates the whole batch at once (use `log_likelihood` for
    large data).
    """
    seed = tf.stack([tf.cast(seed, tf.int32), tf.constant(0, tf.int32)])
    log_weights = log_importance_weights(model, x, num_samples, seed, condition)
    k = tf.cast(num_samples, log_weights.dtype)
    return {
        "neg_elbo": -tf.reduce_mean(log_weights, axis=0),
        "log_likelihood": tf.reduce_logsumexp(log_weights, axis=0) - tf.math.log(k),
    }


@tf.function(reduce_retracing=True, autograph=False)
def log_importance_weights(model, x, num_samples, seed, condition=None):
    """log p(x|z) + log p(z) − log q(z|x) for `num_samples` z ~ q(z|x) per example: `[k, batch]`.

    `seed` is a stateless `[2]` int32 seed; the model's noise generator is not
    used. `condition`: a conditional VAE's conditions for `x`, converted by the model's pass.
    """
    forward = model.forward(x, condition)
    epsilon = tf.random.stateless_normal(tf.stack([num_samples, tf.shape(x)[0], model.latent_dim]), seed)
    return forward.log_weights(*forward.sample(epsilon))[0]


def _checked_condition(model, condition, n):
    # A conditional VAE's conditions for n examples, checked on the host (tensors are the caller's), as given.
    if tf.is_tensor(condition):
        return condition
    model.condition.check(condition, n)
    return None if condition is None else np.asarray(condition)


@deprecation.renamed("labels", "condition")
def evaluate(model, x, iw_samples=1000, batch_size=256, seed=0, verbose=0, per_example=False, condition=None):
    """Test-set bounds of a model, in nats and bits/dim, with standard errors over examples.

    - `test_neg_elbo`, `test_reconstruction`, `test_kl`: the ELBO's terms, one
      posterior sample per example (the KL in closed form);
    - `test_nll`: importance-sampled NLL with K = `iw_samples`
      (`VAE.log_likelihood`), ≤ −ELBO in expectation;
    - `active_units`: latent dimensions with Var_x(μ_j(x)) > 0.01 (μ: the
      posterior's location, `VAE.embed`);
    - for a hierarchy of latent layers, `active_units_z1`, `latent_dim_z1`,
      … per layer, and `test_kl_z1`, … when the KL has a term per dimension:
      the usual failure of deep VAEs, upper layers collapsing onto the prior,
      shows there.

    Args:
        model: `kvae.VAE`.
        x: array `[n, *event_shape]`. Test examples.
        iw_samples: int. Importance samples K per example.
        batch_size: int. Examples per batch for the ELBO terms.
        seed: int. Seed of the ELBO's and the importance samples' noise: the
            same seed gives the same numbers, and the model's training noise
            generator is left untouched.
        verbose: int. 1 shows a progress bar for the IS-NLL.
        per_example: bool. Also return `"per_example"`: `{"neg_elbo", "kl",
            "nll"}` arrays `[n]`, e.g. for paired comparisons of two models.
        condition: a conditional VAE's conditions for `x`: the bounds are
            then on log p(x|c).

    Returns:
        dict of floats (and ints); `*_stderr` are standard errors of the mean
        over examples, `*_bits_per_dim` divide nats by (dimensions · log 2);
        `nll_kind` and `nll_meaning` say what the numbers are a likelihood of
        (`what_nll_measures`): only a `"mass"` gives bits/dim comparable with
        published results.

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16, seed=0)
    >>> x = np.random.default_rng(0).uniform(size=(10, 8, 8, 1)).astype("float32")
    >>> result = kvae.evaluation.evaluate(vae, x, iw_samples=10)
    >>> result["test_examples"], result["iw_samples"], result["latent_dim"]
    (10, 10, 2)
    """
    reconstruction, kl, layer_kl = [], [], []
    units = ActiveUnits(model.latent_dim)
    base_seed = tf.constant([seed, 1], dtype=tf.int32)  # apart from the importance samples' seeds
    x = np.asarray(x, dtype=model.distribution_dtype)
    model.check_event_shape(x.shape)
    condition = _checked_condition(model, condition, len(x))
    for b, start in enumerate(range(0, len(x), batch_size)):
        batch = tf.constant(x[start : start + batch_size])
        batch_condition = None if condition is None else condition[start : start + batch_size]
        forward = model.forward(batch, batch_condition)  # one encoder pass for all three
        epsilon = tf.random.stateless_normal(
            [len(batch), model.latent_dim], tf.random.experimental.stateless_fold_in(base_seed, b)
        )
        r, kl_per_dim, loc = forward.elbo_terms(epsilon)
        reconstruction.append(r.numpy())
        kl.append(np.sum(kl_per_dim.numpy(), axis=-1))
        if model.layer_kl_trackers:  # a hierarchy whose KL has a term per dimension: each layer's
            layer_kl.append([np.sum(t, axis=-1) for t in np.split(kl_per_dim.numpy(),
                                                                  np.cumsum(model.latent_layers)[:-1], axis=-1)])
        units.update_state(loc)
    reconstruction, kl = np.concatenate(reconstruction), np.concatenate(kl)
    neg_elbo = reconstruction + kl
    nll = -log_likelihood(model, x, num_samples=iw_samples, seed=seed, verbose=verbose, condition=condition)
    bits = int(np.prod(x.shape[1:])) * math.log(2)
    result = {
        **what_nll_measures(model, x),
        "test_examples": int(len(x)),
        "test_neg_elbo": float(neg_elbo.mean()),
        "test_neg_elbo_stderr": _stderr(neg_elbo),
        "test_neg_elbo_bits_per_dim": float(neg_elbo.mean() / bits),
        "test_reconstruction": float(reconstruction.mean()),
        "test_kl": float(kl.mean()),
        "test_kl_stderr": _stderr(kl),
        "iw_samples": int(iw_samples),
        "test_nll": float(nll.mean()),
        "test_nll_stderr": _stderr(nll),
        "test_nll_bits_per_dim": float(nll.mean() / bits),
        "active_units": int(units.result()),
        "latent_dim": int(model.latent_dim),
    }
    if len(model.latent_layers) > 1:
        for l, count in enumerate(model.layer_active_units(units.variances(), units.threshold)):
            result[f"active_units_z{l + 1}"] = int(count)
            result[f"latent_dim_z{l + 1}"] = int(model.latent_layers[l])
        for l, values in enumerate(zip(*layer_kl)):
            result[f"test_kl_z{l + 1}"] = float(np.concatenate(values).mean())
    if per_example:
        result["per_example"] = {"neg_elbo": neg_elbo, "kl": kl, "nll": nll}
    return result


def what_nll_measures(model, x):
    """What the model's −log p(x) (and so its bits/dim) is on the data `x`, for tables and reports.

    Returns:
        `{"nll_kind": kind, "nll_meaning": sentence}`, kind `"mass"` (a
        probability of the data's discrete values, comparable with published
        numbers on the same data), `"density"` (of continuous data) or
        `"not a density"` (a Bernoulli on grey levels: flagged, never to be
        compared); see `kvae.likelihoods.Likelihood.what_nll_measures`.

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((4,), latent_dim=2, hidden_units=8)  # a Bernoulli likelihood
    >>> kvae.evaluation.what_nll_measures(vae, np.full((3, 4), 0.5, "float32"))["nll_kind"]
    'not a density'
    """
    u, _ = model.preprocessing.forward(tf.constant(np.asarray(x, model.distribution_dtype)))
    kind, sentence = model.likelihood.what_nll_measures(np.asarray(u))
    return {"nll_kind": kind, "nll_meaning": sentence}


def _stderr(values):
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
