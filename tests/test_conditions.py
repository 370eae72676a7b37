"""`kvae.conditions`: one concept from the user's values to the networks, converted once, saved, served."""

import warnings

import keras
import numpy as np
import pytest

import kvae
from conftest import tiny_vae, uniform_data

LABELS = np.array([0, 1, 2, 3] * 4)


@keras.saving.register_keras_serializable(package="conditions_test")
class CountingLabel(kvae.conditions.ClassLabel):
    """A `ClassLabel` that counts its conversions."""

    calls = 0

    def convert(self, values, argument="condition"):
        CountingLabel.calls += 1
        return super().convert(values, argument)


@pytest.mark.parametrize("method", ["encode", "embed", "decoder_params", "reconstruct", "sample", "generate", "score",
                                    "elbo_terms"])
def test_every_method_converts_its_condition_once(method):
    model = kvae.build_vae((4, 4, 1), 2, hidden_units=(8,), condition=CountingLabel(4))
    x, z = uniform_data(4), np.zeros((4, 2), "float32")
    calls = {
        "encode": lambda c: model.encode(x, condition=c),
        "embed": lambda c: model.embed(x, condition=c),
        "decoder_params": lambda c: model.decoder_params(z, condition=c),
        "reconstruct": lambda c: model.reconstruct(x, condition=c),
        "sample": lambda c: model.sample(4, seed=0, condition=c),
        "generate": lambda c: model.generate(np.arange(4), condition=c),
        "score": lambda c: model.score(x, num_samples=2, condition=c),
        "elbo_terms": lambda c: model.elbo_terms(x, condition=c),
    }
    CountingLabel.calls = 0
    calls[method]([0, 1, 2, 3])
    assert CountingLabel.calls == 1


def test_evaluation_converts_each_batch_once():
    model = kvae.build_vae((4, 4, 1), 2, hidden_units=(8,), condition=CountingLabel(4))
    CountingLabel.calls = 0
    kvae.evaluation.evaluate(model, uniform_data(16), iw_samples=4, batch_size=8, condition=LABELS)
    # Once per batch of ELBO terms (two of 8), once in the trace of the importance weights (one batch of 16).
    assert CountingLabel.calls == 3


def test_the_shorthands_make_the_condition_parts():
    assert kvae.conditions.get(num_classes=5).get_config()["num_classes"] == 5
    assert kvae.conditions.get(condition_shape=3).shape == (3,)
    assert not kvae.conditions.get().conditional
    assert kvae.conditions.REGISTRY.names == ("none", "class_label", "vector")
    model = tiny_vae(condition=kvae.conditions.Vector((2,)))
    assert model.condition.shape == (2,) and model.num_classes is None and model.conditional


def test_a_kvae_0_1_config_with_num_classes_still_loads():
    model = tiny_vae(num_classes=4)
    config = model.get_config()
    assert "num_classes" not in config and config["condition"]["class_name"] == "ClassLabel"
    old = {k: v for k, v in config.items() if k != "condition"}
    revived = kvae.VAE.from_config({**old, "num_classes": 4, "condition_shape": None})
    assert type(revived.condition) is kvae.conditions.ClassLabel and revived.num_classes == 4
    revived = kvae.VAE.from_config({**{k: v for k, v in tiny_vae(condition_shape=(2,)).get_config().items()
                                       if k != "condition"}, "num_classes": None, "condition_shape": [2]})
    assert type(revived.condition) is kvae.conditions.Vector and revived.condition.shape == (2,)


def test_labels_is_the_deprecated_name_of_condition():
    model = tiny_vae(num_classes=4)
    x = uniform_data(4)
    with pytest.warns(DeprecationWarning, match=r"reconstruct\(\): `labels=` is deprecated, pass `condition=`"):
        old = model.reconstruct(x, labels=[0, 1, 2, 3])
    np.testing.assert_array_equal(old, model.reconstruct(x, condition=[0, 1, 2, 3]))
    with pytest.raises(TypeError, match=r"reconstruct\(\) takes `condition` or its old name `labels`, not both"):
        model.reconstruct(x, labels=[0, 1, 2, 3], condition=[0, 1, 2, 3])
    with pytest.warns(DeprecationWarning, match=r"make_dataset\(\): `labels=` is deprecated, pass `y=`"):
        batch = next(iter(kvae.data.make_dataset(x, 4, labels=[0, 1, 2, 3])))
    np.testing.assert_array_equal(batch[1], [0, 1, 2, 3])


def test_the_conditions_own_their_grids_examples_and_served_inputs():
    label, vector = kvae.conditions.ClassLabel(3), kvae.conditions.Vector((2,))
    assert label.grid(2).tolist() == [0, 0, 1, 1, 2, 2]
    assert vector.grid(3, rows=2).shape == (6, 2)
    assert label.spec().name == "label" and label.spec().dtype.name == "int64"
    assert vector.spec().name == "condition" and tuple(vector.spec().shape) == (None, 2)
    assert label.example(5).dtype == np.int64 and set(label.example(50)) <= {0, 1, 2}
    label.check(label.example(5), 5)
    vector.check(vector.example(5), 5)
    assert kvae.conditions.Unconditional().spec() is None
    with pytest.raises(ValueError, match=r"`condition` must have one row per example \(4\), received one value"):
        vector.check(np.float32(1.0), 4)


def test_a_served_conditional_model_warms_up_with_its_conditions_examples():
    model = tiny_vae(num_classes=4)
    inputs = kvae.export.example_inputs(model.event_shape, model.latent_dim, batch_size=3, condition=model.condition)
    assert sorted(inputs["score"]) == ["label", "x"] and inputs["score"]["label"].dtype == np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling raises no deprecation warning
        model.score(inputs["score"]["x"], num_samples=2, condition=inputs["score"]["label"])
