"""Test-set numbers of a trained VAE: −ELBO, KL, importance-sampled NLL, active units."""

import math

import numpy as np

from kvae.metrics import ActiveUnits


def evaluate(model, x, iw_samples=1000, batch_size=256, seed=0, verbose=0, per_example=False):
    """Test-set bounds of a model, in nats and bits/dim, with standard errors over examples.

    - `test_neg_elbo`, `test_reconstruction`, `test_kl`: the ELBO's terms, one
      posterior sample per example (the KL in closed form);
    - `test_nll`: importance-sampled NLL with K = `iw_samples`
      (`VAE.log_likelihood`), ≤ −ELBO in expectation;
    - `active_units`: latent dimensions with Var_x(μ_j(x)) > 0.01.

    Args:
        model: `kvae.VAE`.
        x: array `[n, *event_shape]`. Test examples.
        iw_samples: int. Importance samples K per example.
        batch_size: int. Examples per batch for the ELBO terms.
        seed: int. Seed of the importance samples.
        verbose: int. 1 shows a progress bar for the IS-NLL.
        per_example: bool. Also return `"per_example"`: `{"neg_elbo", "kl",
            "nll"}` arrays `[n]`, e.g. for paired comparisons of two models.

    Returns:
        dict of floats (and ints); `*_stderr` are standard errors of the mean
        over examples, `*_bits_per_dim` divide nats by (dimensions · log 2).

    Example:

    >>> import numpy as np, kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=16, seed=0)
    >>> x = np.random.default_rng(0).uniform(size=(10, 8, 8, 1)).astype("float32")
    >>> result = kvae.evaluation.evaluate(vae, x, iw_samples=10)
    >>> result["test_examples"], result["iw_samples"], result["latent_dim"]
    (10, 10, 2)
    """
    reconstruction, kl = [], []
    units = ActiveUnits(model.latent_dim)
    for start in range(0, len(x), batch_size):
        batch = x[start : start + batch_size]
        r, kl_per_dim, loc = model._terms(batch, training=False)  # one encoder pass for all three
        reconstruction.append(r.numpy())
        kl.append(np.sum(kl_per_dim.numpy(), axis=-1))
        units.update_state(loc)
    reconstruction, kl = np.concatenate(reconstruction), np.concatenate(kl)
    neg_elbo = reconstruction + kl
    nll = -model.log_likelihood(x, num_samples=iw_samples, seed=seed, verbose=verbose)
    bits = int(np.prod(x.shape[1:])) * math.log(2)
    result = {
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
    if per_example:
        result["per_example"] = {"neg_elbo": neg_elbo, "kl": kl, "nll": nll}
    return result


def _stderr(values):
    return float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else 0.0
