"""`tf.data` input pipelines for `VAE.fit`."""

import tensorflow as tf


def make_dataset(x, batch_size, shuffle=False, seed=None, binarize=False):
    """Returns a batched `tf.data.Dataset` of examples (no labels).

    cache → shuffle (reshuffled each epoch) → batch → optional dynamic
    binarisation → prefetch.

    Args:
        x: array `[n, ...]` of float32 in [0, 1] (for binarisation).
        batch_size: int. Examples per batch, > 0.
        shuffle: bool. Shuffle the whole set every epoch.
        seed: int or None. Seed of the shuffle and the binarisation noise.
        binarize: bool. Replace each value p by a fresh Bernoulli(p) draw in
            every epoch (dynamic binarisation, as for binarised MNIST).

    Example:

    >>> import numpy as np, kvae
    >>> x = np.full((10, 4), 0.5, "float32")
    >>> ds = kvae.data.make_dataset(x, batch_size=4, binarize=True, seed=0)
    >>> [tuple(b.shape) for b in ds]
    [(4, 4), (4, 4), (2, 4)]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"`batch_size` must be a positive integer, received: {batch_size!r}")
    ds = tf.data.Dataset.from_tensor_slices(x).cache()
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    if binarize:
        # One int64 per batch, different in every epoch but fixed by `seed`:
        # stateless draws keep the pipeline deterministic and parallel-safe.
        noise_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, noise_seeds)).map(
            _binarize, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
        )
    return ds.prefetch(tf.data.AUTOTUNE)


def _binarize(batch, noise_seed):
    u = tf.random.stateless_uniform(tf.shape(batch), seed=tf.stack([noise_seed, 0]))
    return tf.cast(u < batch, batch.dtype)
