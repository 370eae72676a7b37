import numpy as np
import pytest

import kvae
from conftest import uniform_data


@pytest.mark.parametrize("shape", [(8, 8, 1), (28, 28, 1), (7, 9, 3), (5, 5, 2)])
def test_conv_networks_fit_any_image_size(shape):
    encoder = kvae.networks.conv_encoder(shape, latent_dim=4)
    decoder = kvae.networks.conv_decoder(4, shape[:2] + (2 * shape[2],))
    assert encoder.output_shape == (None, 8)
    assert decoder.output_shape == (None,) + shape[:2] + (2 * shape[2],)


def test_mlp_networks_flatten_and_reshape():
    encoder = kvae.networks.mlp_encoder((4, 5, 1), 3, hidden_units=(16, 8))
    decoder = kvae.networks.mlp_decoder(3, (4, 5, 1), hidden_units=(8, 16))
    assert encoder.output_shape == (None, 6) and decoder.output_shape == (None, 4, 5, 1)
    assert [l.units for l in encoder.layers if hasattr(l, "units")] == [16, 8, 6]
    assert [l.units for l in decoder.layers if hasattr(l, "units")] == [8, 16, 20]


def test_classic_784_400_20_architecture():
    model = kvae.build_vae((28, 28, 1), 20, hidden_units=400)
    # 784·400+400 + 400·40+40  +  20·400+400 + 400·784+784  trainable parameters.
    assert sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 314_000 + 16_040 + 8_400 + 314_384


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "gaussian_fixed"])
def test_build_vae_trains_every_combination(architecture, likelihood):
    model = kvae.build_vae((6, 6, 1), 2, architecture=architecture, hidden_units=(8,),
                           filters=(4,), likelihood=likelihood, seed=0)
    model.compile(optimizer="adam")
    history = model.fit(uniform_data(8, (6, 6, 1)), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert model.reconstruct(uniform_data(2, (6, 6, 1))).shape == (2, 6, 6, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"architecture": "rnn"}, r"`architecture` must be one of \['mlp', 'conv'\], received: 'rnn'"),
        ({"latent_dim": 0}, r"`latent_dim` must be a positive integer, received: 0"),
        ({"hidden_units": (400, -1)}, r"`hidden_units` must be positive integers, received: \(400, -1\)"),
        ({"hidden_units": ()}, r"`hidden_units` must be positive integers, received: \(\)"),
        ({"likelihood": "laplace"}, r"`likelihood` must be one of \['bernoulli', 'gaussian', 'gaussian_fixed',"),
        ({"input_shape": (64,), "architecture": "conv"}, r"`input_shape` must be \(height, width, channels\) for the conv architecture, received: \(64,\)"),
    ],
)
def test_build_vae_rejects_bad_arguments(kwargs, message):
    args = {"input_shape": (8, 8, 1), "latent_dim": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        kvae.build_vae(**args)
