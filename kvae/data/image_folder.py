"""`ImageFolder`: a folder of PNG/JPEG/BMP/GIF files, streamed and decoded per batch."""

import os
import re
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kvae.data.pipeline import as_written
from kvae.data.source import (
    Source,
    binarize_batches,
    epoch_stream,
    fixed_length,
    permutation,
    shard_of,
    stream_options,
)
from kvae.data.transforms import ImageDecoding, parse_image_size

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")  # Keras' image_dataset_from_directory's


class ImageFolder(Source):
    """Images under a folder (recursively); class sub-folders become labels.

    Files are listed by Keras' `image_dataset_from_directory` (sub-folders
    are classes, as there; images directly in a folder that has sub-folders
    are not used) and split as it splits them: a seeded shuffle, the last
    `test_fraction` held out. Each epoch reads them in a new seeded
    order and decodes them batch by batch (`ImageDecoding`: decode, bilinear
    resize, scale to [0, 1]); nothing but the file list is held in memory.

    On opening, every file is decoded once (a parallel `tf.data` pass) so
    that a corrupt or truncated image fails now, naming the file, and not
    hours into training; without `channels`, the files must agree on one.

    Args:
        directory: str or Path. The folder.
        image_size: `"HxW"` or `(H, W)`. Size the images are resized to.
        channels: 1, 3 or None. Convert every image to grey or RGB (None:
            the files' own count, which must be the same for all, 1 or 3).
        test_fraction: float. Held-out fraction when `test_directory` is None,
            a fixed split seeded by `seed`.
        seed: int. Seed of that split.
        test_directory: str, Path or None. The user's own test images.
        argument: str. How errors name the folder (the CLI's `--data`).

    Example:

    >>> import tempfile, pathlib, tensorflow as tf, kvae
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for label in ("cats", "dogs"):
    ...     (folder / label).mkdir()
    ...     for i in range(10):
    ...         image = tf.fill([6, 6, 1], tf.constant(40 * i, tf.uint8))
    ...         tf.io.write_file(str(folder / label / f"{i}.png"), tf.io.encode_png(image))
    >>> source = kvae.data.ImageFolder(folder, image_size="4x4")
    >>> source.num_train, source.num_test, source.class_names, source.event_shape
    (18, 2, ['cats', 'dogs'], (4, 4, 1))
    """

    def __init__(self, directory, image_size, channels=None, test_fraction=0.1, seed=0, test_directory=None,
                 argument="data"):
        self.directory = Path(directory)
        self.name = self.directory.resolve().name
        image_size = parse_image_size(image_size, "image_size" if argument == "data" else "--image-size")
        train_paths, class_names = _list(self.directory, argument)
        if test_directory is None:
            train_paths, test_paths = _split(self.directory, train_paths, class_names, test_fraction, seed, argument)
        else:
            test_argument = "data_test" if argument == "data" else "--data-test"
            test_paths, test_classes = _list(Path(test_directory), test_argument)
            if test_classes != class_names:
                raise ValueError(
                    f"`{test_argument}` folder {str(test_directory)!r} must have the class sub-folders of "
                    f"`{argument}` ({class_names}), received {test_classes}"
                )
        self.argument = argument
        native = _scan(train_paths + test_paths, argument)
        channels = _channels(channels, native, train_paths + test_paths, argument)
        self.transform = ImageDecoding(image_size, channels)
        self.event_shape = self.transform.event_shape
        self.class_names = class_names
        test_root = self.directory if test_directory is None else Path(test_directory)
        self._train = (np.array(train_paths), _labels(train_paths, class_names, self.directory))
        self._test = (np.array(test_paths), _labels(test_paths, class_names, test_root))
        self.num_train, self.num_test = len(train_paths), len(test_paths)

    def _decode(self, ds, with_labels):
        load = self.transform.load
        parallel = tf.data.AUTOTUNE
        if with_labels:
            return ds.map(as_written(lambda p, y: (load(p), y)), num_parallel_calls=parallel, deterministic=True)
        return ds.map(as_written(lambda p, y: load(p)), num_parallel_calls=parallel, deterministic=True)

    @property
    def num_files(self):
        return self.num_train

    def validate(self):
        """Decodes every file again; raises naming one that is now unreadable (`kvae train` on a failed read)."""
        _scan([*self._train[0].tolist(), *self._test[0].tolist()], self.argument)

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        paths, ys = (tf.constant(shard_of(a, shard)) for a in self._train)

        def epoch(epoch_seed):
            order = permutation(tf.size(paths, out_type=tf.int64), epoch_seed)
            files = tf.data.Dataset.from_tensor_slices((tf.gather(paths, order), tf.gather(ys, order)))
            ds = fixed_length(self._decode(files, with_labels).batch(batch_size), steps)
            return binarize_batches(ds, epoch_seed, with_labels) if binarize else ds

        return epoch_stream(start_epoch, seed, epoch).prefetch(2).with_options(stream_options())

    def test_dataset(self, batch_size, with_labels=False):
        files = tf.data.Dataset.from_tensor_slices(self._test)
        return self._decode(files, with_labels).batch(batch_size).prefetch(2).with_options(stream_options())

    def fingerprint(self):
        """The folder and decoding options, and every file's path, size, modification time and label, per split."""

        def files(paths, labels):
            stats = [os.stat(p) for p in paths.tolist()]
            return [[p, s.st_size, s.st_mtime_ns, int(y)] for p, s, y in zip(paths.tolist(), stats, labels)]

        return {"identity": {"source": "ImageFolder", "directory": str(self.directory.resolve()),
                             "decoding": self.transform.get_config()},
                "train": files(*self._train), "test": files(*self._test)}

    def ordered_dataset(self, split, batch_size):
        files = tf.data.Dataset.from_tensor_slices(self._train if split == "train" else self._test)
        return self._decode(files, with_labels=True).batch(batch_size).prefetch(2)


