"""Conditions of a conditional VAE: class labels (one-hot inside) or real-valued vectors.

A VAE built with `num_classes=C` takes labels as class ids `[batch]` (any
integer dtype, or `[batch, 1]`) or as one-hot rows `[batch, C]`; inside, the
encoder and decoder see one-hot float32 rows. With `condition_shape=S` it takes
float values `[batch, *S]` as they are.
"""

import math

import numpy as np
import tensorflow as tf

# The most classes a data set's labels may name: a label is a class id in [0, MAX_CLASSES), so that one
# stray value (10**7) cannot build a model of that many classes.
MAX_CLASSES = 10_000


def check_config(num_classes, condition_shape):
    """Validates the model's `num_classes` / `condition_shape`; returns them normalised."""
    if num_classes is not None and condition_shape is not None:
        raise ValueError(
            "a conditional VAE takes `num_classes` (labels) or `condition_shape` (real values), not both; "
            f"received num_classes={num_classes!r}, condition_shape={condition_shape!r}"
        )
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 2:
            raise ValueError(f"`num_classes` must be an integer >= 2, received: {num_classes!r}")
        num_classes = int(num_classes)
    if condition_shape is not None:
        shape = (condition_shape,) if isinstance(condition_shape, (int, np.integer)) else tuple(condition_shape)
        if not shape or any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d <= 0 for d in shape):
            raise ValueError(f"`condition_shape` must be a tuple of positive integers, received: {condition_shape!r}")
        condition_shape = tuple(int(d) for d in shape)
    return num_classes, condition_shape


def input_shape(num_classes, condition_shape):
    """The shape of one condition as the networks see it: `(C,)`, `condition_shape`, or None."""
    if num_classes is not None:
        return (num_classes,)
    return condition_shape


def to_condition(labels, num_classes, condition_shape, dtype="float32"):
    """The networks' condition tensor `[batch, *input_shape]` from labels or condition values.

    Example:

    >>> from kvae import conditions
    >>> conditions.to_condition([2, 0], num_classes=3, condition_shape=None).numpy()
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    labels = tf.convert_to_tensor(labels)
    if num_classes is None:
        return tf.cast(labels, dtype)
    if labels.shape.rank == 2 and labels.shape[-1] == 1:
        labels = labels[:, 0]
    if labels.shape.rank == 1:  # class ids
        return tf.one_hot(tf.cast(labels, tf.int32), num_classes, dtype=dtype)
    return tf.cast(labels, dtype)  # one-hot rows


def check_labels(labels, num_classes, condition_shape, num_examples, argument="labels"):
    """Host-side check of array labels for `num_examples` examples; raises a clear error.

    Class ids must be integers in [0, C); one-hot rows `[n, C]`; condition
    values `[n, *condition_shape]` and finite.
    """
    labels = np.asarray(labels)
    if len(labels) != num_examples:
        raise ValueError(f"`{argument}` must have one row per example ({num_examples}), received {len(labels)}")
    if num_classes is None:
        expected = (num_examples,) + tuple(condition_shape)
        if labels.shape != expected or not np.issubdtype(labels.dtype, np.number):
            raise ValueError(
                f"`{argument}` must be condition values of shape {expected}, received shape {labels.shape}"
            )
        if not np.isfinite(labels).all():
            raise ValueError(f"`{argument}` must hold finite values, received NaN or Inf")
        return
    if labels.ndim == 2 and labels.shape[1] == num_classes and num_classes > 1:
        return  # one-hot rows
    ids = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.number) or not np.all(np.mod(ids, 1) == 0):
        raise ValueError(
            f"`{argument}` must be class ids [n] or one-hot rows [n, {num_classes}], "
            f"received shape {labels.shape} of {labels.dtype}"
        )
    if ids.size and (ids.min() < 0 or ids.max() >= num_classes):
        raise ValueError(
            f"`{argument}` must be class ids in [0, {num_classes}), received values in [{ids.min()}, {ids.max()}]"
        )


def check_class_ids(ids, where):
    """Raises unless `ids` are class ids: numeric, integral, in [0, MAX_CLASSES); `where` names their source.

    Example:

    >>> from kvae import conditions
    >>> conditions.check_class_ids([0, 2, 1], "`y`")
    >>> conditions.check_class_ids([0, -1], "`y`")
    Traceback (most recent call last):
    ...
    ValueError: `y` must hold class ids, integers in [0, 10000); received -1 (example 2)
    """
    ids = np.asarray(ids)
    if ids.size == 0:
        return
    if not (np.issubdtype(ids.dtype, np.integer) or np.issubdtype(ids.dtype, np.floating)):
        raise ValueError(f"{where} must hold class ids, integers in [0, {MAX_CLASSES}); received values of "
                         f"type {ids.dtype} (e.g. {ids.reshape(-1)[0].item()!r}): map class names to ids first")
    flat = ids.reshape(-1)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(flat) | (flat < 0) | (flat >= MAX_CLASSES) | (np.mod(flat, 1) != 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{where} must hold class ids, integers in [0, {MAX_CLASSES}); received {flat[i].item()!r} "
                         f"(example {i + 1})")


def size(num_classes, condition_shape):
    """Values per condition: C, or the product of `condition_shape` (0 when unconditional)."""
    shape = input_shape(num_classes, condition_shape)
    return 0 if shape is None else math.prod(shape)
