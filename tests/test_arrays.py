"""NumPy input to fit/evaluate/predict: the fast pipeline keeps Keras' documented meaning of every argument."""

import keras
import numpy as np
import pytest

import kvae
from conftest import tiny_vae, uniform_data
from kvae.data import arrays


def _train(x, monkeypatch=None, keras_path=False, **fit_kwargs):
    if keras_path:  # Keras' own array adapter, for reference
        monkeypatch.setattr(arrays, "fit_arguments", lambda arguments: None)
    keras.utils.set_random_seed(0)
    model = tiny_vae()
    history = model.fit(x, verbose=0, **fit_kwargs).history
    if keras_path:
        monkeypatch.undo()
    return model, history


@pytest.mark.parametrize("fit_kwargs", [
    dict(batch_size=5, epochs=2, shuffle=False, validation_split=0.25),
    dict(batch_size=4, epochs=4, shuffle=False, steps_per_epoch=3, initial_epoch=1),
    dict(batch_size=3, epochs=2, shuffle=False, validation_batch_size=7, validation_freq=2),
], ids=["validation_split", "steps_per_epoch+initial_epoch", "validation_batch_size+freq"])
@pytest.mark.slow
def test_fit_on_arrays_takes_the_same_steps_as_keras_own_adapter(fit_kwargs, monkeypatch):
    """Same batches in the same order (and the same validation rows) as Keras: same weights and logs."""
    x = uniform_data(20)
    if "validation_split" not in fit_kwargs:
        fit_kwargs = dict(fit_kwargs, validation_data=(uniform_data(6, seed=1),))
    fast, fast_history = _train(x, **fit_kwargs)
    slow, slow_history = _train(x, monkeypatch, keras_path=True, **fit_kwargs)
    assert fast_history.keys() == slow_history.keys()
    for name in fast_history:
        np.testing.assert_allclose(fast_history[name], slow_history[name], rtol=1e-5, err_msg=name)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_each_pass_is_a_new_permutation_and_batch_shuffle_stays_within_batches():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    ds = kvae.data.array_dataset(x, batch_size=4, shuffle=True, seed=3)
    passes = [np.concatenate([b.numpy()[:, 0] for b in ds]) for _ in range(2)]
    assert sorted(passes[0]) == sorted(passes[1]) == list(range(10)) and list(passes[0]) != list(passes[1])
    # Any true value shuffles, as in Keras (a NumPy bool from a config, say), not only `True`.
    truthy = np.concatenate([b.numpy()[:, 0] for b in kvae.data.make_dataset(x, 4, shuffle=np.True_, seed=3)])
    assert sorted(truthy) == list(range(10)) and list(truthy) != list(range(10))
    within = [sorted(b.numpy()[:, 0]) for b in kvae.data.array_dataset(x, batch_size=4, shuffle="batch", seed=3)]
    assert within == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    np.random.seed(0)  # what keras.utils.set_random_seed seeds: an unseeded order is reproducible
    first = [b.numpy()[:, 0].tolist() for b in kvae.data.array_dataset(x, batch_size=4, shuffle=True)]
    np.random.seed(0)
    assert first == [b.numpy()[:, 0].tolist() for b in kvae.data.array_dataset(x, batch_size=4, shuffle=True)]


@pytest.mark.slow
def test_sample_weight_weights_the_loss_and_metrics_without_targets():
    """Keras' adapter drops sample_weight when y is None; kvae's weights each example's loss."""
    x = uniform_data(16)
    keras.utils.set_random_seed(0)
    model = tiny_vae()
    before = model.get_weights()
    model.fit(x, sample_weight=np.zeros(16), batch_size=8, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):  # every example weighted 0: no gradient at all
        np.testing.assert_array_equal(a, b)
    weights = np.r_[np.ones(8), np.zeros(8)]
    weighted = model.evaluate(x, sample_weight=weights, batch_size=16, return_dict=True, verbose=0)
    per_example = -model.log_likelihood(x, num_samples=1, seed=0)
    assert weighted["elbo"] != pytest.approx(-per_example.mean(), abs=1e-3)
    with pytest.raises(ValueError, match=r"`sample_weight` must have shape \(16,\), one weight per example, "
                                         r"received shape \(3,\)"):
        model.fit(x, sample_weight=np.ones(3), verbose=0)


def test_evaluate_and_predict_on_arrays():
    x = uniform_data(10)
    model = tiny_vae()
    np.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), model.reconstruct(x), rtol=1e-6)
    logs = model.evaluate(x, batch_size=3, return_dict=True, verbose=0)
    assert set(logs) == {"loss", "reconstruction", "kl", "elbo", "active_units"} and np.isfinite(logs["loss"])


def test_a_split_that_leaves_nothing_is_a_clear_error():
    with pytest.raises(ValueError, match=r"`validation_split` must leave examples on both sides of the split "
                                         r"of 4 examples, received: 0.8"):
        tiny_vae().fit(uniform_data(4), validation_split=0.8, verbose=0)


def test_sample_weight_without_targets_under_a_strategy_is_a_clear_error():
    import tensorflow as tf

    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = tiny_vae()
    x = uniform_data(16)
    with pytest.raises(ValueError, match=r"`sample_weight` without `y` cannot be fed to a model under a "
                                         r"tf.distribute strategy.*np.zeros\(\(len\(x\), 0\)\)"):
        model.fit(x, sample_weight=np.ones(16), batch_size=8, verbose=0)
    assert model.optimizer.iterations.numpy() == 0
    model.fit(x, np.zeros((16, 0)), sample_weight=np.ones(16), batch_size=8, verbose=0)  # what it says works
    assert model.optimizer.iterations.numpy() == 2
