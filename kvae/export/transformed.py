"""Signatures on encoded images: what a model trained through `kvae.data.ImageDecoding` also serves.

Image models get three more signatures, `encode_image`, `reconstruct_image`
and `score_image`, whose input `image_bytes` is a batch of encoded
PNG/JPEG/BMP/GIF strings (TF Serving's REST API takes them as
`{"b64": "..."}`), decoded and resized in the graph by the very
`ImageDecoding` the training pipeline used. (Table models need nothing here:
they standardise inside, `kvae.preprocessing`, so every signature takes raw
rows.)
"""

import tensorflow as tf

from kvae.data.transforms import ImageDecoding, Standardization
from kvae.export.gating import gated

IMAGE_SIGNATURES = ("encode_image", "reconstruct_image", "score_image")
IMAGE_INPUT = "image_bytes"
# The most pixels an encoded image sent to a server may declare (a 4096 × 4096 image): a few bytes of
# PNG can declare a 100,000² image, whose decoding alone would take the server's memory.
MAX_IMAGE_PIXELS = 2**24


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


def image_specs(condition_spec):
    spec = tf.TensorSpec([None], tf.string, name=IMAGE_INPUT)
    return {name: [spec] + ([condition_spec] if condition_spec is not None else []) for name in IMAGE_SIGNATURES}


def declared_pixels(encoded):
    """Height × width an encoded PNG, GIF, BMP or JPEG image declares in its header (int64; 0 if unknown).

    Read from the first bytes (JPEG: `tf.image.extract_jpeg_shape`), without
    decoding, so a request can be refused before its images are decoded.
    """
    head = tf.strings.substr(tf.strings.join([encoded, tf.constant(b"\0" * 32)]), 0, 32)
    b = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.int64)

    def big(i, n):
        return sum(b[i + j] * 256 ** (n - 1 - j) for j in range(n))

    def little(i, n):
        return sum(b[i + j] * 256**j for j in range(n))

    def bmp():
        height = little(22, 4)
        return little(18, 4) * tf.where(height >= 2**31, 2**32 - height, height)  # negative: stored top-down

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(encoded), tf.int64)
        return shape[0] * shape[1]

    return tf.case([
        (tf.reduce_all(tf.equal(b[:4], [0x89, 0x50, 0x4E, 0x47])), lambda: big(16, 4) * big(20, 4)),
        (tf.reduce_all(tf.equal(b[:3], [0x47, 0x49, 0x46])), lambda: little(6, 2) * little(8, 2)),
        (tf.reduce_all(tf.equal(b[:2], [0x42, 0x4D])), bmp),
        (tf.reduce_all(tf.equal(b[:2], [0xFF, 0xD8])), jpeg),
    ], default=lambda: tf.constant(0, tf.int64))


def image_functions(functions, decoding, max_batch, max_pixels=MAX_IMAGE_PIXELS):
    """`encode_image`, `reconstruct_image`, `score_image`: the x signatures behind `decoding.decode_batch`.

    A request is refused before decoding if it holds more than `max_batch`
    images or an image that declares more than `max_pixels` pixels.
    """

    def checked(image_bytes):
        flat = tf.reshape(image_bytes, [-1])
        pixels = tf.map_fn(declared_pixels, flat, fn_output_signature=tf.int64)  # headers only: no decoding
        ok = [tf.equal(tf.rank(image_bytes), 1), tf.size(flat) <= max_batch, tf.reduce_all(pixels <= max_pixels)]
        checks = [
            tf.debugging.Assert(ok[0], [
                f"input `{IMAGE_INPUT}` must have shape [batch] (one encoded image per row), received",
                tf.shape(image_bytes)]),
            tf.debugging.Assert(ok[1], [
                f"input `{IMAGE_INPUT}` must have at most {max_batch} rows (max_batch), received", tf.size(flat)]),
            tf.debugging.Assert(ok[2], [
                f"input `{IMAGE_INPUT}`: an image declares more than {max_pixels} pixels, received",
                tf.reduce_max(tf.concat([pixels, [0]], 0))]),
        ]
        with tf.control_dependencies(checks):  # decoding sees an empty batch unless every check passed
            return tf.identity(gated(flat, tf.reduce_all(tf.stack(ok)), [None]))

    def on_images(name):
        def fn(image_bytes, condition=None):
            x = decoding.decode_batch(checked(image_bytes))
            return functions[name](x) if condition is None else functions[name](x, condition)

        return fn

    return {f"{name}_image": on_images(name) for name in ("encode", "reconstruct", "score")}

