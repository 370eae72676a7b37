"""`VAE` inside ordinary Keras workflows: fit variants, callbacks, saving."""

import csv
import glob
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data

METRICS = ["active_units", "elbo", "kl", "loss", "reconstruction"]


@pytest.mark.slow
def test_fit_on_tf_data_and_on_numpy_log_the_same_metrics():
    x = uniform_data(32)
    for data, kwargs in (
        (tf.data.Dataset.from_tensor_slices(x).batch(8), {}),
        (x, {"batch_size": 8}),
        (tf.data.Dataset.from_tensor_slices((x, x)).batch(8), {}),  # (x, y): y ignored
    ):
        history = tiny_vae().fit(data, epochs=2, verbose=0, **kwargs)
        assert sorted(history.history) == METRICS
        assert all(len(v) == 2 and np.all(np.isfinite(v)) for v in history.history.values())


def test_validation_data_adds_val_metrics():
    x, v = uniform_data(32), uniform_data(8, seed=1)
    history = tiny_vae().fit(x, batch_size=8, validation_data=(v,), epochs=1, verbose=0)
    assert sorted(history.history) == sorted(METRICS + ["val_" + m for m in METRICS])


def test_evaluate_return_dict_and_predict():
    model = tiny_vae()
    x = uniform_data(10)
    logs = model.evaluate(x, batch_size=4, return_dict=True, verbose=0)
    assert sorted(logs) == METRICS
    assert logs["kl"] > 0 and logs["reconstruction"] > 0
    prediction = model.predict(x, batch_size=4, verbose=0)
    assert prediction.shape == x.shape and prediction.min() >= 0 and prediction.max() <= 1


@pytest.mark.slow
def test_standard_callbacks_work_unchanged(tmp_path):
    x, v = uniform_data(32), uniform_data(8, seed=1)
    model = tiny_vae()
    checkpoint = str(tmp_path / "best.keras")
    callbacks = [
        keras.callbacks.ModelCheckpoint(checkpoint, monitor="val_loss", save_best_only=True),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.TerminateOnNaN(),
        # min_delta larger than any change: "no improvement" on every epoch.
        keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=0, min_delta=1e9),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=1e9),
    ]
    history = model.fit(x, batch_size=8, validation_data=(v,), epochs=10, callbacks=callbacks, verbose=0)
    # EarlyStopping on val_loss: epoch 1 sets the reference, epochs 2 and 3 fail to improve.
    assert len(history.history["loss"]) == 2
    # ReduceLROnPlateau: epoch 2 did not improve on epoch 1 → one halving.
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(1e-3 / 2)
    with open(tmp_path / "log.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"epoch", "loss", "kl", "reconstruction", "val_elbo"} <= set(rows[0])
    restored = keras.saving.load_model(checkpoint)
    assert isinstance(restored, kvae.VAE)
    assert glob.glob(str(tmp_path / "tb" / "train" / "events.out.tfevents.*"))
    assert glob.glob(str(tmp_path / "tb" / "validation" / "events.out.tfevents.*"))


def test_terminate_on_nan_stops_a_diverged_model():
    model = tiny_vae()
    kernel = model.decoder.get_layer("likelihood_params").kernel
    kernel.assign(np.full(kernel.shape, np.nan, "float32"))
    history = model.fit(uniform_data(32), batch_size=8, epochs=5, verbose=0,
                        callbacks=[keras.callbacks.TerminateOnNaN()])
    assert model.stop_training
    assert len(history.history["loss"]) == 1 and np.isnan(history.history["loss"][0])


def _train(model, x, epochs, initial_epoch=0):
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8)
    return model.fit(ds, epochs=epochs, initial_epoch=initial_epoch, verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_keras_file_round_trip_restores_weights_config_and_optimizer(tmp_path, likelihood):
    x = uniform_data(32)
    extra = {"likelihood": kvae.likelihoods.GaussianFixed(0.5, learn_scale=True)} if likelihood == "gaussian_fixed" else {"likelihood": likelihood}
    model = tiny_vae(beta=0.5, **extra)
    _train(model, x, epochs=2)
    model.beta.assign(0.75)
    path = str(tmp_path / "vae.keras")
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    config, restored_config = model.get_config(), restored.get_config()
    networks = ("encoder", "decoder")
    expected = {k: v for k, v in config.items() if k not in networks}
    expected["objective"]["config"]["beta"] = 0.75  # saved with its value at save time
    as_json = lambda c: json.loads(json.dumps(c))  # noqa: E731  (tuples come back as lists)
    assert as_json({k: v for k, v in restored_config.items() if k not in networks}) == as_json(expected)
    for net in networks:  # same layers; auto-generated names may differ in one process
        classes = [l["class_name"] for l in config[net]["config"]["layers"]]
        assert [l["class_name"] for l in restored_config[net]["config"]["layers"]] == classes
    for a, b in zip(model.weights, restored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert int(restored.optimizer.iterations.numpy()) == 8
    for a, b in zip(model.optimizer.variables, restored.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert float(restored.beta.numpy()) == 0.75
    np.testing.assert_allclose(restored.reconstruct(x), model.reconstruct(x), rtol=1e-6)


@pytest.mark.slow
def test_training_resumes_where_it_was_after_save_and_load(tmp_path):
    x = uniform_data(32)
    keras.utils.set_random_seed(0)
    continuous = tiny_vae()
    keras.utils.set_random_seed(0)
    interrupted = tiny_vae()
    _train(continuous, x, epochs=4)
    _train(interrupted, x, epochs=2)
    path = str(tmp_path / "vae.keras")
    interrupted.save(path)
    resumed = keras.saving.load_model(path)
    history = _train(resumed, x, epochs=4, initial_epoch=2)
    assert len(history.history["loss"]) == 2
    assert int(resumed.optimizer.iterations.numpy()) == 16
    # Same weights, Adam moments and noise-seed state → the same trajectory.
    for a, b in zip(continuous.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


@pytest.mark.e2e
def test_negative_elbo_on_digits_falls_within_a_few_epochs(digits):
    keras.utils.set_random_seed(0)
    model = kvae.build_vae(digits.event_shape, 8, hidden_units=(128,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    test = kvae.data.make_dataset(digits.x_test, 128)
    before = -model.evaluate(test, return_dict=True, verbose=0)["elbo"]
    model.fit(kvae.data.make_dataset(digits.x_train, 64, shuffle=True, seed=0), epochs=5, verbose=0)
    after = -model.evaluate(test, return_dict=True, verbose=0)["elbo"]
    # Untrained: ≈ 64·log 2 + KL ≈ 45 nats; 5 epochs (115 steps) reach below 33.
    assert before > 40
    assert after < before - 12, (before, after)
