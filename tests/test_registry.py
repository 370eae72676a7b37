"""`kvae.registry`: the VAE's parts by name or instance, serialisable, and clear errors for bad ones."""

import keras
import numpy as np
import pytest

import kvae
from conftest import run_serialization_test, tiny_vae, uniform_data


@pytest.mark.parametrize(
    "part", [kvae.priors.StandardNormal(), kvae.priors.GaussianMixture(4, seed=1),
             kvae.priors.VampPrior(7, clip=None, seed=2), kvae.posteriors.DiagonalNormal(),
             kvae.objectives.ELBO(beta=kvae.schedules.Warmup(10), free_bits=0.5),
             kvae.objectives.IWAE(num_samples=7, gradient="dreg")],
    ids=["normal", "mixture", "vamp", "posterior", "elbo", "iwae"],
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


@pytest.mark.parametrize(
    "prior, posterior, gradient", [("mixture", "normal", "dreg"), ("vamp", "full", "dreg"), ("mixture", "iaf", "reparam")]
)
@pytest.mark.slow
def test_the_family_round_trips_through_a_keras_file(tmp_path, prior, posterior, gradient):
    model = tiny_vae(prior=kvae.priors.get(prior, num_components=3, seed=0), posterior=posterior,
                     objective=kvae.objectives.IWAE(4, gradient))
    model.fit(uniform_data(16), batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras")
    assert type(revived.prior_layer) is type(model.prior_layer)
    assert revived.posterior_layer.get_config() == model.posterior_layer.get_config()
    assert (revived.objective.num_samples, revived.objective.gradient) == (4, gradient)
    assert posterior != "iaf" or model.posterior_layer.weights  # the flow's MADEs
    for part in ("prior_layer", "posterior_layer"):
        weights, revived_weights = getattr(model, part).weights, getattr(revived, part).weights
        assert len(weights) == len(revived_weights)
        for a, b in zip(weights, revived_weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    x = uniform_data(5)
    np.testing.assert_allclose(revived.log_likelihood(x, num_samples=8), model.log_likelihood(x, num_samples=8), rtol=1e-5)


def test_a_config_of_an_earlier_version_with_beta_and_free_bits_still_loads():
    config = tiny_vae(beta=0.5, free_bits=0.1).get_config()
    del config["objective"], config["prior"], config["posterior"]
    config.update(beta=0.5, free_bits=0.1)
    revived = kvae.VAE.from_config(config)
    assert float(revived.beta.numpy()) == 0.5 and float(revived.free_bits.numpy()) == pytest.approx(0.1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prior": "flow"}, r"`prior` must be one of \['normal', 'mixture', 'vamp', 'top_down'\] or a kvae.priors.Prior, "
                            r"received: 'flow'"),
        ({"posterior": "planar"}, r"`posterior` must be one of \['normal', 'full', 'iaf', 'ladder'\] or a "
                                r"kvae.posteriors.Posterior, received: 'planar'"),
        ({"objective": "vr"}, r"`objective` must be one of \['elbo', 'iwae'\] or a kvae.objectives.Objective, received: 'vr'"),
        ({"prior": "built for 2"}, r"`prior` must be over latent_dim=3 dimensions, received one built for 2"),
        ({"objective": kvae.objectives.ELBO(), "beta": 0.5},
         r'`beta` and `free_bits` configure a named objective \("elbo", "iwae"\); pass them to an objective instance '
         r'instead, received beta=0.5, free_bits=0.0 with objective <ELBO'),
        ({"objective": "iwae", "free_bits": 0.5},
         r"`free_bits` configures the \"elbo\" objective \(the IWAE bound has no per-dimension KL to floor\), "
         r"received free_bits=0.5 with objective 'iwae'"),
        ({"prior": "mixture", "free_bits": 0.5},
         r'free_bits needs a KL with a closed form per latent dimension \(the "normal" or "top_down" prior and the '
         r'"normal" or "ladder" posterior\), received the GaussianMixture prior and the DiagonalNormal posterior: use '
         r'free_bits=0'),
        ({"posterior": "full", "free_bits": 0.5}, r"received the StandardNormal prior and the FullNormal posterior"),
        ({"posterior": "iaf", "prior": "vamp"},
         r'the VampPrior \(its components are the posterior at the pseudo-inputs\) needs a posterior whose '
         r'density has a closed form at any z \("normal" or "full"\), received the IAF posterior'),
        ({"posterior": "iaf", "objective": kvae.objectives.IWAE(gradient="dreg")},
         r"the DReG gradient \(it evaluates q with held parameters at its samples\) needs a posterior .* IAF"),
    ],
)
def test_bad_parts_are_clear_errors(kwargs, message):
    if kwargs.get("prior") == "built for 2":
        kwargs["prior"] = kvae.priors.StandardNormal()
        kwargs["prior"].build((None, 2))
    with pytest.raises(ValueError, match=message):
        tiny_vae(**kwargs)
