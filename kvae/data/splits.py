"""`DataSplits`: the train/test arrays every loader returns, and their checks."""

from typing import NamedTuple, Optional

import numpy as np
from sklearn import model_selection

from kvae.checks import examples as check_examples


class DataSplits(NamedTuple):
    """Train and test examples (float32 in `[n, *event_shape]`), labels when known."""

    name: str
    x_train: np.ndarray
    x_test: np.ndarray
    y_train: Optional[np.ndarray] = None
    y_test: Optional[np.ndarray] = None

    @property
    def event_shape(self):
        return tuple(self.x_train.shape[1:])


def as_examples(array, argument):
    """Checks and converts an array of samples to float32 `[n, ...]`.

    uint8 arrays are scaled to [0, 1]; `(n, h, w)` images get a channel axis.
    """
    array = np.asarray(array)
    if array.ndim < 2 or array.ndim > 4:
        raise ValueError(
            f"`{argument}` must have shape (n, features), (n, h, w) or (n, h, w, c), "
            f"received shape {array.shape}"
        )
    array = check_examples(array, argument)
    if array.dtype == np.uint8:
        array = array.astype(np.float32) / 255.0
    else:
        array = array.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise ValueError(f"`{argument}` must hold values that fit in float32, received larger ones")
    if array.ndim == 3:
        array = array[..., np.newaxis]
    return array


def split_off_test(x, y=None, fraction=0.1, seed=0, argument="x"):
    """Splits a fixed, seeded `fraction` of the examples off as the test set.

    scikit-learn's `train_test_split` (shuffled by `seed`), with at least one
    test example.

    Example:

    >>> import numpy as np
    >>> from kvae.data.splits import split_off_test
    >>> x_train, x_test, _, _ = split_off_test(np.zeros((50, 3)), fraction=0.1)
    >>> x_train.shape, x_test.shape
    ((45, 3), (5, 3))
    """
    if len(x) < 2:
        raise ValueError(
            f"`{argument}` must hold at least 2 examples to split off a test set, received shape {np.shape(x)}"
        )
    n_test = min(len(x) - 1, max(1, int(round(fraction * len(x)))))
    arrays = (x,) if y is None else (x, y)
    parts = model_selection.train_test_split(*arrays, test_size=n_test, random_state=seed)
    return tuple(parts) if y is not None else (parts[0], parts[1], None, None)
