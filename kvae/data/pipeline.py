"""`tf.data` input pipelines for `VAE.fit`."""

import math

import numpy as np
import tensorflow as tf

from kvae import checks
from kvae import deprecation
from kvae.data.splits import check_examples

# "Forever" for an epoch stream; far beyond any real run, and fits in int64.
_LAST_EPOCH = 2**40


def steps_per_epoch(num_examples, batch_size):
    """Batches in one pass over `num_examples` (the last one may be smaller)."""
    return math.ceil(num_examples / batch_size)


@deprecation.renamed("labels", "y")
def make_dataset(x, batch_size, shuffle=False, seed=None, binarize=False, start_epoch=None, y=None):
    """Returns a batched `tf.data.Dataset` of examples, or of `(x, y)` pairs.

    Two modes:

    - `start_epoch=None` (default): one pass over `x` per iteration, the usual
      Keras input, reshuffled in each pass (a new permutation, seeded by
      `seed`), with optional dynamic binarisation. Each batch is one `gather`
      from the in-memory tensor, so the pipeline costs next to no CPU.
    - `start_epoch=k`: an endless stream of epochs k, k+1, ..., where epoch e is
      a pure function of `(seed, e)`: a stateless permutation, and binarisation
      noise keyed by `(seed, e, batch)`. Pass
      `steps_per_epoch=kvae.data.steps_per_epoch(len(x), batch_size)` to
      `fit`, which then keeps one iterator, so its epoch e gets exactly these
      batches: a run resumed at epoch k (e.g. by `BackupAndRestore`), or run
      under any `tf.distribute` strategy, trains on the same batches as one
      uninterrupted single-device run.

    `batch_size` is the *global* batch: each replica gets a consecutive slice of
    every batch. The auto-shard policy is `DATA` (in-memory data has no files
    to split), so the global batches are the same on any number of workers.

    Args:
        x: array `[n, ...]` of float32 (in [0, 1] for binarisation).
        batch_size: int. Examples per (global) batch, > 0.
        shuffle: bool. A new order in every epoch.
        seed: int or None. Seed of the order and the binarisation noise.
        binarize: bool. Replace each value p by a fresh Bernoulli(p) draw in
            every epoch (dynamic binarisation, as for binarised MNIST).
        start_epoch: int or None. First epoch of an endless, epoch-keyed stream.
        y: array `[n, ...]` or None. Kept with their examples (a conditional
            VAE's conditions, e.g. class ids); batches are then `(x, y)`
            pairs, as `fit` takes them.

    Example:

    >>> import numpy as np, kvae
    >>> x = np.full((10, 4), 0.5, "float32")
    >>> ds = kvae.data.make_dataset(x, batch_size=4, binarize=True, seed=0)
    >>> [tuple(b.shape) for b in ds]
    [(4, 4), (4, 4), (2, 4)]
    """
    batch_size = checks.positive_int(batch_size, "batch_size")
    x = check_examples(x, "x")
    if binarize and (x.min() < 0 or x.max() > 1):
        raise ValueError(
            f"`x` must be in [0, 1] to binarize, received values in [{x.min():.4g}, {x.max():.4g}]"
        )
    if y is not None:
        y = np.asarray(y)
        if len(y) != len(x):
            raise ValueError(f"`y` must have one row per example ({len(x)}), received {len(y)}")
        x = (x, y)
    if start_epoch is None:
        ds = _one_pass(x, batch_size, shuffle, binarize, seed)
    else:
        if isinstance(start_epoch, bool) or not isinstance(start_epoch, int) or start_epoch < 0:
            raise ValueError(f"`start_epoch` must be an integer >= 0, received: {start_epoch!r}")
        ds = _epoch_stream(x, batch_size, shuffle, binarize, seed, start_epoch)
    return ds.prefetch(2).with_options(_options())


def as_written(fn):
    """`fn`, a `tf.data` function, traced as written: without AutoGraph.

    kvae's data functions branch on Python values only. AutoGraph's rewrite
    of each function and of everything it calls costs tenths of a second per
    pipeline at a run's first epoch, for nothing (Keras' step functions skip
    it too, with the same decorator).
    """
    return tf.autograph.experimental.do_not_convert(fn)


