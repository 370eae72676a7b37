"""`DiskCache`: a file source decoded once into a folder on disk, then trained from there."""

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import tensorflow as tf

from kvae import atomic
from kvae import checks
from kvae.data.pipeline import as_written
from kvae.data.source import Source, binarize_batches, epoch_stream, fixed_length, permutation, shard_of, stream_options

FORMAT = 1  # of the files below; part of every key, so a new format never reads an old entry
MARKER = ".kvae-cache"  # marks a folder as kvae's cache: the only kind it deletes entries in


class DiskCache(Source):
    """`source`'s examples decoded once into `directory`, and every epoch read from there.

    A folder of PNGs spends most of an epoch decoding (`bench/own_data.py`
    measures it against in-memory arrays); `cached()` removes that but needs
    the decoded data in memory. A disk cache keeps them in one file of
    float32 rows per split, and each batch is one gather of its rows: the same
    batches as `source`'s own stream (the same epoch-keyed order, sharding,
    fixed epoch length and binarisation: tested equal), without decoding,
    holding only a few batches in memory.

    An entry is keyed by the source's fingerprint (`Source.fingerprint`:
    for an image folder, every file's path, size, modification time, split
    and label, and the decoding options) and the cache format. A changed,
    added or removed file gives a new key: the entry is built again and the
    old one of the same source deleted. Entries are written into a hidden
    temporary folder and renamed into place when complete, so a build
    killed midway leaves no entry that could be read, and the next open
    removes what the kill left. kvae deletes only inside a folder it marked
    as its cache (`.kvae-cache`); a folder holding other files is refused.

    Args:
        source: `Source`. A file source with a fingerprint (`ImageFolder`).
        directory: str or Path. The cache folder (made if missing).
        argument: str. How errors name the folder (the CLI's `--disk-cache`).

    Attributes:
        path: Path. This source's entry.
        built: bool. Whether opening built the entry (False: it was reused).

    Example:

    >>> import tempfile, pathlib, tensorflow as tf, kvae
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for i in range(10):
    ...     tf.io.write_file(str(folder / f"{i}.png"), tf.io.encode_png(tf.fill([6, 6, 1], tf.constant(20 * i, tf.uint8))))
    >>> images = kvae.data.ImageFolder(folder, image_size="4x4")
    >>> cache = kvae.data.DiskCache(images, tempfile.mkdtemp())
    >>> cache.built, kvae.data.DiskCache(images, cache.path.parent).built  # built once, then reused
    (True, False)
    >>> batch = next(iter(cache.train_dataset(4, seed=0)))
    >>> bool((batch.numpy() == next(iter(images.train_dataset(4, seed=0))).numpy()).all())
    True
    """

    def __init__(self, source, directory, argument="directory"):
        self.source = source
        self.name, self.event_shape = source.name, tuple(source.event_shape)
        self.num_train, self.num_test = source.num_train, source.num_test
        self.class_names, self.transform = source.class_names, source.transform
        self.num_files = source.num_files
        fingerprint = source.fingerprint()
        key = hashlib.sha256(json.dumps({"format": FORMAT, **fingerprint}, sort_keys=True).encode()).hexdigest()
        root = Path(directory)
        _claim(root, argument)
        self.path = root / f"{_slug(self.name)}-{key[:16]}"
        self.built = not (self.path / "meta.json").is_file()
        if self.built:
            _build(source, self.path, fingerprint["identity"])
        _tidy(root, self.path, fingerprint["identity"])
        self._labels = {split: np.load(self.path / f"{split}_labels.npy") for split in ("train", "test")}

    def fingerprint(self):
        return self.source.fingerprint()

    def validate(self):
        """Checks that both splits' files hold every row (the source's files were checked when built)."""
        row = 4 * int(np.prod(self.event_shape))
        for split, n in (("train", self.num_train), ("test", self.num_test)):
            path = self.path / f"{split}.f32"
            size = path.stat().st_size if path.is_file() else None
            if size != n * row:
                raise ValueError(f"disk cache file {str(path)!r} holds {size} bytes, expected {n * row}: "
                                 f"delete the folder {str(self.path)!r} to rebuild it")

    def _load(self, split, with_labels):
        read = _rows_reader(self.path / f"{split}.f32", self.event_shape)
        labels = tf.constant(self._labels[split])

        def load(indices):
            x = tf.numpy_function(read, [indices], tf.float32, stateful=False)
            x.set_shape((None, *self.event_shape))
            return (x, tf.gather(labels, indices)) if with_labels else x

        return as_written(load)

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        rows = tf.constant(shard_of(np.arange(self.num_train, dtype=np.int64), shard))
        load = self._load("train", with_labels)

        def epoch(epoch_seed):
            # The source's own epoch: its permutation of (its shard of) the files, batched, then read.
            order = tf.gather(rows, permutation(tf.size(rows, out_type=tf.int64), epoch_seed))
            ds = fixed_length(tf.data.Dataset.from_tensor_slices(order).batch(batch_size).map(load), steps)
            return binarize_batches(ds, epoch_seed, with_labels) if binarize else ds

        return epoch_stream(start_epoch, seed, epoch).prefetch(2).with_options(stream_options())

    def test_dataset(self, batch_size, with_labels=False):
        rows = tf.data.Dataset.range(self.num_test).batch(batch_size)
        return rows.map(self._load("test", with_labels)).prefetch(2).with_options(stream_options())


