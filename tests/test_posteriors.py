"""`kvae.posteriors`: q(z|x) from the encoder's output."""

import numpy as np
from scipy import stats

import kvae


def test_diagonal_normal_posterior_from_one_tensor_or_a_pair():
    rng = np.random.default_rng(0)
    loc, scale_param = rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(4, 3)).astype("float32")
    posterior = kvae.posteriors.get("normal")
    joined = posterior.distribution(np.concatenate([loc, scale_param], axis=-1))
    paired = posterior.distribution((loc, scale_param))
    scale = np.log1p(np.exp(scale_param.astype("float64"))) + 1e-6  # softplus + floor
    z = rng.normal(size=(4, 3)).astype("float32")
    expected = stats.norm(loc, scale).logpdf(z).sum(axis=-1)
    np.testing.assert_allclose(joined.log_prob(z), expected, rtol=1e-5)
    np.testing.assert_allclose(paired.log_prob(z), expected, rtol=1e-5)
