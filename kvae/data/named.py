"""The data sets kvae knows by name, and `load`: a name or a `.npy`/`.npz` path → `DataSplits`."""

from kvae.data.digits import load_digits
from kvae.data.fashion_mnist import load_fashion_mnist
from kvae.data.files import load_array_file

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
