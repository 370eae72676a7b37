"""kvae.execution: steps_per_execution="auto" (many steps per call, never changing what runs)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data


@pytest.mark.slow
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


@pytest.mark.slow
def test_auto_steps_per_execution_never_crosses_an_epoch_of_an_endless_stream():
    # Keras runs whole calls: 32 steps per call on a 40-step epoch would make it 64 steps long;
    # kvae's calls are 32 steps and then 8 (see the next test).
    model = tiny_vae()
    endless = tf.data.Dataset.from_tensor_slices(uniform_data(40)).batch(1).repeat()
    model.fit(endless, steps_per_epoch=40, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 80 and model.steps_per_execution == 32
    model.evaluate(endless, steps=3, verbose=0)
    assert model.steps_per_execution == 3  # evaluate(steps=3): 3 batches, not 32
    model.fit(uniform_data(8), batch_size=4, epochs=1, verbose=0)
    assert model.steps_per_execution == 32 and int(model.optimizer.iterations.numpy()) == 82


@pytest.mark.slow
def test_an_epoch_no_count_divides_runs_whole_calls_then_its_remainder_as_one_call_of_the_same_trace():
    # 37 steps (a prime): "auto" and an explicit 32 take 1 call of 32 and 1 of 5, through one traced
    # function (the count is its argument). Each epoch is exactly its own 37 batches, and the weights
    # are those of 1 step per call.
    x = uniform_data(37 * 2)
    ends, runs = [], {}
    for count in ("auto", 32, 1):
        keras.utils.set_random_seed(0)
        model = kvae.build_vae((4, 4, 1), 3, hidden_units=(8,), seed=1)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=count)
        traces, step = [], model.train_step
        model.train_step = lambda data, step=step: traces.append(1) or step(data)
        record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: ends.append(
            (count, int(model.optimizer.iterations.numpy()))))
        stream = kvae.data.make_dataset(x, 2, shuffle=True, seed=0, start_epoch=0)
        history = model.fit(stream, steps_per_epoch=37, epochs=2, verbose=0, callbacks=[record])
        runs[count] = (model.steps_per_execution, model.get_weights(), history.history["loss"])
        assert len(traces) == 1, (count, len(traces))  # the remainder call reuses the trace
    assert [runs[count][0] for count in ("auto", 32, 1)] == [32, 32, 1]
    assert ends == [(count, steps) for count in ("auto", 32, 1) for steps in (37, 74)]
    for count in ("auto", 32):
        for many, one in zip(runs[count][1], runs[1][1]):
            np.testing.assert_allclose(many, one, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(runs[count][2], runs[1][2], rtol=1e-5)
    # Resumed at epoch 1 on the stream's epoch 1: the same weights as the two epochs in one fit.
    keras.utils.set_random_seed(0)
    model = kvae.build_vae((4, 4, 1), 3, hidden_units=(8,), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=32)
    model.fit(kvae.data.make_dataset(x, 2, shuffle=True, seed=0, start_epoch=0), steps_per_epoch=37, epochs=1,
              verbose=0)
    model.fit(kvae.data.make_dataset(x, 2, shuffle=True, seed=0, start_epoch=1), steps_per_epoch=37, epochs=2,
              initial_epoch=1, verbose=0)
    for resumed, whole in zip(model.get_weights(), runs[32][1]):
        np.testing.assert_allclose(resumed, whole, rtol=1e-5, atol=1e-6)
    # Another epoch length in a later fit: the calls follow it (23 < 32: its 23 steps in one call).
    model.fit(kvae.data.make_dataset(x, 2, shuffle=True, seed=0, start_epoch=2), steps_per_epoch=23, epochs=3,
              initial_epoch=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 74 + 23


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_a_first_fit_traces_its_step_once(jit_compile):
    # Keras builds the optimizer inside the first traced step unless a strategy is set, and
    # tf.function then traces a function that created variables a second time.
    model = tiny_vae()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    traces = []
    step = model.train_step
    model.train_step = lambda data: traces.append(1) or step(data)
    model.fit(uniform_data(32), batch_size=8, epochs=2, verbose=0)
    assert len(traces) == 1
    assert model.optimizer.iterations.numpy() == 8


def test_nothing_kvae_runs_is_rewritten_by_autograph(autograph_conversions, tmp_path):
    # Keras traces its steps without AutoGraph; so does kvae (its code branches on Python values only),
    # which saved seconds of AutoGraph's rewriting at a first fit, evaluate and export.
    model = kvae.build_vae((4, 4, 1), 3, hidden_units=(8,), seed=1, prior="vamp", objective="iwae")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=4)
    x = uniform_data(40)
    model.fit(x, batch_size=4, epochs=1, verbose=0, shuffle=True)  # 10 steps: calls of 4, 4 and 2
    model.evaluate(x, batch_size=4, verbose=0)
    kvae.evaluation.evaluate(model, x, iw_samples=4)
    model.export(str(tmp_path / "served"), verbose=False)
    assert [name for name in autograph_conversions if name.startswith("kvae")] == []
