"""Shared plumbing of the picture callbacks: when to draw, where to write."""

import os
from pathlib import Path

import keras

from kvae import distribute
from kvae import plotting


class PictureCallback(keras.callbacks.Callback):
    """Base of the callbacks that draw pictures every `every` epochs.

    Subclasses implement `pictures(epoch)` → `{name: uint8 [h, w, c]}`. Each
    picture goes to `out_dir/<name>_epoch_<NNNN>.png` (epochs counted from 1)
    and, with `log_dir`, to TensorBoard as an image summary `<name>` in the
    run `log_dir/images`, at step = epoch. Only the chief worker writes, so a
    multi-worker `fit` does not race on the files.
    """

    def __init__(self, every=1, out_dir=None, log_dir=None):
        super().__init__()
        if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
            raise ValueError(f"`every` must be a positive integer (epochs), received: {every!r}")
        if out_dir is None and log_dir is None:
            raise ValueError("pass `out_dir` (PNG files), `log_dir` (TensorBoard) or both; received neither")
        self.every = every
        self.out_dir = None if out_dir is None else Path(out_dir)
        self.log_dir = None if log_dir is None else Path(log_dir)
        self._writer = None

    def pictures(self, epoch):
        raise NotImplementedError

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every == 0 and self._is_chief():
            self.write(epoch + 1)

    def write(self, epoch):
        """Draws and writes the pictures for `epoch` now; returns `{name: path or None}`."""
        paths = {}
        for name, image in self.pictures(epoch).items():
            paths[name] = None
            if self.out_dir is not None:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                paths[name] = self.out_dir / f"{name}_epoch_{epoch:04d}.png"
                plotting.save_png(paths[name], image)
            if self.log_dir is not None:
                self._summary(name, image, epoch)
        return paths

    def _summary(self, name, image, epoch):
        import tensorflow as tf

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(os.fspath(self.log_dir / "images"))
        with self._writer.as_default():
            tf.summary.image(name, image[None], step=epoch)
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _is_chief(self):
        return distribute.worker_index(self.model.distribute_strategy) == 0
