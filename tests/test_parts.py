"""The VAE's parts (`kvae.priors`, `kvae.posteriors`, `kvae.objectives`): by name or instance, serialisable."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import kvae
from conftest import run_serialization_test, tiny_vae, uniform_data


def test_standard_normal_prior_log_density_is_scipys():
    prior = kvae.priors.get("normal")
    prior.build((None, 3))
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    expected = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z)
    np.testing.assert_allclose(prior.distribution().log_prob(z), expected, rtol=1e-5)
    assert prior.analytic_kl and prior.distribution().dtype == tf.float32


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


def test_elbo_objective_is_the_beta_weighted_floored_terms():
    model = tiny_vae(beta=0.5, free_bits=0.2)
    x = uniform_data(6)
    loss, (reconstruction, kl_per_dim, loc) = model.objective.compute(model, x)
    expected = reconstruction + 0.5 * tf.reduce_sum(tf.maximum(kl_per_dim, 0.2), axis=-1)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)
    assert kl_per_dim.shape == (6, 3) and loc.shape == (6, 3)
    assert model.beta is model.objective.beta and model.free_bits is model.objective.free_bits


@pytest.mark.parametrize(
    "part", [kvae.priors.StandardNormal(), kvae.posteriors.DiagonalNormal(),
             kvae.objectives.ELBO(beta=kvae.schedules.Warmup(10), free_bits=0.5)],
    ids=["prior", "posterior", "objective"],
)
def test_parts_round_trip_their_config(part):
    revived = run_serialization_test(part)
    assert type(revived) is type(part)


def test_a_model_takes_its_parts_by_instance_and_round_trips_them(tmp_path):
    objective = kvae.objectives.ELBO(beta=0.25)
    model = tiny_vae(objective=objective)
    assert model.objective is objective and float(model.beta.numpy()) == 0.25
    model.fit(uniform_data(8), batch_size=4, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    revived = keras.saving.load_model(path)
    assert isinstance(revived.objective, kvae.objectives.ELBO) and float(revived.beta.numpy()) == 0.25
    assert isinstance(revived.prior_layer, kvae.priors.StandardNormal)
    assert isinstance(revived.posterior_layer, kvae.posteriors.DiagonalNormal)
    x = uniform_data(3)
    np.testing.assert_allclose(revived.reconstruct(x), model.reconstruct(x), rtol=1e-6)


def test_a_config_of_an_earlier_version_with_beta_and_free_bits_still_loads():
    config = tiny_vae(beta=0.5, free_bits=0.1).get_config()
    del config["objective"], config["prior"], config["posterior"]
    config.update(beta=0.5, free_bits=0.1)
    revived = kvae.VAE.from_config(config)
    assert float(revived.beta.numpy()) == 0.5 and float(revived.free_bits.numpy()) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prior": "vamp"}, r"`prior` must be one of \['normal'\] or a kvae.priors.Prior, received: 'vamp'"),
        ({"posterior": "iaf"}, r"`posterior` must be one of \['normal'\] or a kvae.posteriors.Posterior, received: 'iaf'"),
        ({"objective": "iwae"}, r"`objective` must be one of \['elbo'\] or a kvae.objectives.Objective, received: 'iwae'"),
        ({"prior": "built for 2"}, r"`prior` must be over latent_dim=3 dimensions, received one built for 2"),
        ({"objective": kvae.objectives.ELBO(), "beta": 0.5},
         r"`beta` and `free_bits` configure the named objective; pass them to the objective instance instead"),
    ],
)
def test_bad_parts_are_clear_errors(kwargs, message):
    if kwargs.get("prior") == "built for 2":
        kwargs["prior"] = kvae.priors.StandardNormal()
        kwargs["prior"].build((None, 2))
    with pytest.raises(ValueError, match=message):
        tiny_vae(**kwargs)