def _rows_reader(path, event_shape):
    """`read(indices)`: those rows of a file of float32 rows, gathered by NumPy from a map of the file.

    The file is mapped for one batch and unmapped after it, so only that
    batch's pages are ever resident: peak RSS does not grow with the data.
    """
    path, shape = str(path), tuple(event_shape)

    def read(indices):
        rows = np.memmap(path, np.float32, mode="r").reshape(-1, *shape)
        try:
            return np.array(rows[indices])  # a copy: nothing refers to the map once it is closed
        finally:
            del rows  # closes the map

    return read


def _claim(root, argument):
    if (root / MARKER).is_file():
        return
    checks.no_foreign_files(root, f"`{argument}`")
    root.mkdir(parents=True, exist_ok=True)
    atomic.write_text(root / MARKER, json.dumps({"format": FORMAT}) + "\n")


def _build(source, path, identity):
    try:
        with atomic.replacing(path) as tmp:
            shutil.rmtree(tmp, ignore_errors=True)  # this pid's own, from a process killed before
            tmp.mkdir()
            counts = {}
            for split in ("train", "test"):
                labels, n = [], 0
                with open(tmp / f"{split}.f32", "wb") as f:
                    for x, y in source.ordered_dataset(split, 256):
                        f.write(np.ascontiguousarray(x.numpy(), np.float32).tobytes())
                        labels.append(y.numpy().astype(np.int64))
                        n += len(labels[-1])
                np.save(tmp / f"{split}_labels.npy", np.concatenate(labels) if labels else np.zeros(0, np.int64))
                counts[split] = n
            meta = {"format": FORMAT, "identity": identity, "event_shape": list(source.event_shape),
                    "num_train": counts["train"], "num_test": counts["test"]}
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")  # last: marks it whole
    except OSError:
        # A folder cannot be renamed onto another process's finished entry (the same bytes): use that one.
        if not (path / "meta.json").is_file():
            raise


def _tidy(root, keep, identity):
    """Deletes this source's older entries and builds a kill cut short (all kvae's, in its marked folder)."""
    for entry in root.iterdir():
        if entry == keep or not entry.is_dir():
            continue
        pid = atomic.writer_pid(entry.name)
        if pid is not None:
            if not _alive(pid):
                shutil.rmtree(entry, ignore_errors=True)
            continue
        try:
            meta = json.loads((entry / "meta.json").read_text())
        except (OSError, ValueError):
            continue  # not an entry of ours
        if meta.get("identity") == identity:
            shutil.rmtree(entry, ignore_errors=True)  # the same source before its files changed


def _alive(pid):
    if pid == os.getpid():
        return False  # this process's own builds are done by now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process
    return True


def _slug(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40] or "data"
