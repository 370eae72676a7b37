"""A user's own samples from a `.npy` or `.npz` file."""

from pathlib import Path

import numpy as np

from kvae import conditions
from kvae.data.splits import DataSplits, as_examples, split_off_test


def load_array_file(path, test_fraction=0.1, seed=0):
    """Loads samples from `.npy` (one array) or `.npz` (named arrays).

    An `.npz` may hold `x_train` (and optionally `x_test`, `y_train`,
    `y_test`), or `x` (and optionally `y`), or a single array. Without a test
    set, a fixed, seeded `test_fraction` of the examples is held out. uint8 data
    is scaled to [0, 1]; floats are used as they are. Files are read with
    `allow_pickle=False`, so a file cannot run code.

    Args:
        path: str. The file.
        test_fraction: float. Held-out fraction when the file has no test set.
        seed: int. Seed of that split.
    """
    path = Path(path)
    if path.suffix not in (".npy", ".npz"):
        raise ValueError(f"`data` file must end in .npy or .npz, received: {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"`data` file not found: {path}")
    try:
        loaded = np.load(path, allow_pickle=False)
    except Exception as e:
        raise ValueError(f"`data` file {path} is not a readable NumPy file: {e}") from None
    name = path.stem
    if path.suffix == ".npy":
        return DataSplits(name, *_train_test(as_examples(loaded, "data"), None, test_fraction, seed, "data"))
    with loaded:
        keys = set(loaded.files)
        arrays = {k: loaded[k] for k in keys}
    for key in ("y", "y_train", "y_test"):
        if key in arrays:  # checked before any split, so "example i" is the file's own row i
            conditions.check_class_ids(arrays[key], f"`{key}` of `data` file {str(path)!r}")
    if "x_train" in keys:
        x_train = as_examples(arrays["x_train"], "x_train")
        y_train = arrays.get("y_train")
        if "x_test" not in keys:
            x_train, x_test, y_train, y_test = _train_test(x_train, y_train, test_fraction, seed, "x_train")
            return DataSplits(name, x_train, x_test, y_train, y_test)
        x_test = as_examples(arrays["x_test"], "x_test")
        if x_test.shape[1:] != x_train.shape[1:]:
            raise ValueError(
                f"`x_test` must have examples of shape {x_train.shape[1:]} like `x_train`, "
                f"received {x_test.shape[1:]}"
            )
        return DataSplits(name, x_train, x_test, y_train, arrays.get("y_test"))
    if "x" in keys:
        x, y = arrays["x"], arrays.get("y")
    elif len(keys) == 1:
        x, y = arrays[keys.pop()], None
    else:
        raise ValueError(
            f"`data` file {path} must hold `x_train` (and `x_test`), `x`, or a single "
            f"array; received arrays {sorted(keys)}"
        )
    x = as_examples(x, "x")
    x_train, x_test, y_train, y_test = _train_test(x, y, test_fraction, seed, "x")
    return DataSplits(name, x_train, x_test, y_train, y_test)


def _train_test(x, y, test_fraction, seed, argument):
    if y is not None and len(y) != len(x):
        raise ValueError(f"`y` must have one label per example ({len(x)}), received {len(y)}")
    return split_off_test(x, y, test_fraction, seed, argument)
