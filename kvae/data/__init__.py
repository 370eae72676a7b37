"""Data: the embedded digits, Fashion-MNIST, users' arrays, image folders, TFRecords and tables."""

from kvae.data.arrays import array_dataset
from kvae.data.digits import load_digits
from kvae.data.fashion_mnist import load_fashion_mnist, read_idx
from kvae.data.files import load_array_file
from kvae.data.image_folder import ImageFolder
from kvae.data.open import kind_of, open_source
from kvae.data.pipeline import binarize, make_dataset, steps_per_epoch
from kvae.data.source import ArraySource, Source, stream_errors
from kvae.data.splits import DataSplits
from kvae.data.tables import TableSource
from kvae.data.tfrecords import TFRecordSource
from kvae.data.transforms import ImageDecoding, Standardization, load_transform, save_transform

NAMES = ("digits", "fashion_mnist")


def load(data="digits", data_dir=None):
    """Loads a data set by name (`"digits"`, `"fashion_mnist"`) or `.npy`/`.npz` path.

    Example:

    >>> import kvae
    >>> kvae.data.load("digits").event_shape
    (8, 8, 1)
    """
    if data == "digits":
        return load_digits()
    if data == "fashion_mnist":
        return load_fashion_mnist(data_dir)
    if str(data).endswith((".npy", ".npz")):
        return load_array_file(data)
    raise ValueError(
        f"`data` must be one of {list(NAMES)} or a path to a .npy/.npz file, received: {data!r}"
    )


__all__ = [
    "stream_errors",
    "ArraySource",
    "ImageDecoding",
    "ImageFolder",
    "Source",
    "TFRecordSource",
    "TableSource",
    "Standardization",
    "kind_of",
    "load_transform",
    "open_source",
    "save_transform",
    "DataSplits",
    "array_dataset",
    "NAMES",
    "binarize",
    "load",
    "load_array_file",
    "load_digits",
    "load_fashion_mnist",
    "make_dataset",
    "read_idx",
    "steps_per_epoch",
]
