"""The SavedModel signatures of a VAE, built with `keras.export.ExportArchive`."""

import keras
import tensorflow as tf

from kvae import checks
from kvae.preprocessing import attach
from kvae.data.transforms import ImageDecoding
from kvae.export import transformed
from kvae.export.gating import gated
from kvae.likelihoods import eight_bit

# The exported signatures; the first is also exported as "serving_default".
SIGNATURES = ("encode", "decode", "reconstruct", "generate", "score", "score_k")

# What one request may ask for, fixed at export (`build_archive`'s arguments), so that no request can
# take the server's memory: rows per request, importance samples K, and rows × K the decoder runs on.
MAX_BATCH = 4096
MAX_SCORE_SAMPLES = 10_000
SCORE_ELEMENTS = 2**27  # decoder activations one score request may make (512 MiB of float32)


def served(model, transform):
    """`(model, transform)` as served: checked, and a `Standardization` (kvae 0.1's tables) moved into the model.

    kvae 0.1 kept a model of standardised rows and the standardisation beside
    it; served as today's are, the standardisation is the model's preprocessing
    (`kvae.preprocessing.attach`) and the signatures take raw rows.
    """
    transformed.check_transform(model, transform)
    preprocessing = None if transform is None else transform.preprocessing()
    if preprocessing is not None:
        return attach(model, preprocessing), None
    return model, transform


def signature_names(transform):
    """Every signature a model exported with `transform` has (beyond `serving_default`)."""
    return SIGNATURES + (transformed.IMAGE_SIGNATURES if isinstance(transform, ImageDecoding) else ())


