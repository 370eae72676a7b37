"""Keras dtype policies end to end: networks in bfloat16/float16, distributions and metrics in float32."""

import contextlib
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data

SHAPE = (4, 4, 1)


@pytest.fixture
def policy(request):
    """Sets Keras' global dtype policy for one test ("dtype=" cases leave it at float32)."""
    name, via = request.param
    keras.config.set_dtype_policy(name if via == "global" else "float32")
    yield name, via
    keras.config.set_dtype_policy("float32")


def _build(name, via, **kwargs):
    keras.utils.set_random_seed(0)
    return tiny_vae(SHAPE, latent_dim=3, **({"dtype": name} if via == "dtype=" else {}), **kwargs)


CASES = [("mixed_bfloat16", "global"), ("mixed_float16", "global"), ("mixed_bfloat16", "dtype=")]


@pytest.mark.slow
@pytest.mark.parametrize("policy", CASES, indirect=True, ids=[f"{n}-{v}" for n, v in CASES])
def test_networks_compute_low_precision_while_distributions_and_metrics_stay_float32(policy, tmp_path):
    name, via = policy
    low = {"mixed_bfloat16": "bfloat16", "mixed_float16": "float16"}[name]
    model = _build(name, via)
    dense = model.encoder.get_layer("hidden_0")
    assert (dense.compute_dtype, dense.kernel.dtype) == (low, "float32")
    assert model.decoder.get_layer("likelihood_params").compute_dtype == low
    # Keras' loss scaling for float16 (compile wraps the optimizer), none for bfloat16.
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer) == (low == "float16")

    x = uniform_data(16, SHAPE)
    posterior = model.encode(x).distribution
    assert posterior.loc.dtype == posterior.scale.dtype == tf.float32
    assert model.decoder_params(posterior.loc).dtype == tf.float32
    assert model.prior.dtype == tf.float32 and model.sample(2, seed=0).dtype == tf.float32
    history = model.fit(x, batch_size=4, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    logs = model.evaluate(x, batch_size=8, return_dict=True, verbose=0)
    log_px = model.log_likelihood(x, num_samples=8)
    assert log_px.dtype == np.float32 and np.isfinite(log_px).all()
    assert logs["elbo"] == pytest.approx(float(np.mean(model.log_likelihood(x, num_samples=1))), abs=3.0)

    # .keras round trip, loaded where the global policy is float32: the layers keep theirs.
    model.save(tmp_path / "m.keras")
    keras.config.set_dtype_policy("float32")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.encoder.get_layer("hidden_0").compute_dtype == low
    np.testing.assert_allclose(loaded.reconstruct(x), model.reconstruct(x), rtol=1e-6)

    # The SavedModel takes and returns float32 and computes what the model does.
    path = kvae.export.export_saved_model(model, tmp_path / "served", score_samples=4)
    served = tf.saved_model.load(str(path)).signatures
    assert served["encode"].structured_input_signature[1]["x"].dtype == tf.float32
    encoded = served["encode"](x=tf.constant(x))
    decoded = served["decode"](z=tf.constant(posterior.loc))
    assert {v.dtype for v in list(encoded.values()) + list(decoded.values())} == {tf.float32}
    # Graph and eager kernels may round differently: one ulp of the network's dtype.
    tol = {"bfloat16": 2.0**-7, "float16": 2.0**-10}[low] * 2
    after = model.encode(x).distribution
    np.testing.assert_allclose(encoded["mean"], after.loc, rtol=tol, atol=tol)
    np.testing.assert_allclose(decoded["logits"], model.decoder_params(posterior.loc), rtol=tol, atol=tol)


@pytest.mark.parametrize("policy", [("mixed_bfloat16", "global")], indirect=True, ids=["mixed_bfloat16"])
@pytest.mark.parametrize("prior, posterior, num_classes",
                         [("mixture", "normal", None), ("vamp", "full", None), ("mixture", "iaf", 3)])
@pytest.mark.slow
def test_the_family_stays_float32_under_mixed_precision(policy, prior, posterior, num_classes):
    model = _build(*policy, prior=kvae.priors.get(prior, num_components=3, seed=0), posterior=posterior,
                   objective=kvae.objectives.IWAE(3, gradient="reparam" if posterior == "iaf" else "dreg"),
                   num_classes=num_classes)
    assert all(w.dtype == "float32" for w in model.posterior_layer.weights)
    assert model.prior.dtype == tf.float32 and model.prior_layer.variable_dtype == "float32"
    x = uniform_data(16, SHAPE)
    y = None if num_classes is None else np.arange(16) % num_classes
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0).history
    assert all(np.isfinite(v).all() for v in history.values())
    log_px = model.log_likelihood(x, num_samples=8, condition=y)
    assert log_px.dtype == np.float32 and np.isfinite(log_px).all()
    labels = None if num_classes is None else [0, 2]
    assert model.generate(tf.constant([1, 2], tf.int64), condition=labels)[1].dtype == tf.float32


