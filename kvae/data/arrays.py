"""NumPy arrays given to `fit`, `evaluate` and `predict`, on `make_dataset`'s fast pipeline.

Keras turns arrays into a tf.data pipeline whose `map` and `prefetch` use
`AUTOTUNE`; on a 2-core machine the autotuner's threads compete with the
training step (every other epoch ran at about 0.6× the speed). `VAE` instead
feeds arrays through the pipeline of `kvae.data.make_dataset` (one `gather`
per batch, fixed prefetch, no autotuning) and keeps Keras' documented meaning
of every argument:

- `batch_size` (default 32, or `ceil(n / steps_per_epoch)` when only
  `steps_per_epoch` is given), `shuffle` (`True`: a new permutation every
  epoch; `"batch"`: batches in order, shuffled within; `False`),
  `sample_weight` (per example), `steps_per_epoch`, `initial_epoch`,
  `validation_steps`, `validation_freq`;
- `validation_split`: the *last* fraction of the arrays, taken before
  shuffling; `validation_data`: an array, a tuple of arrays `(x, y,
  sample_weight)`, or any dataset (left to Keras); `validation_batch_size`.

`sample_weight` is honoured also without `y` (Keras 3.15's own adapter drops
it when `y` is None: `pack_x_y_sample_weight` returns `x` alone). Anything
else falls back to Keras' own adapter: `class_weight` (a VAE has no
classes), and data that is not a NumPy array or an eager tensor (a
`tf.data.Dataset`, a generator, a `PyDataset`, a dict of inputs).
"""

import math

import numpy as np
import tensorflow as tf

from kvae.data.pipeline import _one_pass, _options

# Keras' batch size when neither `batch_size` nor `steps_per_epoch` is given.
KERAS_DEFAULT_BATCH_SIZE = 32


def is_array(value):
    """Whether `value` takes the fast path: a NumPy array or an eager tensor."""
    return isinstance(value, np.ndarray) or (tf.is_tensor(value) and hasattr(value, "numpy"))


def array_dataset(x, y=None, sample_weight=None, batch_size=None, shuffle=False, steps=None, seed=None):
    """A one-pass dataset of batches from arrays: `x`, `(x, y)` or `(x, y, sample_weight)`.

    Trailing None entries are left out of the elements (`x` alone when both
    are None), as Keras' own adapter does and as a `tf.distribute` iterator
    needs; `(x, None, sample_weight)` keeps its None.

    Args:
        x: array `[n, ...]`. The examples.
        y: array `[n, ...]` or None. Targets: a conditional VAE's conditions (others ignore them).
        sample_weight: array `[n]` or None. Per-example weights.
        batch_size: int or None. Examples per batch (None: Keras' default).
        shuffle: bool or `"batch"`. As in `keras.Model.fit`.
        steps: int or None. Batches per epoch, used for the batch size when
            `batch_size` is None (as Keras does).
        seed: int or None. Seed of the order (None: drawn from NumPy's global
            generator, which `keras.utils.set_random_seed` seeds). Under
            `MultiWorkerMirroredStrategy` every worker must draw the same
            order (each keeps its slice of every global batch): seed every
            worker alike, or use `make_dataset(..., seed=s, start_epoch=0)`
            as `kvae train` does.

    Example:

    >>> import numpy as np, kvae
    >>> ds = kvae.data.array_dataset(np.zeros((10, 3)), sample_weight=np.ones(10), batch_size=4)
    >>> [(tuple(x.shape), y, tuple(w.shape)) for x, y, w in ds]
    [((4, 3), None, (4,)), ((4, 3), None, (4,)), ((2, 3), None, (2,))]
    >>> [tuple(x.shape) for x in kvae.data.array_dataset(np.zeros((10, 3)), batch_size=4)]  # x alone
    [(4, 3), (4, 3), (2, 3)]
    """
    x = _float32(x)
    n = len(x)
    if batch_size is None:
        batch_size = math.ceil(n / steps) if steps else KERAS_DEFAULT_BATCH_SIZE
    arrays = (x, None if y is None else np.asarray(y), None if sample_weight is None else _weights(sample_weight, n))
    while arrays[-1] is None:  # no None in the elements: a tf.distribute iterator cannot carry one
        arrays = arrays[:-1]
    if seed is None and shuffle:
        seed = int(np.random.randint(0, 2**31 - 1))
    ds = _one_pass(arrays if len(arrays) > 1 else x, int(batch_size), shuffle, False, seed)
    return ds.prefetch(2).with_options(_options())


def fit_arguments(arguments):
    """`keras.Model.fit` arguments with array data replaced by `array_dataset`s, or None to leave them to Keras."""
    x = arguments.get("x")
    if not is_array(x) or arguments.get("class_weight") is not None:
        return None
    arguments = dict(arguments)
    y, sample_weight = arguments.pop("y", None), arguments.pop("sample_weight", None)
    batch_size = arguments.pop("batch_size", None)
    split = arguments.pop("validation_split", 0.0)
    validation = arguments.get("validation_data")
    if split and validation is None:
        # Keras' rule: the last `split` of the samples, before any shuffling.
        at = int(math.floor(len(x) * (1.0 - split)))
        if at in (0, len(x)):
            raise ValueError(
                f"`validation_split` must leave examples on both sides of the split of {len(x)} "
                f"examples, received: {split!r}"
            )
        validation = tuple(None if a is None else a[at:] for a in (x, y, sample_weight))
        x, y, sample_weight = (None if a is None else a[:at] for a in (x, y, sample_weight))
    arguments["x"] = array_dataset(x, y, sample_weight, batch_size, arguments.pop("shuffle", True),
                                   steps=arguments.get("steps_per_epoch"))
    if validation is not None and not isinstance(validation, tf.data.Dataset):
        val_x, val_y, val_weight = _unpack(validation)
        if is_array(val_x):
            validation = array_dataset(val_x, val_y, val_weight, arguments.pop("validation_batch_size", None)
                                       or batch_size, steps=arguments.get("validation_steps"))
    if validation is not None:
        arguments["validation_data"] = validation
    arguments["shuffle"] = False  # the pipeline shuffles; Keras would warn that it ignores it
    return arguments


def evaluate_arguments(arguments):
    """`keras.Model.evaluate` (or `predict`) arguments with array data on the fast path, or None."""
    x = arguments.get("x")
    if not is_array(x):
        return None
    arguments = dict(arguments)
    arguments["x"] = array_dataset(x, arguments.pop("y", None), arguments.pop("sample_weight", None),
                                   arguments.pop("batch_size", None), steps=arguments.get("steps"))
    return arguments


def _unpack(data):
    if isinstance(data, (tuple, list)):
        data = tuple(data) + (None,) * (3 - len(data))
        return data[:3]
    return data, None, None


def _float32(x):
    x = np.asarray(x)
    # The model computes in float32 (also under mixed precision, for the likelihood).
    return x if x.dtype == np.float32 or x.dtype.kind not in "uif" else x.astype(np.float32)


def _weights(sample_weight, n):
    weights = np.asarray(sample_weight, np.float32)
    if weights.shape not in ((n,), (n, 1)):
        raise ValueError(
            f"`sample_weight` must have shape ({n},), one weight per example, received shape {weights.shape}"
        )
    return weights.reshape(n)
