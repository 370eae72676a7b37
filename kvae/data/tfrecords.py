"""`TFRecordSource`: `tf.train.Example` records from TFRecord files (a glob), streamed."""

import re

import numpy as np
import tensorflow as tf

from kvae import conditions
from kvae.data.pipeline import as_written
from kvae.data.source import (
    Source,
    binarize_batches,
    counted,
    epoch_stream,
    fixed_length,
    permutation,
    rotate,
    shard_of,
    stream_options,
)
from kvae.data.transforms import ImageDecoding, parse_image_size

FEATURE_DTYPES = ("uint8", "float32", "encoded")
# Records read from several files at once; each epoch mixes them through a shuffle buffer.
CYCLE_LENGTH = 4
SHUFFLE_BUFFER = 10_000
_CHUNK = 1024  # records read, split and hashed at once
_HASH_BUCKETS = 2**30


class TFRecordSource(Source):
    """Examples stored as one feature of `tf.train.Example` records.

    - `feature_dtype="uint8"`: raw pixel bytes (`bytes_list`, H·W·C bytes,
      e.g. MNIST's `image_raw`), scaled to [0, 1]; needs `image_size`.
    - `"encoded"`: PNG/JPEG/BMP/GIF bytes, decoded and resized as the image
      folder does (`ImageDecoding`); needs `image_size`.
    - `"float32"`: a `float_list` of fixed length, used as it is (shaped
      `image_size + (channels,)` if `image_size` is given).

    Each epoch reads the files in a new seeded order, `CYCLE_LENGTH` at a
    time, through a seeded shuffle buffer of `SHUFFLE_BUFFER` records: a
    pure function of `(seed, epoch)`. Without `test_pattern`, a fixed
    fraction of records is held out by a seeded hash of (file, record
    index). Opening reads every record once (no decoding) to count the splits
    and check that each has the feature, naming the file that does not.

    Args:
        pattern: str. A glob of TFRecord files, e.g. `"data/train-*.tfrecord"`.
        feature: str. The feature key.
        feature_dtype: str. One of `FEATURE_DTYPES`.
        image_size: `"HxW"`, `(H, W)` or None.
        channels: int. Channels of raw or encoded images (1 or 3).
        label_feature: str or None. An `int64` class-id feature (labels).
        test_pattern: str or None. The user's own test files.
        test_fraction: float. Held-out fraction without `test_pattern`.
        seed: int. Seed of that split.
        argument: str. How errors name the pattern (the CLI's `--data`).

    Example:

    >>> import tempfile, pathlib, numpy as np, tensorflow as tf, kvae
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for shard in range(2):
    ...     with tf.io.TFRecordWriter(str(folder / f"train-{shard}.tfrecord")) as writer:
    ...         for i in range(20):
    ...             pixels = np.full((4, 4, 1), 10 * i, np.uint8).tobytes()
    ...             feature = {"image_raw": tf.train.Feature(bytes_list=tf.train.BytesList(value=[pixels]))}
    ...             writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    >>> source = kvae.data.TFRecordSource(str(folder / "train-*.tfrecord"), "image_raw", image_size="4x4")
    >>> source.num_train + source.num_test, source.event_shape
    (40, (4, 4, 1))
    """

    def __init__(self, pattern, feature, feature_dtype="uint8", image_size=None, channels=1, label_feature=None,
                 test_pattern=None, test_fraction=0.1, seed=0, argument="data"):
        if feature_dtype not in FEATURE_DTYPES:
            raise ValueError(f"`feature_dtype` must be one of {list(FEATURE_DTYPES)}, received: {feature_dtype!r}")
        if not feature:
            raise ValueError("`feature` must name the feature that holds the examples (--feature), received none")
        self.argument = argument
        self.files = _glob(pattern, argument)
        self.test_files = _glob(test_pattern, "data_test" if argument == "data" else "--data-test") \
            if test_pattern else None
        self.feature, self.feature_dtype, self.label_feature = feature, feature_dtype, label_feature
        self.seed, self.test_fraction = seed, float(test_fraction)
        if self.test_files is None and not 0 < self.test_fraction < 1:
            raise ValueError(f"`test_fraction` must be in (0, 1), received: {test_fraction!r}")
        self.name = _stem(self.files[0])
        first = _first_example(self.files[0], argument)
        self.event_shape, self.transform = self._shape(first, image_size, channels)
        self.class_names = None
        if label_feature is not None:
            _check_feature(first, label_feature, "int64_list", self.files[0], argument)
        self._spec = self._feature_spec()
        self.num_train, self.num_test, max_label = self._count()
        self.validate()
        if label_feature is not None:
            self.class_names = [str(k) for k in range(max_label + 1)]

    def _shape(self, example, image_size, channels):
        kind = "float_list" if self.feature_dtype == "float32" else "bytes_list"
        values = _check_feature(example, self.feature, kind, self.files[0], self.argument)
        if self.feature_dtype == "float32":
            if image_size is None:
                return (len(values),), None
            shape = (*parse_image_size(image_size), channels)
        else:
            if image_size is None:
                raise ValueError(f"`image_size` (--image-size HxW) is needed for {self.feature_dtype} images")
            shape = (*parse_image_size(image_size), channels)
            if self.feature_dtype == "encoded":
                decoding = ImageDecoding(shape[:2], channels)
                return decoding.event_shape, decoding
        size = len(values) if self.feature_dtype == "float32" else len(values[0])
        if int(np.prod(shape)) != size:
            unit = "values" if self.feature_dtype == "float32" else "bytes"
            raise ValueError(
                f"`{self.argument}` file {self.files[0]!r}: feature {self.feature!r} holds {size} {unit}, "
                f"but --image-size and --channels give {'x'.join(map(str, shape))} = {int(np.prod(shape))}"
            )
        return shape, None

    def _feature_spec(self):
        if self.feature_dtype == "float32":
            spec = {self.feature: tf.io.FixedLenFeature([int(np.prod(self.event_shape))], tf.float32)}
        else:
            spec = {self.feature: tf.io.FixedLenFeature([], tf.string)}
        if self.label_feature is not None:
            spec[self.label_feature] = tf.io.FixedLenFeature([], tf.int64)
        return spec

    def _parse(self, records, with_labels):
        """A batch of serialised records → `x` (or `(x, labels)`)."""
        parsed = tf.io.parse_example(records, self._spec)
        values = parsed[self.feature]
        if self.feature_dtype == "encoded":
            x = self.transform.decode_batch(values)
        elif self.feature_dtype == "uint8":
            size = int(np.prod(self.event_shape))
            pixels = tf.io.decode_raw(values, tf.uint8)
            tf.debugging.assert_equal(tf.shape(pixels)[1], size, message=f"feature {self.feature!r} must hold {size} bytes")
            x = tf.reshape(tf.cast(pixels, tf.float32) / 255.0, [-1, *self.event_shape])
        else:
            x = tf.reshape(values, [-1, *self.event_shape])
        return (x, parsed[self.label_feature]) if with_labels else x

    def _records(self, files, file_ids, train):
        """Records of `files` (interleaved in order) with a held-out split, as a dataset of strings.

        Records are read and split in chunks: whether record i of file f is
        held out is a keyed hash of `(f, i)` (SipHash keyed by the seed),
        computed for a whole chunk at once. Per-record `tf.data` functions
        cost more than the training step saves (3 s per 60,000 records).
        """
        own_test = self.test_files is not None
        key = [self.seed, 0x6B766165]  # "kvae"
        threshold = int(self.test_fraction * _HASH_BUCKETS)

        def split(chunk, records, file_id):
            index = chunk * _CHUNK + tf.range(tf.size(records, out_type=tf.int64))
            names = tf.strings.join([tf.strings.as_string(file_id), tf.strings.as_string(index)], ":")
            held_out = tf.strings.to_hash_bucket_strong(names, _HASH_BUCKETS, key) < threshold
            return tf.boolean_mask(records, tf.logical_not(held_out) if train else held_out)

        def read(path, file_id):
            chunks = tf.data.TFRecordDataset(path).batch(_CHUNK)
            if not own_test:
                chunks = chunks.enumerate().map(as_written(lambda i, records: split(i, records, file_id)))
            return chunks.unbatch()

        ds = tf.data.Dataset.from_tensor_slices((files, file_ids))
        return ds.interleave(as_written(read), cycle_length=CYCLE_LENGTH, block_length=1)

    @property
    def num_files(self):
        return len(self.files)

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        files = tf.constant(shard_of(np.array(self.files), shard))
        ids = tf.constant(shard_of(np.arange(len(self.files), dtype=np.int64), shard))  # the split's keys

        def epoch(epoch_seed):
            order = permutation(tf.size(files, out_type=tf.int64), epoch_seed)
            records = self._records(tf.gather(files, order), tf.gather(ids, order), train=True)
            if len(self.files) == 1:  # else each epoch's file order already differs
                records = rotate(records, self.num_train, epoch_seed)
            records = records.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=False)
            ds = fixed_length(records.batch(batch_size).map(as_written(lambda r: self._parse(r, with_labels))), steps)
            return binarize_batches(ds, epoch_seed, with_labels) if binarize else ds

        return epoch_stream(start_epoch, seed, epoch).prefetch(2).with_options(stream_options())

    def test_dataset(self, batch_size, with_labels=False):
        files = self.test_files or self.files
        records = self._records(tf.constant(files), tf.range(len(files), dtype=tf.int64), train=False)
        ds = records.batch(batch_size).map(as_written(lambda r: self._parse(r, with_labels)))
        return counted(ds, self.num_test, batch_size).prefetch(2).with_options(stream_options())

    def validate(self):
        """Checks every record of every file, or raises naming the file and the record (numbered from 1).

        Each record must hold an example of the source's shape: raw pixels of
        exactly H·W·C bytes, an image that decodes, finite float values, and
        a class id in [0, `kvae.conditions.MAX_CLASSES`). Run at opening (a
        streaming pass, nothing held in memory), and again by `kvae train`
        if reading fails mid-run.
        """
        for path in [*self.files, *(self.test_files or [])]:
            self._check_records(path)

    def _check_records(self, path):
        size = int(np.prod(self.event_shape))

        def check(record):
            parsed = tf.io.parse_single_example(record, self._spec)
            values = parsed[self.feature]
            if self.feature_dtype == "uint8":
                ok = tf.equal(tf.strings.length(values), size)
            elif self.feature_dtype == "encoded":
                # Raises for an undecodable image; `ok` reads the pixels, or tf.data would prune the decoding.
                ok = tf.reduce_all(tf.math.is_finite(self.transform.decode(values)))
            else:
                ok = tf.reduce_all(tf.math.is_finite(values))
            label = parsed[self.label_feature] if self.label_feature else tf.constant(0, tf.int64)
            return ok, label

        ds = tf.data.TFRecordDataset(path).map(as_written(check), num_parallel_calls=tf.data.AUTOTUNE,
                                               deterministic=True)
        start = 0
        try:
            for ok, label in ds.batch(4096):
                ok, label = ok.numpy(), label.numpy()
                if not ok.all():
                    record = start + int(np.argmin(ok)) + 1
                    expected = (f"{size} bytes ({'x'.join(map(str, self.event_shape))})"
                                if self.feature_dtype == "uint8" else "finite values")
                    received = "another byte count" if self.feature_dtype == "uint8" else "a NaN or Inf"
                    raise ValueError(f"`{self.argument}` file {path!r}, record {record}: feature {self.feature!r} "
                                     f"must hold {expected}, received {received}")
                try:
                    conditions.check_class_ids(label, "labels")
                except ValueError:
                    bad = int(np.argmax((label < 0) | (label >= conditions.MAX_CLASSES)))
                    raise ValueError(
                        f"`{self.argument}` file {path!r}, record {start + bad + 1}: label feature "
                        f"{self.label_feature!r} must be a class id in [0, {conditions.MAX_CLASSES}), received "
                        f"{int(label[bad])}") from None
                start += len(ok)
        except tf.errors.InvalidArgumentError:
            self._raise_undecodable(path, start)

    def _raise_undecodable(self, path, start):
        records = tf.data.TFRecordDataset(path).skip(start)
        for offset, record in enumerate(records):
            parsed = tf.io.parse_single_example(record, self._spec)
            try:
                self.transform.decode(parsed[self.feature])
            except tf.errors.InvalidArgumentError as e:
                reason = re.sub(r"\{\{.*?\}\}|\[Op:.*$", "", e.message.strip().splitlines()[0]).strip()
                raise ValueError(f"`{self.argument}` file {path!r}, record {start + offset + 1}: feature "
                                 f"{self.feature!r} is not a decodable image ({reason})") from None
        raise ValueError(f"`{self.argument}` file {path!r}: a record could not be read after record {start}")

    def _count(self):
        """Reads and parses every record once: split sizes and the largest label, or an error naming the file."""
        counts = {True: 0, False: 0}
        max_label = -1
        splits = [(True, self.files)] + ([(False, self.test_files)] if self.test_files else [(False, self.files)])
        for train, files in splits:
            for file_id, path in enumerate(files):
                ds = self._records(tf.constant([path]), tf.constant([file_id], tf.int64), train)
                ds = ds.batch(4096).map(as_written(lambda r: tf.io.parse_example(r, self._spec)))
                try:
                    for parsed in ds:
                        counts[train] += int(tf.shape(parsed[self.feature])[0])
                        if self.label_feature is not None:
                            max_label = max(max_label, int(tf.reduce_max(parsed[self.label_feature])))
                except tf.errors.InvalidArgumentError as e:
                    keys = " or ".join(repr(k) for k in self._spec)
                    found = re.search(r"Feature: .*", e.message)
                    reason = found.group(0) if found else e.message.strip().splitlines()[0]
                    raise ValueError(
                        f"`{self.argument}` file {path!r}: a record lacks feature {keys} or holds another "
                        f"type or size ({reason})"
                    ) from None
                except tf.errors.DataLossError:
                    raise ValueError(f"`{self.argument}` file {path!r} is not a readable TFRecord file "
                                     "(corrupt or truncated)") from None
        if not counts[True] or not counts[False]:
            raise ValueError(
                f"`{self.argument}` TFRecord files hold {counts[True]} training and {counts[False]} test records; "
                "both must be > 0"
            )
        return counts[True], counts[False], max_label


