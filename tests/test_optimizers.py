import contextlib

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import run_serialization_test, tiny_vae, uniform_data


def _train(optimizer, steps=4):
    model = tiny_vae(seed=3)
    keras.utils.set_random_seed(0)
    model.set_weights([np.random.default_rng(i).normal(size=w.shape).astype("float32") * 0.3
                       for i, w in enumerate(model.get_weights())])
    model.compile(optimizer=optimizer)
    model.fit(uniform_data(16), batch_size=4, epochs=1, steps_per_epoch=steps, verbose=0, shuffle=False)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("kwargs", [{}, {"learning_rate": 3e-3, "beta_1": 0.8, "epsilon": 1e-4}, {"clipnorm": 0.5}])
def test_fused_adam_takes_the_same_steps_as_keras_adam(kwargs):
    fused = _train(kvae.optimizers.Adam(**kwargs))
    plain = _train(keras.optimizers.Adam(**kwargs))
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(fused.optimizer.variables, plain.optimizer.variables):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert fused.optimizer.iterations.numpy() == 4


def test_fused_adam_runs_the_fused_kernel_and_round_trips_its_config():
    optimizer = kvae.optimizers.Adam(2e-3)
    variable = keras.Variable(np.ones(3, "float32"))
    optimizer.build([variable])

    @tf.function
    def step():
        optimizer.apply_gradients([(tf.constant([1.0, -1.0, 0.0]), variable)])

    ops = {op.type for op in step.get_concrete_function().graph.get_operations()}
    ops |= {op.type for f in step.get_concrete_function().graph._functions.values() for op in f.graph.get_operations()}
    assert "ResourceApplyAdam" in ops
    step()
    np.testing.assert_allclose(variable.numpy(), [1 - 2e-3, 1 + 2e-3, 1.0], rtol=1e-5)
    assert float(run_serialization_test(optimizer).learning_rate) == pytest.approx(2e-3)


@pytest.mark.parametrize("optimizer", [None, "adam", "Adam"])
def test_compile_defaults_to_the_fused_adam(optimizer):
    model = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=8)
    model.compile() if optimizer is None else model.compile(optimizer=optimizer)
    assert type(model.optimizer) is kvae.optimizers.Adam
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)  # Keras' Adam default


def test_an_explicit_keras_optimizer_stays_the_users():
    model = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=8)
    given = keras.optimizers.Adam(2e-3)
    model.compile(optimizer=given)
    assert model.optimizer is given
    model.compile(optimizer="rmsprop")
    assert type(model.optimizer) is keras.optimizers.RMSprop


def _train_under(strategy, optimizer):
    with strategy.scope() if strategy else contextlib.nullcontext():
        keras.utils.set_random_seed(0)
        model = kvae.build_vae((4, 4, 1), latent_dim=2, hidden_units=8)
        model.compile(optimizer=optimizer(1e-2))  # made in the scope, as Keras requires
    model.fit(uniform_data(32), batch_size=8, epochs=2, verbose=0, shuffle=False)
    return model


def test_fused_adam_under_two_replicas_takes_one_processs_steps():
    # One process and two replicas must run the same arithmetic, or a multi-worker run ends away from
    # the same run in one process (the 1e-6 that made the fused Adam opt-in: the kernel ran outside
    # strategies only).
    cpus = [c.name for c in tf.config.list_logical_devices("CPU")[:2]]
    mirrored = tf.distribute.MirroredStrategy(cpus)
    one = _train_under(None, kvae.optimizers.Adam)
    two = _train_under(mirrored, kvae.optimizers.Adam)
    keras_two = _train_under(mirrored, keras.optimizers.Adam)
    assert two.optimizer.iterations.numpy() == one.optimizer.iterations.numpy() == 8
    gap_fused = max(np.abs(a - b).max() for a, b in zip(one.get_weights(), two.get_weights()))
    gap_keras = max(np.abs(a - b).max() for a, b in zip(one.get_weights(), keras_two.get_weights()))
    assert gap_fused < 1e-7, gap_fused  # two replicas sum the gradient in another order: rounding only
    assert gap_keras > gap_fused, (gap_keras, gap_fused)  # so the kernel did run under the strategy
