"""`VAE` inside ordinary Keras workflows: fit variants, callbacks, saving."""

import csv
import glob

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data

METRICS = ["active_units", "elbo", "kl", "loss", "reconstruction"]


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
    assert {k: v for k, v in restored_config.items() if k not in networks} == {
        k: v for k, v in config.items() if k not in networks
    } | {"beta": 0.75}
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


def test_auto_steps_per_execution_runs_32_steps_per_call_with_the_same_maths():
    x = uniform_data(64)
    weights = []
    for steps_per_execution in ("auto", 1):
        keras.utils.set_random_seed(0)
        model = kvae.build_vae((4, 4, 1), 3, hidden_units=(8,), seed=1)
        if steps_per_execution == "auto":
            model.compile(optimizer=keras.optimizers.Adam(1e-3))  # the default
        else:
            model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=1)
        model.fit(tf.data.Dataset.from_tensor_slices(x).batch(2), epochs=2, verbose=0)  # 32 steps per epoch
        assert model.steps_per_execution == (32 if steps_per_execution == "auto" else 1)
        assert int(model.optimizer.iterations.numpy()) == 64
        weights.append(model.get_weights())
    for auto, one in zip(*weights):
        np.testing.assert_allclose(auto, one, rtol=1e-5, atol=1e-6)


def test_auto_steps_per_execution_never_crosses_an_epoch_of_an_endless_stream():
    # Keras runs whole calls: 32 steps per call on a 40-step epoch would make it 64 steps long.
    model = tiny_vae()
    endless = tf.data.Dataset.from_tensor_slices(uniform_data(40)).batch(1).repeat()
    model.fit(endless, steps_per_epoch=40, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 80 and model.steps_per_execution == 20
    model.evaluate(endless, steps=3, verbose=0)
    assert model.steps_per_execution == 3  # evaluate(steps=3): 3 batches, not 32
    model.fit(uniform_data(8), batch_size=4, epochs=1, verbose=0)
    assert model.steps_per_execution == 32 and int(model.optimizer.iterations.numpy()) == 82


def test_auto_steps_per_execution_is_one_when_a_callback_needs_every_batch():
    model, x = tiny_vae(), uniform_data(16)
    seen = []
    every_batch = keras.callbacks.LambdaCallback(on_train_batch_begin=lambda batch, logs: seen.append(batch))
    model.fit(x, batch_size=4, epochs=2, verbose=0, callbacks=[every_batch])
    assert seen == [0, 1, 2, 3] * 2 and model.steps_per_execution == 1
    per_batch = kvae.callbacks.VariableSchedule(lambda t: min(1.0, t / 8))  # a Python function, per step
    model.fit(x, batch_size=4, epochs=1, verbose=0, callbacks=[per_batch])
    assert model.steps_per_execution == 1
    keras_own = [keras.callbacks.TerminateOnNaN(), kvae.callbacks.KLWarmup(2, unit="epoch"),
                 kvae.callbacks.KLWarmup(8),  # per step, but evaluated inside the step
                 keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: None)]
    model.fit(x, batch_size=4, epochs=1, verbose=0, callbacks=keras_own)
    assert model.steps_per_execution == 32


def test_auto_steps_per_execution_is_one_eagerly_under_a_strategy_and_after_loading(tmp_path):
    model = tiny_vae()
    assert model.steps_per_execution == 32
    model.compile(optimizer="adam", run_eagerly=True)
    assert model.steps_per_execution == 1
    model.compile(optimizer="adam", steps_per_execution=4)  # explicit values are Keras'
    model.fit(uniform_data(8), batch_size=2, steps_per_epoch=3, epochs=1, verbose=0)
    assert model.steps_per_execution == 4
    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = tiny_vae()
    assert model.steps_per_execution == 1
    model = tiny_vae()
    model.fit(uniform_data(8), batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.steps_per_execution == 32 and loaded.get_compile_config()["steps_per_execution"] == "auto"
    assert int(loaded.optimizer.iterations.numpy()) == 2