def _glob(pattern, argument):
    files = sorted(tf.io.gfile.glob(str(pattern)))
    if not files:
        raise FileNotFoundError(f"`{argument}`: no TFRecord files match {str(pattern)!r}")
    return files


def _stem(path):
    name = str(path).rsplit("/", 1)[-1]
    return name.split(".")[0].split("-")[0] or "tfrecords"


def _first_example(path, argument):
    try:
        record = next(iter(tf.data.TFRecordDataset(path).take(1)), None)
    except tf.errors.DataLossError:
        record = False
    if record is False:
        raise ValueError(f"`{argument}` file {path!r} is not a readable TFRecord file (corrupt or truncated)")
    if record is None:
        raise ValueError(f"`{argument}` file {path!r} holds no records")
    try:
        return tf.train.Example.FromString(record.numpy())
    except Exception:
        raise ValueError(f"`{argument}` file {path!r}: records must be serialised tf.train.Example") from None


def _check_feature(example, key, kind, path, argument):
    features = example.features.feature
    if key not in features:
        raise ValueError(
            f"`{argument}` file {path!r} has no feature {key!r} (--feature / --label-feature); "
            f"its records have {sorted(features)}"
        )
    found = features[key].WhichOneof("kind")
    if found != kind:
        raise ValueError(f"`{argument}` file {path!r}: feature {key!r} must be a {kind}, received a {found}")
    return list(getattr(features[key], kind).value)
