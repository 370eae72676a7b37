"""Signatures on the user's raw inputs: encoded image bytes, and raw table rows.

A model trained through an input transform (`kvae.data.ImageDecoding`,
`kvae.data.Standardization`) is served on what clients have:

- image models get three more signatures, `encode_image`,
  `reconstruct_image` and `score_image`, whose input `image_bytes` is a
  batch of encoded PNG/JPEG/BMP/GIF strings (TF Serving's REST API takes
  them as `{"b64": "..."}`), decoded and resized in the graph by the very
  `ImageDecoding` the training pipeline used;
- table models' signatures take raw rows: they standardise inputs, map
  means, samples and reconstructions back to raw units, and shift scores by
  the standardisation's log-Jacobian so they are densities of the raw rows.
"""

import tensorflow as tf

from kvae.data.transforms import ImageDecoding, Standardization

IMAGE_SIGNATURES = ("encode_image", "reconstruct_image", "score_image")
IMAGE_INPUT = "image_bytes"


def signature_names(transform):
    """Every signature a model exported with `transform` has (beyond `serving_default`)."""
    from kvae.export.signatures import SIGNATURES

    return SIGNATURES + (IMAGE_SIGNATURES if isinstance(transform, ImageDecoding) else ())


def check_transform(model, transform):
    """Raises unless `transform` (or None) produces the model's inputs."""
    if transform is None:
        return
    if not isinstance(transform, (ImageDecoding, Standardization)):
        raise TypeError(
            f"`transform` must be a kvae.data.ImageDecoding or Standardization (or None), received: {transform!r}"
        )
    if tuple(transform.event_shape) != tuple(model.event_shape):
        raise ValueError(
            f"`transform` produces inputs of shape {tuple(transform.event_shape)}, but the model takes "
            f"{tuple(model.event_shape)}"
        )


def image_specs(label_spec):
    spec = tf.TensorSpec([None], tf.string, name=IMAGE_INPUT)
    return {name: [spec] + ([label_spec] if label_spec is not None else []) for name in IMAGE_SIGNATURES}


def image_functions(functions, decoding):
    """`encode_image`, `reconstruct_image`, `score_image`: the x signatures behind `decoding.decode_batch`."""

    def on_images(name):
        def fn(image_bytes, label=None):
            x = decoding.decode_batch(image_bytes)
            return functions[name](x) if label is None else functions[name](x, label)

        return fn

    return {f"{name}_image": on_images(name) for name in ("encode", "reconstruct", "score")}


def standardised_functions(functions, standardization, checked_x):
    """The signatures on raw rows: inputs standardised, outputs in raw units, scores as raw densities."""
    forward, inverse, scale = standardization.forward, standardization.inverse, standardization.scale
    log_det = tf.constant(standardization.log_det_jacobian, tf.float32)

    def with_x(name, outputs):
        def fn(x, *rest):
            return outputs(functions[name](forward(checked_x(x)), *rest))

        return fn

    def raw_parameters(params):
        params = dict(params)
        if "mean" in params:
            params["mean"] = inverse(params["mean"])
        if "stddev" in params:
            params["stddev"] = scale(params["stddev"])
        return params

    def raw_score(scores):
        return {"neg_elbo": scores["neg_elbo"] - log_det, "log_likelihood": scores["log_likelihood"] + log_det}

    def decode(z, *rest):
        return raw_parameters(functions["decode"](z, *rest))

    def generate(seed, *rest):
        outputs = functions["generate"](seed, *rest)
        return {**outputs, "sample": inverse(outputs["sample"])}

    return {
        **functions,
        "encode": with_x("encode", lambda out: out),
        "reconstruct": with_x("reconstruct", lambda out: {"reconstruction": inverse(out["reconstruction"])}),
        "score": with_x("score", raw_score),
        "score_k": with_x("score_k", raw_score),
        "decode": decode,
        "generate": generate,
    }