def _options():
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    # One gather per batch needs no tuning. tf.data's autotuner does cost: its
    # background thread and the extra threads it starts took every other epoch
    # from 2.9 s to 5.2 s on a 2-core machine (see the README's Performance).
    options.autotune.enabled = False
    return options


def _one_pass(x, batch_size, shuffle, binarize, seed):
    """One pass per iteration over `x`: an array, or a tuple of arrays (None entries stay None)."""
    # One random int64 per pass (new in every pass, fixed by `seed`) keys that
    # pass's permutation and binarisation noise.
    examples = tuple(None if a is None else tf.constant(a) for a in x) if isinstance(x, tuple) else tf.constant(x)
    pass_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    ds = pass_seeds.flat_map(as_written(
        lambda s: _batches(examples, batch_size, shuffle, binarize, tf.stack([s, 0]))
    ))
    n = len(x[0] if isinstance(x, tuple) else x)
    return ds.apply(tf.data.experimental.assert_cardinality(steps_per_epoch(n, batch_size)))


def _epoch_stream(x, batch_size, shuffle, binarize, seed, start_epoch):
    examples = tuple(tf.constant(a) for a in x) if isinstance(x, tuple) else tf.constant(x)
    base_seed = tf.constant(0 if seed is None else seed, tf.int64)
    return tf.data.Dataset.range(start_epoch, _LAST_EPOCH).flat_map(as_written(
        lambda epoch: _batches(examples, batch_size, shuffle, binarize, tf.stack([base_seed, epoch]))
    ))


def _batches(examples, batch_size, shuffle, binarize, epoch_seed):
    """One epoch of batches, a pure function of `epoch_seed`.

    Batch i is one `gather` of rows `order[i * batch_size : (i + 1) * batch_size]`
    of the in-memory tensor (of each tensor, for a tuple such as `(x, None,
    sample_weight)`). Per-element pipelines (`from_tensor_slices` → `shuffle`
    → `batch`) cost about 2 ms of CPU per batch of 128 images, a third of a
    training step on a 2-core machine (see `bench/`). `shuffle="batch"`
    keeps the order of the batches and shuffles within each (Keras' meaning).
    """
    first = examples[0] if isinstance(examples, tuple) else examples
    n = tf.shape(first, out_type=tf.int64)[0]
    if shuffle and shuffle != "batch":
        order = tf.argsort(tf.random.stateless_uniform([n], seed=epoch_seed))
    else:
        order = tf.range(n)
    num_batches = (n + batch_size - 1) // batch_size

    def load(i):
        batch_seed = tf.random.experimental.stateless_fold_in(epoch_seed, i)
        idx = order[i * batch_size : (i + 1) * batch_size]
        if shuffle == "batch":
            idx = tf.gather(idx, tf.argsort(tf.random.stateless_uniform(tf.shape(idx), seed=batch_seed)))
        if isinstance(examples, tuple):
            batch = tuple(None if t is None else tf.gather(t, idx) for t in examples)
            return ((_binarize(batch[0], batch_seed),) + batch[1:]) if binarize else batch
        batch = tf.gather(examples, idx)
        if binarize:
            batch = _binarize(batch, batch_seed)
        return batch

    return tf.data.Dataset.range(num_batches).map(as_written(load))


def binarize(x, seed=0):
    """A fixed binarisation of `x` in [0, 1]: each value p becomes a Bernoulli(p) draw.

    For evaluating a model trained with `make_dataset(..., binarize=True)`:
    the test set is binarised once, with `seed`, so every evaluation and
    every model sees the same binary examples (as for binarised MNIST).

    Example:

    >>> import numpy as np, kvae
    >>> x = kvae.data.binarize(np.full((1000, 4), 0.25, "float32"), seed=0)
    >>> sorted(np.unique(x)), round(float(x.mean()), 2)
    ([np.float32(0.0), np.float32(1.0)], 0.25)
    """
    x = check_examples(x, "x")
    if x.min() < 0 or x.max() > 1:
        raise ValueError(
            f"`x` must be in [0, 1] to binarize, received values in [{x.min():.4g}, {x.max():.4g}]"
        )
    u = np.random.default_rng(seed).uniform(size=x.shape)
    return (u < x).astype(np.float32)


def _binarize(batch, seed):
    u = tf.random.stateless_uniform(tf.shape(batch), seed=seed)
    return tf.cast(u < batch, batch.dtype)
