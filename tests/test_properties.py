"""Property tests: for random shapes, latent sizes and likelihoods, the model's outputs keep their
shapes, stay finite on finite inputs, and KL ≥ 0."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kvae

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cases(draw):
    rank = draw(st.sampled_from([1, 3]))
    if rank == 1:
        event_shape = (draw(st.integers(1, 12)),)
    else:
        event_shape = (draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 2)))
    latent_dim = draw(st.integers(1, 6))
    likelihood = draw(st.sampled_from(kvae.likelihoods.NAMES))
    batch = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))  # input magnitude (Gaussians take any real)
    return event_shape, latent_dim, likelihood, batch, seed, scale


def _data(event_shape, likelihood, batch, seed, scale):
    rng = np.random.default_rng(seed)
    if likelihood == "bernoulli":
        return rng.uniform(size=(batch,) + event_shape).astype("float32")
    if kvae.likelihoods.get(likelihood).levels == 256:  # 8-bit pixels k/255
        return (rng.integers(0, 256, size=(batch,) + event_shape) / 255).astype("float32")
    return (scale * rng.normal(size=(batch,) + event_shape)).astype("float32")


@pytest.mark.slow
@SETTINGS
@given(cases())
def test_shapes_finiteness_and_non_negative_kl(case):
    event_shape, latent_dim, likelihood, batch, seed, scale = case
    model = kvae.build_vae(event_shape, latent_dim, hidden_units=(8,), likelihood=likelihood, seed=seed)
    x = _data(event_shape, likelihood, batch, seed, scale)

    posterior = model.encode(x)
    assert posterior.batch_shape == [batch] and posterior.event_shape == [latent_dim]
    assert np.all(np.isfinite(posterior.mean())) and np.all(posterior.stddev().numpy() > 0)

    decoded = model.decode(posterior.mean())
    assert decoded.batch_shape == [batch] and tuple(decoded.event_shape) == event_shape
    assert np.all(np.isfinite(decoded.mean())) and np.all(np.isfinite(decoded.log_prob(x)))

    reconstruction, kl = model.elbo_terms(x)
    assert reconstruction.shape == (batch,) and kl.shape == (batch,)
    assert np.all(np.isfinite(reconstruction)) and np.all(kl.numpy() >= 0)

    log_px = model.log_likelihood(x, num_samples=3, seed=seed)
    assert log_px.shape == (batch,) and np.all(np.isfinite(log_px))
    assert model.sample(2, seed=seed).shape == (2,) + event_shape
