"""Fashion-MNIST from local IDX files (or Keras' downloader as a last resort)."""

import gzip
import os
from pathlib import Path

import numpy as np

from kvae.data.splits import DataSplits, as_examples

# Where Debian's `dataset-fashion-mnist` package installs the IDX files.
SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# IDX magic numbers: unsigned bytes, with 1 (labels) or 3 (images) dimensions.
_MAGIC = {1: 0x00000801, 3: 0x00000803}

# Label k of Fashion-MNIST is CLASS_NAMES[k] (Xiao et al., 2017).
CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def candidate_dirs(data_dir=None):
    """The folders searched for the IDX files, in order."""
    dirs = []
    if data_dir:
        dirs += [Path(data_dir), Path(data_dir) / "fashion-mnist"]
    if os.environ.get("KVAE_DATA_DIR"):
        env = Path(os.environ["KVAE_DATA_DIR"])
        dirs += [env, env / "fashion-mnist"]
    dirs += [Path.home() / ".keras" / "datasets" / "fashion-mnist", SYSTEM_DIR]
    return dirs


def read_idx(path):
    """Reads one IDX file (optionally gzip-compressed) of unsigned bytes."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise ValueError(f"IDX file {path} could not be read: {e}") from None
    if len(raw) < 4:
        raise ValueError(f"IDX file {path} is truncated: {len(raw)} bytes")
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if magic != _MAGIC.get(ndim):
        raise ValueError(
            f"IDX file {path} has magic number {magic:#010x}; expected "
            f"{_MAGIC[1]:#010x} (labels) or {_MAGIC[3]:#010x} (images)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {path} is truncated: {len(raw)} bytes, its header needs {header}")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    if len(raw) != header + int(np.prod(dims)):
        raise ValueError(
            f"IDX file {path} is corrupt: header says shape {tuple(dims)} "
            f"({header + int(np.prod(dims))} bytes), file has {len(raw)} bytes"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _find(directory, stem):
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def load_fashion_mnist(data_dir=None):
    """Loads Fashion-MNIST as (n, 28, 28, 1) float32 in [0, 1], with labels.

    Looks for the four IDX files (`.gz` or not) in `data_dir`,
    `$KVAE_DATA_DIR`, `~/.keras/datasets/fashion-mnist` and
    `/usr/share/datasets/fashion-mnist` (Debian: `apt-get install
    dataset-fashion-mnist`), then tries `keras.datasets.fashion_mnist.load_data()`.

    Args:
        data_dir: str or None. A folder to search first.

    Raises:
        FileNotFoundError: nothing worked; the message lists where it looked.
    """
    for directory in candidate_dirs(data_dir):
        paths = {key: _find(directory, stem) for key, stem in _FILES.items()}
        if all(paths.values()):
            arrays = {key: read_idx(path) for key, path in paths.items()}
            return _splits(**arrays)
    try:
        import keras

        (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    except Exception as e:  # offline, proxy, corrupt cache: all mean "not available"
        looked = ", ".join(str(d) for d in candidate_dirs(data_dir))
        raise FileNotFoundError(
            "Fashion-MNIST not found: looked for train-images-idx3-ubyte(.gz) and the "
            f"other IDX files in {looked}, then keras.datasets.fashion_mnist.load_data() "
            f"failed ({type(e).__name__}). Install the files with "
            "`apt-get install dataset-fashion-mnist` or pass --data-dir DIR."
        ) from None
    return _splits(x_train, y_train, x_test, y_test)


def _splits(x_train, y_train, x_test, y_test):
    for images, labels, part in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if len(images) != len(labels):
            raise ValueError(
                f"Fashion-MNIST {part} files disagree: {len(images)} images, {len(labels)} labels"
            )
    return DataSplits(
        "fashion_mnist",
        as_examples(x_train, "x_train"),
        as_examples(x_test, "x_test"),
        y_train.astype(np.int64),
        y_test.astype(np.int64),
    )
