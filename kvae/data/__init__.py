"""Data: the embedded digits, Fashion-MNIST, users' arrays, image folders, TFRecords and tables."""

from kvae.data.arrays import array_dataset
from kvae.data.digits import load_digits
from kvae.data.disk_cache import DiskCache
from kvae.data.fashion_mnist import load_fashion_mnist, read_idx
from kvae.data.files import load_array_file
from kvae.data.image_folder import ImageFolder
from kvae.data.named import NAMES, load
from kvae.data.open import kind_of, open_source
from kvae.data.pipeline import binarize, make_dataset, steps_per_epoch
from kvae.data.source import ArraySource, Source, stream_errors
from kvae.data.splits import DataSplits
from kvae.data.tables import TableSource
from kvae.data.tfrecords import TFRecordSource
from kvae.data.transforms import ImageDecoding, Standardization, load_transform, save_transform

__all__ = [
    "stream_errors",
    "ArraySource",
    "DiskCache",
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
