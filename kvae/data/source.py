"""`Source`: a data set as training and test streams, in memory or read from files.

`kvae train` reads every data set through this interface: the arrays it
always knew (`ArraySource`, over `DataSplits`) and the streaming sources of
users' files (`ImageFolder`, `TFRecordSource`, `TableSource`). A training
stream is endless and epoch-keyed: epoch e's batches are a pure function of
`(seed, e)`, so a run resumed at epoch e (or at batch b of it) trains on the
same batches as one uninterrupted run.
"""

import contextlib

import numpy as np
import tensorflow as tf

from kvae import conditions
from kvae.data.pipeline import _LAST_EPOCH, as_written, make_dataset
from kvae.data.splits import DataSplits


class Source:
    """What a training run needs from a data set.

    Attributes:
        name: str. Names the default run folder.
        event_shape: tuple. Shape of one example.
        num_train, num_test: int. Examples in each split.
        class_names: list of str or None. Labels are class ids into it.
        transform: `ImageDecoding`, `Standardization` or None: what turns
            the user's raw inputs into the model's. Image decoding happens
            in the pipeline (and the served image signatures); a table's
            standardisation is the model's own (`preprocessing()`), so its
            pipeline yields the rows as they are in the file.
        streaming: bool. Read from files, epoch by epoch.
    """

    name = "data"
    transform = None
    class_names = None
    streaming = True

    def preprocessing(self):
        """The model part this data's transform becomes (`kvae.preprocessing`), or None (it stays in the pipeline)."""
        return None if self.transform is None else self.transform.preprocessing()

    @property
    def has_labels(self):
        return self.class_names is not None

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        """An endless stream of epochs `start_epoch, start_epoch + 1, ...` of batches.

        Args:
            batch_size: int. Examples per batch (the global batch, or one
                input pipeline's share of it when `shard` is given).
            seed: int. Seed of each epoch's order (and binarisation noise).
            start_epoch: int. The first epoch of the stream.
            with_labels: bool. Batches of `(x, class ids)` pairs (Keras' `(x, y)`).
            binarize: bool. Dynamic binarisation (values in [0, 1]).
            shard: `(num_shards, index)` or None. Read only files
                `index, index + num_shards, ...` (sources with `num_files`).
            steps: int or None. Make every epoch exactly this many batches
                (a shard's own share wraps around or is cut): workers reading
                different files must still agree on an epoch's length.
        """
        raise NotImplementedError

    num_files = 0  # files a training stream can be sharded by (0: shard by data)

    def validate(self):
        """Checks every example the source will stream; raises a `ValueError` naming the file and record.

        File sources run it when opened; `kvae train` runs it again when a
        read fails or the loss turns NaN mid-run, to say which file changed.
        Arrays in memory were checked when loaded: nothing to do.
        """

    def test_dataset(self, batch_size, with_labels=False):
        """One pass over the test split, in a fixed order."""
        raise NotImplementedError

    def fingerprint(self):
        """What the decoded examples depend on, as JSON-able values: `{"identity": ..., ...}`.

        `identity` names the source and its options (the same folder read the
        same way); the rest says when its files changed (paths, sizes,
        modification times). `DiskCache` keys its entries by it.
        """
        raise ValueError(
            f"a disk cache needs a file source that can tell when its files change; {type(self).__name__} "
            "cannot (image folders can): cache it in memory instead (`cached()`, --cache)"
        )

    def ordered_dataset(self, split, batch_size):
        """Batches of `(x, class ids)` of `split` ("train" or "test") in its fixed order (for `DiskCache`)."""
        raise NotImplementedError

    def test_arrays(self, limit=None):
        """The first `limit` test examples (all by default) and their labels (or None), as arrays."""
        x, y = [], []
        taken = 0
        for batch in self.test_dataset(256, with_labels=self.has_labels):
            xb, yb = batch if self.has_labels else (batch, None)
            x.append(xb.numpy())
            if yb is not None:
                y.append(yb.numpy())
            taken += len(x[-1])
            if limit is not None and taken >= limit:
                break
        x = np.concatenate(x)[:limit]
        return x, (np.concatenate(y)[:limit] if y else None)

    def cached(self):
        """This data set decoded once into memory (an `ArraySource`): the fastest pipeline, if it fits."""
        x_train, y_train = [], []
        for batch in self.train_dataset(1024, seed=0, with_labels=self.has_labels).take(
                -(-self.num_train // 1024)):
            xb, yb = batch if self.has_labels else (batch, None)
            x_train.append(xb.numpy())
            if yb is not None:
                y_train.append(yb.numpy())
        x_test, y_test = self.test_arrays()
        splits = DataSplits(self.name, np.concatenate(x_train), x_test,
                            np.concatenate(y_train) if y_train else None, y_test)
        return ArraySource(splits, class_names=self.class_names, transform=self.transform)


class ArraySource(Source):
    """A `DataSplits` in memory, on `make_dataset`'s gather-per-batch pipeline.

    Example:

    >>> import kvae
    >>> source = kvae.data.ArraySource(kvae.data.load_digits())
    >>> source.num_train, source.event_shape, source.has_labels
    (1437, (8, 8, 1), True)
    """

    streaming = False

    def __init__(self, splits, class_names=None, transform=None):
        self.splits = splits
        self.name = splits.name
        self.event_shape = splits.event_shape
        self.num_train, self.num_test = len(splits.x_train), len(splits.x_test)
        self.transform = transform
        for name, y in (("y_train", splits.y_train), ("y_test", splits.y_test)):
            if y is not None:
                conditions.check_class_ids(y, f"labels `{name}` of {splits.name!r}")
        if class_names is None and splits.y_train is not None and splits.y_test is not None:
            class_names = [str(k) for k in range(int(max(splits.y_train.max(), splits.y_test.max())) + 1)]
        self.class_names = class_names

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        if shard is not None or steps is not None:
            raise ValueError("arrays in memory are sharded by data (tf.data's AutoShardPolicy.DATA), not by file")
        return make_dataset(self.splits.x_train, batch_size, shuffle=True, seed=seed, binarize=binarize,
                            start_epoch=start_epoch, y=self.splits.y_train if with_labels else None)

    def test_dataset(self, batch_size, with_labels=False):
        return make_dataset(self.splits.x_test, batch_size, y=self.splits.y_test if with_labels else None)

    def test_arrays(self, limit=None):
        y = self.splits.y_test
        return self.splits.x_test[:limit], (None if y is None else y[:limit])


@contextlib.contextmanager
def stream_errors(source):
    """Turns a failed read of `source`'s files during `fit` into a one-line error naming file and record.

    A file changed after it was opened and checked (`Source.validate`) fails
    mid-stream with TensorFlow's own message, which names neither. The
    source is checked again to find the culprit; the run's backup is
    untouched, so the same command resumes once the file is fixed.
    """
    try:
        yield
    except (tf.errors.InvalidArgumentError, tf.errors.DataLossError, tf.errors.NotFoundError) as e:
        if not source.streaming:
            raise
        try:
            source.validate()
        except ValueError as found:
            raise ValueError(f"{found}; the file changed after it was checked: fix it and run the same command "
                             "to resume from the last backup") from None
        lines = [line.strip() for line in e.message.splitlines() if line.strip()
                 and not line.strip().startswith(("Graph execution error", "Detected at node", "<stack", "[["))]
        raise ValueError(f"reading the training data failed mid-run ({(lines or [type(e).__name__])[0][:200]}); "
                         "run the same command to resume from the last backup") from None


def epoch_stream(start_epoch, seed, make_epoch):
    """Epochs `start_epoch, ...` of `make_epoch(epoch_seed)`, each keyed by `(seed, epoch)`."""
    base = tf.constant(0 if seed is None else seed, tf.int64)
    return tf.data.Dataset.range(start_epoch, _LAST_EPOCH).flat_map(
        as_written(lambda epoch: make_epoch(tf.stack([base, epoch]))))


def permutation(n, epoch_seed):
    """A stateless permutation of `range(n)` keyed by `epoch_seed`."""
    return tf.argsort(tf.random.stateless_uniform([n], seed=epoch_seed))


def shard_of(array, shard):
    """`array[index::num_shards]` for `shard = (num_shards, index)`, or `array` for None."""
    if shard is None:
        return array
    num_shards, index = shard
    return array[index::num_shards]


def fixed_length(ds, steps):
    """An epoch's batches made exactly `steps` long (wrapping around), or left as they are for None."""
    return ds if steps is None else ds.repeat().take(steps)


def rotate(rows, n, epoch_seed):
    """`rows` (n of them) started at a seeded offset, wrapping around.

    A streamed source cannot permute its rows; it feeds a shuffle buffer,
    whose draw pattern (seeded by the run's seed) is the same in every epoch.
    Starting each epoch's stream at an offset keyed by `(seed, epoch)` gives
    every epoch other batches, still a pure function of `(seed, epoch)`.
    The cost is reading up to one extra pass's worth of skipped rows.
    """
    offset = tf.random.stateless_uniform([], seed=epoch_seed, maxval=max(int(n), 1), dtype=tf.int64)
    return rows.skip(offset).concatenate(rows.take(offset))


def binarize_batches(ds, epoch_seed, has_labels):
    """Dynamic binarisation of each batch, noise keyed by `(epoch_seed, batch index)`."""

    def draw(i, batch):
        x = batch[0] if has_labels else batch
        u = tf.random.stateless_uniform(tf.shape(x), seed=tf.random.experimental.stateless_fold_in(epoch_seed, i))
        x = tf.cast(u < x, x.dtype)
        return (x, batch[1]) if has_labels else x

    return ds.enumerate().map(as_written(draw))


def counted(ds, num_examples, batch_size):
    """`ds` declared to hold `ceil(num_examples / batch_size)` batches (Keras then knows an epoch's length)."""
    return ds.apply(tf.data.experimental.assert_cardinality(-(-num_examples // batch_size)))


def stream_options(policy=tf.data.experimental.AutoShardPolicy.DATA):
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = policy
    options.deterministic = True
    return options
