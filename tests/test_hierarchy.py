"""Hierarchical latents: the top-down prior, the ladder posterior, their per-layer KLs, and a Ladder VAE."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy import stats

import kvae

DIMS = (4, 3, 2)


def _prior(dims=DIMS):
    prior = kvae.priors.TopDown(dims, hidden_units=8)
    prior.build((None, sum(dims)))
    return prior


def _ladder_vae(**kwargs):
    keras.utils.set_random_seed(0)  # the same weights whatever ran before (build_vae's seed is its noise's)
    return kvae.build_vae((6,), latent_dim=DIMS, hidden_units=(16, 8, 8), seed=0, **kwargs)


def test_top_down_log_prob_is_the_sum_of_its_layers_conditionals():
    prior = _prior()
    p = prior.distribution()
    z = np.random.default_rng(0).normal(size=(5, 9)).astype("float32")
    z1, z2, z3 = np.split(z, np.cumsum(DIMS)[:-1], axis=1)
    expected = stats.norm.logpdf(z3).sum(1)
    for l, (below, above) in enumerate(((z1, z2), (z2, z3))):
        loc, scale = (t.numpy() for t in prior.conditional(l, above))
        expected += stats.norm.logpdf(below, loc, scale).sum(1)
    np.testing.assert_allclose(p.log_prob(z), expected, rtol=1e-5)
    # Ancestral samples: z_L from N(0, I), each layer below from its conditional at the one above.
    epsilon = np.random.default_rng(1).normal(size=(5, 9)).astype("float32")
    sample = p.from_noise(epsilon).numpy()
    e1, e2, e3 = np.split(epsilon, np.cumsum(DIMS)[:-1], axis=1)
    s1, s2, s3 = np.split(sample, np.cumsum(DIMS)[:-1], axis=1)
    np.testing.assert_allclose(s3, e3)
    loc, scale = (t.numpy() for t in prior.conditional(1, s3))
    np.testing.assert_allclose(s2, loc + scale * e2, rtol=1e-6)
    loc, scale = (t.numpy() for t in prior.conditional(0, s2))
    np.testing.assert_allclose(s1, loc + scale * e1, rtol=1e-6)
    np.testing.assert_array_equal(prior.sample_for_seeds([3, 4]), prior.sample_for_seeds([3, 4]))


def test_the_ladder_combines_bottom_up_and_top_down_by_precision():
    vae = _ladder_vae()
    x = kvae.testing.data((6,), n=4)
    q = vae.encode(x)
    epsilon = np.random.default_rng(2).normal(size=(4, 9)).astype("float32")
    z, log_q = vae.posterior_layer.sample_given_noise(q, epsilon)
    np.testing.assert_allclose(log_q, q.log_prob(z), rtol=1e-5)  # the density at its own sample
    loc_hat = np.split(q.bottom_up_loc.numpy(), np.cumsum(DIMS)[:-1], axis=1)
    scale_hat = np.split(q.bottom_up_scale.numpy(), np.cumsum(DIMS)[:-1], axis=1)
    layers = np.split(z.numpy(), np.cumsum(DIMS)[:-1], axis=1)
    noise = np.split(epsilon, np.cumsum(DIMS)[:-1], axis=1)
    np.testing.assert_allclose(layers[2], loc_hat[2] + scale_hat[2] * noise[2], rtol=1e-5)  # top: bottom-up alone
    prior_loc, prior_scale = (t.numpy() for t in vae.prior_layer.conditional(1, layers[2]))
    variance = 1 / (scale_hat[1] ** -2 + prior_scale ** -2)
    loc = variance * (loc_hat[1] * scale_hat[1] ** -2 + prior_loc * prior_scale ** -2)
    np.testing.assert_allclose(layers[1], loc + np.sqrt(variance) * noise[1], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("posterior", ["ladder", "normal"])
def test_the_per_layer_kl_at_the_path_is_an_unbiased_estimate_of_the_kl(posterior):
    vae = _ladder_vae(posterior=posterior)
    x = kvae.testing.data((6,), n=3)
    forward = vae.forward(x)
    z, log_q = forward.sample(forward.noise(4000))
    monte_carlo = (log_q - forward.prior.log_prob(z)).numpy()  # [k, batch]
    per_dim = forward.kl(z, log_q).numpy()  # at each of the k paths at once
    assert per_dim.shape == (4000, 3, 9)  # a term per latent dimension
    estimate = per_dim.sum(-1)
    difference = estimate - monte_carlo
    # Both unbiased for the same KL, and the per-layer form has less variance.
    assert np.all(np.abs(difference.mean(0)) < 4 * difference.std(0) / np.sqrt(4000))
    assert np.all(estimate.var(0) < monte_carlo.var(0))
    # The top layer's KL is in closed form, KL(q(z_3|x) || N(0, I)), the same at every sample: checked
    # against float64 to float32's rounding of its O(1) terms, far below the lower layers' spread.
    q = vae.encode(x)
    loc, scale = (q.bottom_up_loc, q.bottom_up_scale) if posterior == "ladder" else (q.mean(), q.stddev())
    loc, scale = (np.asarray(t, np.float64)[:, 7:] for t in (loc, scale))
    closed_form = 0.5 * (loc**2 + scale**2 - 1) - np.log(scale)
    np.testing.assert_allclose(per_dim[:, :, 7:], np.broadcast_to(closed_form, (4000, 3, 2)), rtol=1e-4, atol=1e-4)
    assert per_dim[:, :, 7:].std(0).max() < 1e-2 * per_dim[:, :, :7].std(0).min()


def test_a_ladder_vae_logs_kl_and_active_units_per_layer_and_free_bits_floor_each_dimension():
    vae = _ladder_vae(free_bits=0.25)
    vae.compile(optimizer="adam")
    x = kvae.testing.data((6,), n=32)
    history = vae.fit(x, batch_size=16, epochs=1, verbose=0).history
    assert {"kl_z1", "kl_z2", "kl_z3", "active_units_z1", "active_units_z2", "active_units_z3"} <= set(history)
    assert history["kl"][0] == pytest.approx(sum(history[f"kl_z{l}"][0] for l in (1, 2, 3)), rel=1e-5)
    assert sum(history[f"active_units_z{l}"][0] for l in (1, 2, 3)) == history["active_units"][0]
    forward = vae.forward(x)
    reconstruction, kl_per_dim, _ = forward.elbo_terms(forward.noise())
    loss = vae.objective.loss(reconstruction, kl_per_dim)
    np.testing.assert_allclose(loss, reconstruction + np.maximum(kl_per_dim, 0.25).sum(-1), rtol=1e-6)
    result = kvae.evaluation.evaluate(vae, x, iw_samples=20)
    assert [result[f"latent_dim_z{l}"] for l in (1, 2, 3)] == list(DIMS)
    assert result["test_kl"] == pytest.approx(sum(result[f"test_kl_z{l}"] for l in (1, 2, 3)), rel=1e-5)
    assert result["test_nll"] < result["test_neg_elbo"]


def test_temperature_and_layer_pictures_hold_the_noise_they_say():
    vae = _ladder_vae()
    at_zero = kvae.plotting.hierarchy.temperature_samples(vae, temperatures=(0.0, 1.0), columns=3)
    # Temperature 0: every column decodes the prior's noise-free path, the same picture.
    np.testing.assert_allclose(at_zero[:3], np.broadcast_to(at_zero[:1], (3, 6)), rtol=1e-6)
    assert not np.allclose(at_zero[3], at_zero[4])
    rows = kvae.plotting.hierarchy.layer_variations(vae, columns=4, seed=1).reshape(3, 4, 6)
    assert rows.shape == (3, 4, 6) and all(not np.allclose(row[0], row[1]) for row in rows)


def test_a_ladder_vae_samples_generates_and_serves_every_layer(tmp_path):
    vae = _ladder_vae()
    x = kvae.testing.data((6,), n=5)
    assert vae.sample(4, seed=0).shape == (4, 6)
    examples, z = vae.generate(tf.constant([1, 2], tf.int64))
    assert z.shape == (2, 9)
    np.testing.assert_array_equal(vae.generate(tf.constant([1, 2], tf.int64))[0], examples)
    served = tf.saved_model.load(str(vae.export(str(tmp_path / "served"), verbose=False))).signatures
    encoded = served["encode"](x=tf.constant(x))
    assert sorted(encoded) == ["mean_1", "mean_2", "mean_3", "stddev_1", "stddev_2", "stddev_3"]
    assert [encoded[f"mean_{l}"].shape[-1] for l in (1, 2, 3)] == list(DIMS)
    # The means on the path of zero noise are the posterior's location, z₁'s first.
    np.testing.assert_allclose(np.concatenate([encoded[f"mean_{l}"] for l in (1, 2, 3)], axis=1), vae.embed(x),
                               rtol=1e-5, atol=1e-6)


def test_a_ladder_posterior_without_the_top_down_prior_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"the ladder posterior \(each layer's posterior is made with the top-down "
                                         r"prior's conditional\) needs a top-down hierarchical prior \(\"top_down\"\), "
                                         r"received the StandardNormal prior"):
        kvae.build_vae((6,), latent_dim=4, hidden_units=8, posterior="ladder")


@pytest.mark.parametrize("kwargs, message", [
    ({"latent_dim": (4,)}, r"`latent_dim` must be an int or at least two layers' sizes, received: \(4,\)"),
    ({"latent_dim": (4, 0)}, r"`latent_dim` must be"),
    ({"latent_dim": (4, 2), "hidden_units": (8, 8, 8)},
     r"`hidden_units` must give one width per latent layer \(2\) or one for all, received: \(8, 8, 8\)"),
    ({"latent_dim": 5, "prior": kvae.priors.TopDown((4, 2))},
     r"`latent_dims` \(4, 2\) must sum to the model's latent_dim=5, received a sum of 6"),
])
def test_bad_hierarchies_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError, match=message):
        kvae.build_vae((6,), **{"hidden_units": 8, **kwargs})


@pytest.mark.slow
def test_kvae_train_builds_a_ladder_vae_from_several_latent_sizes(tmp_path, capsys):
    import json

    from kvae_cli import main

    out = tmp_path / "run"
    assert main(["train", "--latent-dim", "6", "3", "--hidden", "32", "16", "--epochs", "2", "--out", str(out),
                 "--verbose", "0"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["latent_dim"] == [6, 3] and (config["prior"], config["posterior"]) == ("top_down", "ladder")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["parts"]["prior"]["latent_dims"] == [6, 3] and metrics["parts"]["posterior"]["class"] == "Ladder"
    assert metrics["test_kl"] == pytest.approx(metrics["test_kl_z1"] + metrics["test_kl_z2"], rel=1e-4)
    assert 0 <= metrics["test_active_units_z2"] <= 3
    report = (out / "report.md").read_text()
    assert "latent layers 6-3 (z1 first)" in report
    assert "](temperatures.png)" in report and "one row per layer (z2, z1)" in report
    # 3 temperatures and 2 layers, rows of 8 digits of 8×8 pixels (1-pixel gaps).
    assert Image.open(out / "temperatures.png").size == (8 * 9 + 1, 3 * 9 + 1)
    assert Image.open(out / "layers.png").size == (8 * 9 + 1, 2 * 9 + 1)
    for argv, message in ((["--prior", "mixture"], "a hierarchical VAE (--latent-dim 6 3) has the top-down prior, "
                                                   "received: --prior mixture"),
                          (["--latent-dim", "4", "--posterior", "ladder"],
                           "--posterior ladder needs several --latent-dim sizes")):
        base = ["train", "--latent-dim", "6", "3", "--out", str(tmp_path / "refused")]
        assert main(base + argv) == 2
        assert message in capsys.readouterr().err
        assert not (tmp_path / "refused").exists()


@pytest.mark.slow
def test_a_residual_conv_ladder_vae_passes_the_model_harness(tmp_path):
    # Latent maps at 3×3×2 and 2×2×3 of 5×5 images (odd sizes: the up-sampling crops); trains under XLA, saves
    # (the prior's own conv networks in its config), serves, and trains in bfloat16.
    x = kvae.testing.data((5, 5, 1), n=8)

    def build(dtype=None):
        return kvae.build_vae((5, 5, 1), latent_dim=(2, 3), architecture="conv", filters=(4, 8), seed=0,
                              likelihood="discretized_logistic", dtype=dtype)

    model = build()
    assert model.latent_layers == (18, 12) and model.latent_dim == 30
    assert type(model.prior_layer.networks[0].get_layer("up")).__name__ == "Conv2DTranspose"
    kvae.testing.run_model_test(build, x, checks=("jit", "saving", "export", "mixed_precision"),
                                folder=str(tmp_path))


@pytest.mark.parametrize("posterior", ["iaf", "full"])
def test_a_top_down_prior_takes_any_posterior_with_an_encoder_for_its_parameters(posterior):
    vae = kvae.build_vae((6,), latent_dim=(3, 2), hidden_units=8, posterior=posterior, seed=0)
    assert type(vae.prior_layer).__name__ == "TopDown" and vae.layer_logs == [f"active_units_z{l}" for l in (1, 2)]
    forward = vae.forward(kvae.testing.data((6,), n=4))
    reconstruction, kl, _ = forward.elbo_terms(forward.noise())
    assert kl.shape == (4, 1) and np.all(np.isfinite(reconstruction))  # log q − log p at the sample: no per-layer KL
    # The conv hierarchy's encoder gives maps of (location, scale): posteriors needing more are refused.
    needs_more = kvae.posteriors.IAF(context_units=4) if posterior == "iaf" else posterior
    with pytest.raises(ValueError, match=r"a conv hierarchy's encoder emits a location and a scale per latent "
                                         r"dimension, so it takes the \"ladder\" or \"normal\" posterior "
                                         r"\(or an IAF with context_units=0\), received the (IAF|FullNormal) "
                                         r"posterior, whose parameters are \((10, 10, 4|10, 55)\)"):
        kvae.build_vae((4, 4, 1), latent_dim=(2, 2), architecture="conv", filters=(4, 4), posterior=needs_more)


def test_a_conv_hierarchy_takes_an_iaf_without_context_over_its_flattened_latents():
    vae = kvae.build_vae((4, 4, 1), latent_dim=(2, 2), architecture="conv", filters=(4, 4), posterior="iaf", seed=0)
    x = kvae.testing.data((4, 4, 1), n=16)
    vae.compile(jit_compile=True)
    history = vae.fit(x, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and vae.parts["posterior"].steps[0].dim == vae.latent_dim
    assert np.all(np.isfinite(vae.log_likelihood(x, num_samples=4)))
