"""The embedded default data: scikit-learn's 8×8 handwritten digits."""

import numpy as np
from sklearn.datasets import load_digits as _sklearn_digits
from sklearn.model_selection import train_test_split

from kvae.data.splits import DataSplits


def load_digits():
    """Loads the UCI handwritten digits shipped with scikit-learn (no download).

    1,797 real 8×8 grey-level images (values 0–16) scaled to [0, 1], as
    `(n, 8, 8, 1)` float32, with a fixed stratified split: 1,437 train, 360 test.

    Example:

    >>> import kvae
    >>> data = kvae.data.load_digits()
    >>> data.x_train.shape, data.x_test.shape
    ((1437, 8, 8, 1), (360, 8, 8, 1))
    """
    digits = _sklearn_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., np.newaxis]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=360, random_state=0, stratify=y
    )
    return DataSplits("digits", x_train, x_test, y_train, y_test)
