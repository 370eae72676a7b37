"""The SavedModel signatures of a VAE, built with `keras.export.ExportArchive`."""

import keras
import tensorflow as tf

from kvae.data.transforms import ImageDecoding, Standardization
from kvae.export import transformed

# The exported signatures; the first is also exported as "serving_default".
SIGNATURES = ("encode", "decode", "reconstruct", "generate", "score", "score_k")


def input_specs(model):
    """`{signature: [TensorSpec, ...]}`: `x` is `[batch, *event_shape]`, `z` is `[batch, latent_dim]`.

    The shapes are declared, so `saved_model_cli show` and TF Serving's
    metadata tell clients what to send; they are also checked inside the
    graph (see `build_archive`).
    """
    x = tf.TensorSpec([None, *model.event_shape], tf.float32, name="x")
    z = tf.TensorSpec([None, model.latent_dim], tf.float32, name="z")
    specs = {
        "encode": [x],
        "decode": [z],
        "reconstruct": [x],
        "generate": [tf.TensorSpec([None], tf.int64, name="seed")],
        "score": [x],
        "score_k": [x, tf.TensorSpec([None], tf.int32, name="num_samples")],
    }
    label = condition_spec(model)
    return specs if label is None else {name: [*inputs, label] for name, inputs in specs.items()}


def condition_spec(model):
    """A conditional VAE's extra input: `label` (int64 class ids `[batch]`) or `condition` (float32), else None."""
    if model.num_classes is not None:
        return tf.TensorSpec([None], tf.int64, name="label")
    if model.condition_shape is not None:
        return tf.TensorSpec([None, *model.condition_shape], tf.float32, name="condition")
    return None


def build_archive(model, score_samples=100, transform=None):
    """Returns an `ExportArchive` with every kvae signature, all returning dicts.

    - `encode`: x → q(z|x)'s parameters (also `serving_default`): `mean` and
      `stddev` (marginal) for the Gaussian posteriors, with `scale_tril` for
      the full-covariance one; `location` (z at zero noise), `base_mean` and
      `base_stddev` for the flow.
    - `decode`: z → the likelihood's parameters (`logits`/`probs` or `mean`/`stddev`).
    - `reconstruct`: x → `reconstruction`, the mean of p(x|z) at the
      posterior's location (its mean for the Gaussians).
    - `generate`: seed → `sample` (mean of p(x|z), z from the prior with that
      seed, stateless) and its `z`.
    - `score`: x → `neg_elbo` and `log_likelihood` from `score_samples`
      importance samples; `score_k` takes `num_samples` per row too (all equal).

    A conditional VAE's signatures all take its label too (`label`, int64
    class ids `[batch]`, or `condition` values): `generate` with `seed` and
    `label` gives the same example for the same pair in any process.

    Inputs are checked inside: a wrong feature shape, a NaN/Inf, a label out
    of range or a label batch that differs from the other input's fails with
    an `InvalidArgument` error that says so.

    With a `transform` (the `kvae.data.ImageDecoding` or
    `kvae.data.Standardization` the model was trained through), image models
    also get `encode_image`, `reconstruct_image` and `score_image` on encoded
    image bytes, and table models' signatures take raw rows (see
    `kvae.export.transformed`).
    """
    transformed.check_transform(model, transform)
    event_shape = list(model.event_shape)
    specs = input_specs(model)
    archive = keras.export.ExportArchive()
    archive.track(model)

    def checked(tensor, name, shape):
        # TF Serving feeds a request's tensor without comparing it with the declared
        # shape, so the graph checks it. Grappler could fold a check on a shape it
        # believes known; in TF 2.21 it does not (tests/test_export.py feeds a wrong
        # shape through the C++ session call TF Serving makes).
        checks = [
            tf.debugging.assert_equal(
                tf.shape(tensor)[1:], tf.constant(shape[1:], tf.int32),
                message=f"input `{name}` must have shape [batch, {', '.join(str(d) for d in shape[1:])}]",
            ),
            tf.debugging.assert_all_finite(tensor, f"input `{name}` must hold finite values, received NaN or Inf"),
        ]
        with tf.control_dependencies(checks):
            return tf.ensure_shape(tf.identity(tensor), shape)

    def checked_x(x):
        return checked(x, "x", [None] + event_shape)

    def checked_z(z):
        return checked(z, "z", [None, model.latent_dim])

    def checked_label(label, other, other_name):
        # None for an unconditional model; else the label, checked against the batch of `other`.
        if label is None:
            return None
        name = "label" if model.num_classes is not None else "condition"
        checks = [tf.debugging.assert_equal(
            tf.shape(label)[0], tf.shape(other)[0],
            message=f"input `{name}` must have one row per row of `{other_name}`")]
        if model.num_classes is not None:
            checks += [
                tf.debugging.assert_non_negative(label, message=f"input `label` must be in [0, {model.num_classes})"),
                tf.debugging.assert_less(label, tf.constant(model.num_classes, tf.int64),
                                         message=f"input `label` must be in [0, {model.num_classes})"),
            ]
        else:
            checks.append(tf.debugging.assert_all_finite(label, "input `condition` must hold finite values"))
        with tf.control_dependencies(checks):
            return tf.identity(label)

    def encode(x, label=None):
        return model.posterior_layer.outputs(model.encode(checked_x(x), labels=checked_label(label, x, "x")))

    def decode(z, label=None):
        return model.likelihood.parameters(model.decoder_params(checked_z(z), labels=checked_label(label, z, "z")))

    def reconstruct(x, label=None):
        return {"reconstruction": model.reconstruct(checked_x(x), labels=checked_label(label, x, "x"))}

    def generate(seed, label=None):
        sample, z = model.generate(seed, labels=checked_label(label, seed, "seed"))
        return {"sample": sample, "z": z}

    def score(x, label=None):
        return model.score(checked_x(x), num_samples=score_samples, labels=checked_label(label, x, "x"))

    def score_k(x, num_samples, label=None):
        k = num_samples[0]
        checks = [
            tf.debugging.assert_equal(num_samples, k, message="input `num_samples` must be the same in every row"),
            tf.debugging.assert_positive(k, message="input `num_samples` must be >= 1"),
        ]
        with tf.control_dependencies(checks):
            return model.score(checked_x(x), num_samples=tf.identity(k), labels=checked_label(label, x, "x"))

    functions = {"encode": encode, "decode": decode, "reconstruct": reconstruct,
                 "generate": generate, "score": score, "score_k": score_k}
    if isinstance(transform, Standardization):
        functions = transformed.standardised_functions(functions, transform, checked_x)
    if isinstance(transform, ImageDecoding):
        functions.update(transformed.image_functions(functions, transform))
        specs.update(transformed.image_specs(condition_spec(model)))
    for name in transformed.signature_names(transform):  # "encode" first: it becomes serving_default
        archive.add_endpoint(name=name, fn=functions[name], input_signature=specs[name])
    return archive