def _list(directory, argument):
    """`(paths, class_names)` of the images under `directory` (class_names None without sub-folders)."""
    if not directory.is_dir():
        raise FileNotFoundError(f"`{argument}` folder not found: {str(directory)!r}")
    has_classes = any(p.is_dir() and not p.name.startswith(".") for p in directory.iterdir())
    try:
        ds = keras.utils.image_dataset_from_directory(
            str(directory), labels="inferred" if has_classes else None, batch_size=None, shuffle=False,
            verbose=False, image_size=(1, 1),
        )
    except ValueError as e:
        if "No images found" not in str(e):
            raise
        raise ValueError(
            f"`{argument}` folder {str(directory)!r} holds no images: expected {', '.join(FORMATS)} files, "
            "in class sub-folders or directly in the folder"
        ) from None
    return list(ds.file_paths), (list(ds.class_names) if has_classes else None)


def _split(directory, paths, class_names, test_fraction, seed, argument):
    if not 0 < test_fraction < 1:
        raise ValueError(f"`test_fraction` must be in (0, 1), received: {test_fraction!r}")
    n_test = int(test_fraction * len(paths))
    if n_test < 1:
        raise ValueError(
            f"`{argument}` folder {str(directory)!r} must hold at least {int(np.ceil(1 / test_fraction))} images "
            f"to hold out a test fraction of {test_fraction}, received {len(paths)}; or give a test folder"
        )
    # Keras' rule (a seeded shuffle, the last `test_fraction` held out), kept here so a test
    # fraction that rounds to no file is an error rather than Keras' empty training split.
    order = np.random.RandomState(seed).permutation(len(paths))
    shuffled = [paths[i] for i in order]
    return shuffled[:-n_test], shuffled[-n_test:]


def _labels(paths, class_names, directory):
    if class_names is None:
        return np.zeros(len(paths), np.int64)
    index = {name: k for k, name in enumerate(class_names)}
    # Keras lists `<folder>/<class>/...`: the class is the first part below the folder.
    return np.array([index[Path(p).relative_to(directory).parts[0]] for p in paths], np.int64)


def _scan(paths, argument):
    """Decodes every file once; returns each one's own channel count, or raises naming a bad file."""
    native = tf.data.Dataset.from_tensor_slices(paths).map(
        as_written(lambda p: tf.shape(tf.image.decode_image(tf.io.read_file(p), expand_animations=False))[-1]),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True,
    ).batch(512)
    counts = []
    iterator = iter(native)
    while True:
        try:
            counts.append(next(iterator).numpy())
        except StopIteration:
            break
        except (tf.errors.InvalidArgumentError, tf.errors.NotFoundError, tf.errors.PermissionDeniedError):
            start = 512 * len(counts)
            _raise_bad_file(paths[start:start + 512], argument)
    return np.concatenate(counts) if counts else np.zeros(0, np.int32)


def _raise_bad_file(paths, argument):
    for path in paths:
        if not Path(path).exists():
            raise ValueError(f"`{argument}`: image file {path!r} cannot be read: it is a link to nothing "
                             f"({Path(path).readlink()!s})" if Path(path).is_symlink() else
                             f"`{argument}`: image file {path!r} has gone")
        try:
            tf.image.decode_image(tf.io.read_file(path), expand_animations=False)
        except tf.errors.PermissionDeniedError:
            raise ValueError(f"`{argument}`: image file {path!r} cannot be read (permission denied)") from None
        except tf.errors.InvalidArgumentError as e:
            reason = re.sub(r"\{\{.*?\}\}|\[Op:.*$", "", e.message.strip().splitlines()[0]).strip()
            raise ValueError(
                f"`{argument}`: image file {path!r} is corrupt or truncated and cannot be decoded ({reason})"
            ) from None
    raise AssertionError("a batch failed to decode but no file in it does")


def _channels(channels, native, paths, argument):
    if channels is not None:
        if channels not in (1, 3):
            raise ValueError(f"`channels` must be 1 (grey) or 3 (RGB), received: {channels!r}")
        return channels  # decode_image converts every file to it
    kinds = sorted(set(native.tolist()))
    if len(kinds) > 1:
        examples = ", ".join(f"{paths[int(np.argmax(native == k))]!r} has {k}" for k in kinds)
        raise ValueError(
            f"`{argument}` images have mixed channel counts ({examples}); pass channels=1 or 3 "
            "(--channels) to convert them all"
        )
    if kinds[0] not in (1, 3):
        raise ValueError(
            f"`{argument}` images have {kinds[0]} channels (e.g. {paths[0]!r}); pass channels=1 or 3 "
            "(--channels) to convert them"
        )
    return kinds[0]