def limits(model, score_samples=100, max_batch=None, max_score_samples=None, max_score_rows=None):
    """The request bounds a SavedModel of `model` enforces, as a dict (checked and defaulted).

    - `max_batch` (default `MAX_BATCH`, or fewer when one decoder pass over
      that many rows would pass `SCORE_ELEMENTS`, as for a 256-way
      categorical's 256 logits per value): rows of any one request;
    - `max_score_samples` (default `MAX_SCORE_SAMPLES`): `num_samples` of `score_k`;
    - `max_score_rows` (default `SCORE_ELEMENTS` / the decoder's activations
      per row, so that a score's decoder pass stays near 512 MiB): batch × K
      of `score` and `score_k`.

    Example:

    >>> import kvae
    >>> vae = kvae.build_vae((28, 28, 1), latent_dim=2, hidden_units=(16,))
    >>> kvae.export.limits(vae)
    {'max_batch': 4096, 'max_score_samples': 10000, 'max_score_rows': 56631, 'score_samples': 100}
    """

    size = _row_elements(model)
    rows = max(1, SCORE_ELEMENTS // size)  # decoder passes within the activation budget
    bounds = {
        "max_batch": checks.positive_int(min(MAX_BATCH, rows) if max_batch is None else max_batch, "max_batch"),
        "max_score_samples": checks.positive_int(
            MAX_SCORE_SAMPLES if max_score_samples is None else max_score_samples, "max_score_samples"),
        "max_score_rows": checks.positive_int(
            rows if max_score_rows is None else max_score_rows, "max_score_rows"),
        "score_samples": checks.positive_int(score_samples, "score_samples"),
    }
    if score_samples > min(bounds["max_score_samples"], bounds["max_score_rows"]):
        raise ValueError(
            f"`score_samples` must be at most max_score_samples ({bounds['max_score_samples']}) and "
            f"max_score_rows ({bounds['max_score_rows']}), received: {score_samples}"
        )
    return bounds


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
    """A conditional VAE's extra input (`model.condition.spec()`: `label` or `condition`), else None."""
    return model.condition.spec()


def _row_elements(model):
    """Values the decoder computes per latent sample: its layers' outputs and the data's own size."""
    size = 1
    for d in model.event_shape:
        size *= int(d)
    total = size
    for layer in getattr(model.decoder, "layers", []):
        try:
            shape = layer.output.shape[1:]
        except (AttributeError, ValueError):
            continue  # a layer with no single symbolic output: the data's size still counts
        count = 1
        for d in shape:
            count *= int(d or 1)
        total += count
    return total


def build_archive(model, score_samples=100, transform=None, **bounds):
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

    A conditional VAE's signatures all take its condition too, as its
    `kvae.conditions` part declares (`label`, int64 class ids `[batch]`, or
    `condition` values) and checks: `generate` with `seed` and `label` gives
    the same example for the same pair in any process.

    Inputs are checked inside: a wrong rank or feature shape, a NaN/Inf, a
    value outside the likelihood's support (Bernoulli: [0, 1]), a label out
    of range or a label batch that differs from the other input's fails with
    an `InvalidArgument` error that says so. Every size a client chooses is
    bounded (`limits`, given as `**bounds`): rows per request, `num_samples`
    and rows × samples of a score, and the pixels of an encoded image; a
    request past a bound fails with an error naming it, and the server lives.
    An output that overflows float32 (an input far outside the data) is an
    error too, never a NaN.

    With a `transform` (the `kvae.data.ImageDecoding` the model was trained
    through), image models also get `encode_image`, `reconstruct_image` and
    `score_image` on encoded image bytes (see `kvae.export.transformed`). A
    model with preprocessing (`kvae.preprocessing`, e.g. a table's
    standardisation) is served on its raw data by its own methods: means,
    samples and reconstructions in data units, scores as densities of it. A
    `kvae.data.Standardization` given as `transform` (kvae 0.1's tables) is
    attached to the model as such preprocessing first.
    """
    model, transform = served(model, transform)
    bounds = limits(model, score_samples, **bounds)
    max_batch, max_k, max_rows = bounds["max_batch"], bounds["max_score_samples"], bounds["max_score_rows"]
    event_shape = list(model.event_shape)
    specs = input_specs(model)
    archive = keras.export.ExportArchive()
    archive.track(model)
    support = model.preprocessing.data_support(model.likelihood.support)  # of the raw inputs
    # Levels k/255 of the raw inputs: only where the networks see the data as given.
    eight_bit_levels = model.likelihood.levels == eight_bit.LEVELS and support == model.likelihood.support

    def checked(tensor, name, shape, values=None):
        # TF Serving feeds a request's tensor without comparing it with the declared
        # shape, so the graph checks it (tests/test_export.py and test_export_bounds.py feed
        # bad requests through the C++ session call TF Serving makes, Grappler on). The ops
        # after a check get the input only through `gated`: an empty batch of the declared
        # shape if any check fails, so no op races the failing assertion with an error of
        # its own, or with an allocation sized by the bad request.
        actual = tf.shape(tensor)
        rank_ok = tf.equal(tf.size(actual), len(shape))
        # Padded to the expected rank, not compared under tf.cond: Grappler runs both branches of a cond here.
        dims_found = tf.concat([actual[1:], tf.fill([len(shape)], -1)], 0)[: len(shape) - 1]
        shape_ok = tf.logical_and(rank_ok, tf.reduce_all(tf.equal(dims_found, shape[1:])))
        rows = tf.concat([actual, [0]], 0)[0]
        dims = ", ".join(str(d) for d in shape[1:])
        fine = [shape_ok, rows <= max_batch]
        checks = [
            tf.debugging.Assert(shape_ok, [f"input `{name}` must have shape [batch, {dims}], received", actual]),
            tf.debugging.Assert(fine[1], [f"input `{name}` must have at most {max_batch} rows (max_batch), received",
                                          rows]),
        ]
        # Reductions over the flattened values: `reduce_all(tensor)` would reduce over the declared rank's
        # axes and fail on a request of another rank before the assertion above could say so.
        values_flat = tf.reshape(tensor, [-1])
        if tensor.dtype.is_floating:
            finite = tf.reduce_all(tf.math.is_finite(values_flat))
            fine.append(finite)
            checks.append(tf.debugging.Assert(finite, [f"input `{name}` must hold finite values, received NaN or Inf"]))
        if values is not None:
            low, high = values
            within = tf.logical_and(tf.reduce_all(values_flat >= low), tf.reduce_all(values_flat <= high))
            fine.append(within)
            checks.append(tf.debugging.Assert(within, [
                f"input `{name}` must be in [{low:g}, {high:g}] for the {type(model.likelihood).__name__} "
                "likelihood, received values in", tf.reduce_min(values_flat), tf.reduce_max(values_flat)]))
            if eight_bit_levels:
                # A mass of 8-bit pixels is of the levels k/255 alone: a value between two is refused, not rounded.
                on_grid = eight_bit.on_grid(values_flat)
                fine.append(on_grid)
                checks.append(tf.debugging.Assert(on_grid, [
                    f"input `{name}` must hold 8-bit values k/255 for the {type(model.likelihood).__name__} "
                    "likelihood, received values between levels"]))
        with tf.control_dependencies(checks):
            return tf.identity(gated(tensor, tf.reduce_all(tf.stack(fine)), shape))

    def checked_x(x, values=support):
        return checked(x, "x", [None] + event_shape, values)

    def checked_z(z):
        return checked(z, "z", [None, model.latent_dim])

    def checked_condition(value, other, other_name):
        # None for an unconditional model; else the served condition, checked by its part against `other`'s rows.
        return None if value is None else model.condition.served(value, other, other_name)

    def encode(x, condition=None):
        return model.posterior_layer.outputs(model.encode(checked_x(x), condition=checked_condition(condition, x, "x")))

    def decode(z, condition=None):
        params = model.likelihood.parameters(
            model.decoder_params(checked_z(z), condition=checked_condition(condition, z, "z")))
        return model.preprocessing.data_parameters(params)  # in data units

    def reconstruct(x, condition=None):
        return {"reconstruction": model.reconstruct(checked_x(x), condition=checked_condition(condition, x, "x"))}

    def generate(seed, condition=None):
        seed = checked(seed, "seed", [None])
        sample, z = model.generate(seed, condition=checked_condition(condition, seed, "seed"))
        return {"sample": sample, "z": z}

    def rows_checked(x, k):
        rows = tf.cast(tf.shape(x)[0], tf.int64) * tf.cast(k, tf.int64)
        check = tf.debugging.Assert(rows <= max_rows, [
            f"a score request must have batch x num_samples at most {max_rows} (max_score_rows), received", rows])
        with tf.control_dependencies([check]):
            return tf.identity(gated(x, rows <= max_rows, [None] + event_shape))

    def score(x, condition=None):
        x = rows_checked(checked_x(x), score_samples)
        return model.score(x, num_samples=score_samples, condition=checked_condition(condition, x, "x"))

    def score_k(x, num_samples, condition=None):
        count = tf.size(num_samples)
        rows = tf.concat([tf.shape(x), [0]], 0)[0]
        k = tf.concat([tf.reshape(num_samples, [-1]), [1]], 0)[0]
        k_ok = tf.logical_and(k >= 1, k <= max_k)
        checks = [
            tf.debugging.Assert(count >= 1,
                                ["signature `score_k` needs at least one row of `x` and of `num_samples`, received 0"]),
            tf.debugging.Assert(tf.equal(count, rows), [
                "input `num_samples` must have one value per row of `x`, received", count]),
            tf.debugging.Assert(tf.reduce_all(tf.equal(tf.reshape(num_samples, [-1]), k)),
                                ["input `num_samples` must be the same in every row"]),
            tf.debugging.Assert(k_ok, [f"input `num_samples` must be in [1, {max_k}] (max_score_samples), received",
                                       k]),
        ]
        x = checked_x(x)
        with tf.control_dependencies(checks):
            k = tf.identity(tf.where(k_ok, k, 1))  # what runs never sees a K past the bound
            x = gated(x, tf.logical_and(count >= 1, tf.equal(count, rows)), [None] + event_shape)
        x = rows_checked(x, k)
        return model.score(x, num_samples=k, condition=checked_condition(condition, x, "x"))

    def finite(fn, name):
        # Finite inputs far outside the data can overflow float32 in the networks: an error, never a NaN.
        def checked_outputs(*inputs):
            outputs = fn(*inputs)
            checks = [tf.debugging.assert_all_finite(
                value, f"signature `{name}` overflowed float32 on this input: output `{key}` is not finite (is "
                       "the input far outside the training data?)") for key, value in outputs.items()]
            with tf.control_dependencies(checks):
                return {key: tf.identity(value) for key, value in outputs.items()}

        return checked_outputs

    functions = {"encode": encode, "decode": decode, "reconstruct": reconstruct,
                 "generate": generate, "score": score, "score_k": score_k}
    if isinstance(transform, ImageDecoding):
        functions.update(transformed.image_functions(functions, transform, max_batch))
        specs.update(transformed.image_specs(condition_spec(model)))
    for name in signature_names(transform):  # "encode" first: it becomes serving_default
        archive.add_endpoint(name=name, fn=finite(functions[name], name), input_signature=specs[name])
    return archive
