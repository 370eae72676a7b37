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
