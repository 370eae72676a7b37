import keras
import numpy as np
import pytest

import kvae
from conftest import run_serialization_test


def test_active_units_counts_dimensions_whose_mean_varies_over_x():
    rng = np.random.default_rng(0)
    loc = rng.normal(size=(300, 4)) * np.array([1.0, 0.2, 0.05, 0.0]) + 5.0  # variances 1, .04, .0025, 0
    metric = kvae.metrics.ActiveUnits(latent_dim=4)
    for batch in np.array_split(loc, 7):  # any batching gives the same state
        metric.update_state(batch)
    assert float(metric.result()) == 2.0
    np.testing.assert_allclose(metric.variances(), loc.var(axis=0), rtol=1e-3, atol=1e-5)
    weighted = kvae.metrics.ActiveUnits(latent_dim=4)
    weighted.update_state(np.concatenate([loc[:10], loc[:10] * 100]), sample_weight=np.r_[np.ones(10), np.zeros(10)])
    np.testing.assert_allclose(weighted.variances(), loc[:10].var(axis=0), rtol=1e-3, atol=1e-5)
    metric.reset_state()
    assert float(metric.result()) == 0.0
    assert run_serialization_test(kvae.metrics.ActiveUnits(3, threshold=0.5)).threshold == 0.5


@pytest.mark.e2e
def test_active_units_is_zero_for_a_collapsed_posterior_and_positive_after_training(digits):
    keras.utils.set_random_seed(0)
    model = kvae.build_vae(digits.event_shape, 8, hidden_units=(128,), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    # Untrained and collapsed: the loc half of the posterior layer is zero, so μ(x) = 0 for all x.
    layer = model.encoder.get_layer("posterior_params")
    layer.kernel.assign(np.concatenate([np.zeros((128, 8)), layer.kernel.numpy()[:, 8:]], axis=1))
    layer.bias.assign(np.zeros(16))
    test = kvae.data.make_dataset(digits.x_test, 128)
    assert model.evaluate(test, return_dict=True, verbose=0)["active_units"] == 0.0
    model.fit(kvae.data.make_dataset(digits.x_train, 64, shuffle=True, seed=0), epochs=15, verbose=0)
    logs = model.evaluate(test, return_dict=True, verbose=0)
    loc = model.encode(digits.x_test).mean().numpy()
    assert logs["active_units"] == float((loc.var(axis=0) > 0.01).sum()) >= 3
