"""A VAE's deterministic endpoints as plain Keras functional models, for ONNX and LiteRT.

TF Serving gets the whole multi-signature SavedModel (`build_archive`). ONNX and
LiteRT files hold one function each and have no stateless random ops, so what
they can hold are the deterministic endpoints: `encode`, `decode` and
`reconstruct`. Each is a functional `keras.Model` that shares the VAE's
networks (and so its weights), which Keras' own `Model.export(...,
format="onnx" | "litert")` converts.
"""

import keras
import tensorflow as tf

ENDPOINTS = ("encode", "decode", "reconstruct")


class _Parameters(keras.layers.Layer):
    """Applies `fn` to a network's output; tracks `owner` (a part with weights) for export."""

    def __init__(self, fn, owner=None, **kwargs):
        super().__init__(**kwargs)
        self.fn = fn
        self.owner = owner

    def build(self, input_shape):
        pass  # no weights of its own; `owner` is built with the VAE

    def call(self, inputs):
        return self.fn(inputs)


def endpoint_model(model, endpoint="encode"):
    """A functional `keras.Model` computing one deterministic endpoint of `model`.

    - `"encode"`: `x` → the posterior's parameters (`posterior_layer.outputs`:
      `{"mean", "stddev"}` for the diagonal Gaussian);
    - `"decode"`: `z` → the likelihood's parameters (`logits`/`probs` or `mean`/`stddev`);
    - `"reconstruct"`: `x` → `{"reconstruction"}`, the mean of p(x|z) at the
      posterior's location z (`VAE.embed`).

    The outputs are float32 and equal the SavedModel signatures of the same names.

    Args:
        model: a built `kvae.VAE`.
        endpoint: str. One of `"encode"`, `"decode"`, `"reconstruct"`.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((8, 8, 1), latent_dim=2, hidden_units=(16,))
    >>> decode = kvae.export.endpoint_model(vae, "decode")
    >>> decode.input_shape, {name: t.shape for name, t in decode.output.items()}
    ((None, 2), {'logits': (None, 8, 8, 1), 'probs': (None, 8, 8, 1)})
    """
    if endpoint not in ENDPOINTS:
        raise ValueError(f"`endpoint` must be one of {list(ENDPOINTS)}, received: {endpoint!r}")

    def posterior(params):
        return model.posterior_layer.outputs(model.posterior_from_params(params))

    def location(params):
        return model.posterior_layer.location(model.posterior_from_params(params))

    def likelihood(params):
        return model.likelihood.parameters(tf.cast(params, model.distribution_dtype))

    def reconstruction(params):
        mean = model.likelihood.distribution(tf.cast(params, model.distribution_dtype)).mean()
        return {"reconstruction": mean}

    if endpoint == "decode":
        z = keras.Input((model.latent_dim,), name="z")
        outputs = _Parameters(likelihood, model.likelihood, name="likelihood_parameters")(model.decoder(z))
        return keras.Model(z, outputs, name="decode")
    x = keras.Input(tuple(model.event_shape), name="x")
    params = model.encoder(x)
    if endpoint == "encode":
        return keras.Model(x, _Parameters(posterior, model.posterior_layer, name="posterior_parameters")(params),
                           name="encode")
    z = _Parameters(location, model.posterior_layer, name="posterior_location")(params)
    decoded = model.decoder(z)
    outputs = _Parameters(reconstruction, model.likelihood, name="reconstruction")(decoded)
    return keras.Model(x, outputs, name="reconstruct")