@pytest.mark.e2e
def test_bfloat16_training_reaches_the_float32_elbo_on_the_same_seeds(digits):
    """Stated margin: after 6 epochs on the digits the test −ELBOs differ by less than 0.5 nats (~2%)."""

    def train(dtype):
        keras.utils.set_random_seed(0)
        model = kvae.build_vae(digits.event_shape, 8, hidden_units=(128,), seed=0, dtype=dtype)
        model.compile(optimizer=keras.optimizers.Adam(2e-3))
        assert model.jit_compile is (dtype == "mixed_bfloat16")  # kvae's "auto": XLA for bfloat16 on CPU
        model.fit(digits.x_train, batch_size=64, epochs=6, verbose=0)
        return -model.evaluate(digits.x_test, batch_size=360, return_dict=True, verbose=0)["elbo"]

    float32, bfloat16 = train("float32"), train("mixed_bfloat16")
    assert 20 < float32 < 40  # nats per 8×8 digit after 6 epochs
    assert abs(bfloat16 - float32) < 0.5, (float32, bfloat16)


@pytest.mark.slow
def test_float16_stays_finite_where_float16_sums_would_overflow():
    """Squared errors of data around ±300 exceed float16's 65504: only the float32 boundary keeps them finite."""
    x = (np.random.default_rng(0).normal(size=(32,) + SHAPE) * 300).astype("float32")
    assert not np.isfinite(np.sum(np.square(x.astype(np.float16)), axis=(1, 2, 3))).all()  # the premise

    def train(dtype):
        keras.utils.set_random_seed(0)
        model = tiny_vae(SHAPE, latent_dim=3, likelihood="gaussian_fixed", dtype=dtype)
        return model, model.fit(x, batch_size=8, epochs=3, verbose=0, shuffle=False).history

    _, float32 = train("float32")
    model, float16 = train("mixed_float16")
    for name in ("loss", "reconstruction", "kl", "elbo"):
        assert np.isfinite(float32[name]).all() and np.isfinite(float16[name]).all(), name
    # The same losses up to the steps that loss scaling skipped while it lowered its scale.
    np.testing.assert_allclose(float16["reconstruction"], float32["reconstruction"], rtol=2e-2)
    # Keras' dynamic loss scaling met the overflowing float16 gradients and lowered its scale.
    assert float(model.optimizer.dynamic_scale.numpy()) < 2.0**15
    assert np.isfinite(model.log_likelihood(x, num_samples=4)).all()


def test_auto_jit_compile_is_xla_for_bfloat16_on_cpu_only_where_keras_would_allow_it():
    """kvae's `jit_compile="auto"`: XLA for bfloat16 compute on CPU (it fuses the casts), else Keras' choice."""

    def jit(dtype="mixed_bfloat16", strategy=None, **compile_kwargs):
        with strategy.scope() if strategy else contextlib.nullcontext():
            model = tiny_vae(SHAPE, latent_dim=3, dtype=dtype)
            model.compile(**compile_kwargs)
        return model.jit_compile

    assert jit() is True
    assert jit("float32") is False  # Keras' "auto": no GPU, no XLA
    assert jit(jit_compile=False) is False  # the user's choice stands
    assert jit(run_eagerly=True) is False
    assert jit(strategy=tf.distribute.OneDeviceStrategy("/cpu:0")) is False
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():  # built under a strategy, compiled outside it
        model = tiny_vae(SHAPE, latent_dim=3, dtype="mixed_bfloat16")
    model.compile()
    assert model.jit_compile is False
    model = tiny_vae(SHAPE, latent_dim=3, dtype="mixed_bfloat16")
    assert model.jit_compile is True and model.get_compile_config()["jit_compile"] is True  # as Keras records "auto"
    model.parts["prior"].supports_jit = False  # a part that cannot run under XLA: left off, without Keras' warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.compile()
    assert model.jit_compile is False
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = tiny_vae(SHAPE, latent_dim=3)  # the global policy counts too
        model.compile()
        assert model.jit_compile is True
    finally:
        keras.config.set_dtype_policy("float32")
