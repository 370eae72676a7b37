"""Conditional VAEs: `kvae.conditions` parts, conditions through fit, sampling, scoring and saving."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kvae
from conftest import tiny_vae, uniform_data

LABELS = np.array([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3])


def test_class_ids_and_one_hot_rows_are_the_same_condition():
    model = tiny_vae(num_classes=4)
    ids = model.condition.convert(np.array([2, 0], np.int64))
    one_hot = model.condition.convert(np.eye(4, dtype="float32")[[2, 0]])
    column = model.condition.convert(np.array([[2], [0]]))
    np.testing.assert_array_equal(ids, one_hot)
    np.testing.assert_array_equal(ids, column)
    x = uniform_data(2)
    np.testing.assert_array_equal(model.reconstruct(x, condition=[2, 0]), model.reconstruct(x, condition=one_hot))


@pytest.mark.slow
def test_fit_on_x_and_y_trains_and_the_label_changes_the_model():
    model = tiny_vae(num_classes=4)
    x = uniform_data(16)
    history = model.fit(x, LABELS, batch_size=8, epochs=2, verbose=0, validation_data=(x, LABELS)).history
    assert np.isfinite(history["loss"]).all() and "val_elbo" in history
    same_z = model.sample(2, seed=3, condition=[0, 0])
    np.testing.assert_array_equal(same_z, model.sample(2, seed=3, condition=0))  # one label for all
    assert not np.allclose(model.sample(2, seed=3, condition=[1, 1]), same_z)
    log_px = model.log_likelihood(x, num_samples=8, condition=LABELS)
    assert log_px.shape == (16,) and np.isfinite(log_px).all()
    scores = kvae.evaluation.evaluate(model, x, iw_samples=8, condition=LABELS)
    assert np.isfinite(scores["test_nll"]) and scores["test_examples"] == 16


@pytest.mark.slow
def test_a_dataset_of_pairs_and_numpy_arrays_take_the_same_steps():
    x = uniform_data(16)

    def run(*data, **kwargs):
        keras.utils.set_random_seed(0)
        model = tiny_vae(num_classes=4)
        model.fit(*data, epochs=2, verbose=0, **kwargs)
        return model.get_weights()

    pairs = run(kvae.data.make_dataset(x, 8, y=LABELS))
    arrays = run(x, LABELS, batch_size=8, shuffle=False)
    for a, b in zip(pairs, arrays):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_generate_is_a_function_of_seed_and_label():
    model = tiny_vae(num_classes=4)
    seeds = tf.constant([7, 7, 8], tf.int64)
    a, _ = model.generate(seeds, condition=np.array([1, 2, 1]))
    b, _ = model.generate(seeds, condition=np.array([1, 2, 1]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])  # same seed, another label
    assert not np.allclose(a[0], a[2])  # same label, another seed


def test_a_real_valued_condition():
    model = tiny_vae(condition_shape=(2,))
    x, c = uniform_data(16), np.random.default_rng(0).normal(size=(16, 2)).astype("float32")
    model.fit(x, c, batch_size=8, epochs=1, verbose=0)
    assert model.sample(3, seed=0, condition=c[:3]).shape == (3, 4, 4, 1)
    with pytest.raises(ValueError, match=r"`y` must be condition values of shape \(16, 2\), received shape \(16, 3\)"):
        model.fit(x, np.zeros((16, 3)), epochs=1, verbose=0)


@pytest.mark.slow
@pytest.mark.parametrize("posterior", ["normal", "iaf"])
def test_a_conditional_model_round_trips_through_a_keras_file(tmp_path, posterior):
    model = tiny_vae(num_classes=4, posterior=posterior)
    model.fit(uniform_data(16), LABELS, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    revived = keras.saving.load_model(tmp_path / "m.keras")
    assert revived.num_classes == 4 and revived.condition.get_config()["num_classes"] == 4
    x = uniform_data(3)
    np.testing.assert_allclose(revived.reconstruct(x, condition=[0, 1, 3]), model.reconstruct(x, condition=[0, 1, 3]),
                               rtol=1e-6)
    np.testing.assert_allclose(revived.log_likelihood(x, num_samples=8, condition=[0, 1, 3]),
                               model.log_likelihood(x, num_samples=8, condition=[0, 1, 3]), rtol=1e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda m, x: m.fit(x, epochs=1, verbose=0),
         r"a conditional VAE trains and evaluates on \(x, y\): pass the conditions as `y`, received x alone"),
        (lambda m, x: m.fit(x, LABELS + 1, epochs=1, verbose=0),
         r"`y` must be class ids in \[0, 4\), received values in \[1, 4\]"),
        (lambda m, x: m.fit(x, LABELS[:8], epochs=1, verbose=0), r"`y` must have one row per example \(16\), received 8"),
        (lambda m, x: m.fit(x, np.zeros((16, 3)), epochs=1, verbose=0),
         r"`y` must be class ids \[n\] or one-hot rows \[n, 4\], received shape \(16, 3\)"),
        (lambda m, x: m.sample(2), r"a conditional VAE needs `condition`: class ids or one-hot rows for num_classes=4"),
        (lambda m, x: m.log_likelihood(x, condition=LABELS * 2),
         r"`condition` must be class ids in \[0, 4\), received values in \[0, 6\]"),
    ],
)
def test_bad_labels_are_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny_vae(num_classes=4), uniform_data(16))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1}, r"`num_classes` must be an integer >= 2, received: 1"),
        ({"num_classes": 3, "condition_shape": (2,)}, r"takes one of `condition`, `num_classes` \(labels\) or `condition_shape` \(real values\), received "
                                                   r"`num_classes`, `condition_shape`"),
        ({"condition_shape": (0,)}, r"`condition_shape` must be a tuple of positive integers, received: \(0,\)"),
        ({"num_classes": 3, "prior": kvae.priors.VampPrior(3)},
         r"the VampPrior \(its pseudo-inputs have no labels\) needs an unconditional VAE \(\"none\"\), received the "
         r"ClassLabel condition"),
    ],
)
def test_bad_conditional_configurations_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny_vae(**kwargs)


def test_labels_given_to_an_unconditional_model_and_unconditional_networks_are_errors():
    with pytest.raises(ValueError, match=r"`condition` is for a conditional VAE .* this one is unconditional"):
        tiny_vae().sample(2, condition=[0, 1])
    encoder, decoder = kvae.networks.mlp_encoder((4,), 2), kvae.networks.mlp_decoder(2, (4,))
    with pytest.raises(ValueError, match=r"`encoder` of a conditional VAE must take \[x, condition\]"):
        kvae.VAE(encoder, decoder, latent_dim=2, num_classes=3)


@pytest.mark.e2e
def test_samples_generated_for_a_class_are_classified_as_that_class(digits):
    """Conditioning works: a classifier trained on real digits labels >= 80% of class-c samples as c."""
    from sklearn.linear_model import LogisticRegression

    keras.utils.set_random_seed(0)
    model = kvae.build_vae(digits.event_shape, 8, hidden_units=(128,), seed=0, num_classes=10)
    model.compile(optimizer=keras.optimizers.Adam(2e-3))
    model.fit(digits.x_train, digits.y_train, batch_size=64, epochs=40, verbose=0)
    classifier = LogisticRegression(max_iter=2000).fit(digits.x_train.reshape(len(digits.x_train), -1),
                                                       digits.y_train)
    assert classifier.score(digits.x_test.reshape(len(digits.x_test), -1), digits.y_test) > 0.9
    labels = np.repeat(np.arange(10), 50)
    samples = np.asarray(model.sample(len(labels), seed=0, condition=labels)).reshape(len(labels), -1)
    accuracy = float(np.mean(classifier.predict(samples) == labels))
    assert accuracy >= 0.8, accuracy
