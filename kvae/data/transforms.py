"""Input transforms shared by training pipelines and exported signatures.

A model trained on a folder of images or on a table sees transformed inputs:
decoded, resized pixels in [0, 1], or standardised columns. The same object
does the transform in the `tf.data` pipeline and inside the exported
SavedModel's graph, so a served request is transformed exactly as training
data was. Both are registered Keras-serialisable objects: a run folder keeps
their config (`kvae.data.save_transform`) and `kvae export` rebuilds them.
"""

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kvae import atomic
from kvae.preprocessing import Standardize

TRANSFORM_FILE = "transform.json"


@keras.saving.register_keras_serializable(package="kvae")
class ImageDecoding:
    """Encoded image bytes (PNG, JPEG, BMP, GIF) → float32 `[H, W, C]` in [0, 1].

    The ops of Keras' `image_dataset_from_directory`: `tf.image.decode_image`
    with a fixed channel count (converting grey, RGB and RGBA alike; the
    first frame of a GIF), then `tf.image.resize` (bilinear), then a scale
    by 1/255.

    Args:
        image_size: `(height, width)` the images are resized to.
        channels: int. 1 (grey) or 3 (RGB).

    Example:

    >>> import tensorflow as tf, kvae
    >>> png = tf.io.encode_png(tf.fill([4, 6, 3], tf.constant(255, tf.uint8)))
    >>> decoding = kvae.data.ImageDecoding((2, 3), channels=1)
    >>> image = decoding.decode(png)
    >>> tuple(image.shape), float(tf.reduce_max(image))
    ((2, 3, 1), 1.0)
    """

    def __init__(self, image_size, channels):
        self.image_size = parse_image_size(image_size, "image_size")
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 (grey) or 3 (RGB), received: {channels!r}")
        self.channels = int(channels)

    @property
    def event_shape(self):
        return (*self.image_size, self.channels)

    def decode(self, encoded):
        """One encoded image (a scalar string tensor) → `[H, W, C]` float32 in [0, 1]."""
        def native():
            return tf.image.decode_image(encoded, channels=self.channels, expand_animations=False)

        def gif_to_grey():
            # GIF decodes to RGB only (channels=1 is an error for it): its first frame, converted to grey.
            return tf.image.rgb_to_grayscale(tf.image.decode_image(encoded, channels=3, expand_animations=False))

        if self.channels == 1:
            image = tf.cond(tf.strings.substr(encoded, 0, 3) == "GIF", gif_to_grey, native)
        else:
            image = native()
        image = tf.image.resize(image, self.image_size, method="bilinear")
        image = tf.ensure_shape(image, self.event_shape)
        return image / 255.0

    def decode_batch(self, encoded):
        """A batch of encoded images `[batch]` → `[batch, H, W, C]` (what the image signatures do)."""
        return tf.map_fn(self.decode, encoded, fn_output_signature=tf.TensorSpec(self.event_shape, tf.float32))

    def load(self, path):
        """The image file at `path` → `[H, W, C]` (what the image-folder pipeline does)."""
        return self.decode(tf.io.read_file(path))

    def preprocessing(self):
        """None: decoding bytes is not a bijection, so it stays in the pipeline and the served image signatures."""
        return None

    def get_config(self):
        return {"image_size": list(self.image_size), "channels": self.channels}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="kvae")
class Standardization:
    """Columns standardised by training-split statistics: `(x − mean) / stddev`.

    A table's statistics (`kvae.data.TableSource.transform`) and what a
    kvae 0.1 run folder's `transform.json` holds. The model applies them
    itself: `preprocessing()` is the same map as a
    `kvae.preprocessing.Standardize` part, which also turns densities into
    densities of the raw rows.

    Args:
        mean: sequence of float. Per-column mean of the training split.
        stddev: sequence of float. Per-column standard deviation (> 0;
            constant columns get 1).

    Example:

    >>> import numpy as np, kvae
    >>> s = kvae.data.Standardization(mean=[1.0, 10.0], stddev=[2.0, 5.0])
    >>> s.forward(np.array([[3.0, 0.0]], "float32")).numpy().tolist()
    [[1.0, -2.0]]
    """

    def __init__(self, mean, stddev):
        self.mean = np.asarray(mean, np.float64).reshape(-1)
        self.stddev = np.asarray(stddev, np.float64).reshape(-1)
        if self.mean.shape != self.stddev.shape:
            raise ValueError(
                f"`mean` and `stddev` must have one value per column, received {len(self.mean)} and "
                f"{len(self.stddev)}"
            )
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.stddev)) and np.all(self.stddev > 0)):
            raise ValueError("`stddev` must be finite and > 0 and `mean` finite")

    @classmethod
    def from_moments(cls, count, total, total_squares):
        """From a streaming pass: row count, per-column sums and sums of squares (float64)."""
        mean = total / count
        variance = np.maximum(total_squares / count - mean**2, 0.0)
        stddev = np.sqrt(variance)
        return cls(mean, np.where(stddev > 1e-12, stddev, 1.0))

    @property
    def event_shape(self):
        return (len(self.mean),)

    def forward(self, x):
        return (tf.cast(x, tf.float32) - self.mean.astype(np.float32)) / self.stddev.astype(np.float32)

    def inverse(self, x):
        return x * self.stddev.astype(np.float32) + self.mean.astype(np.float32)

    def scale(self, x):
        """A spread (e.g. a decoder's stddev) in raw units."""
        return x * self.stddev.astype(np.float32)

    def preprocessing(self):
        """The same map as a part of the model: `kvae.preprocessing.Standardize`."""
        return Standardize(self.mean, self.stddev, name="preprocessing")

    def get_config(self):
        return {"mean": self.mean.tolist(), "stddev": self.stddev.tolist()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def parse_image_size(value, argument="--image-size"):
    """`"28x28"`, `28`, or `(28, 28)` → `(28, 28)`."""
    if isinstance(value, str):
        parts = value.lower().split("x")
        try:
            parts = [int(p) for p in parts]
        except ValueError:
            parts = []
        if len(parts) == 1:
            parts = parts * 2
    elif isinstance(value, int):
        parts = [value, value]
    else:
        parts = list(value) if value is not None else []
    if len(parts) != 2 or not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p > 0
                                  for p in parts):
        raise ValueError(f"`{argument}` must be HxW with positive integers, e.g. 28x28, received: {value!r}")
    return (int(parts[0]), int(parts[1]))


def save_transform(run_dir, transform):
    """Writes `transform` to `run_dir/transform.json` (None: removes a stale one)."""
    path = Path(run_dir) / TRANSFORM_FILE
    if transform is None:
        path.unlink(missing_ok=True)
        return
    payload = keras.saving.serialize_keras_object(transform)
    atomic.write_text(path, json.dumps(payload, indent=2) + "\n")


def load_transform(run_dir):
    """The transform a run was trained with, or None (arrays, and runs from before transforms existed)."""
    path = Path(run_dir) / TRANSFORM_FILE
    if not path.is_file():
        return None
    return keras.saving.deserialize_keras_object(json.loads(path.read_text()))
