"""Argument checks shared by kvae's public functions: one wording for every message."""

import math
import numbers

import numpy as np


def positive_int(value, name):
    """Returns `value` as an int if it is an integer > 0 (NumPy integers too); raises otherwise.

    Example:

    >>> import numpy as np
    >>> from kvae import checks
    >>> checks.positive_int(np.int64(3), "latent_dim")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer, received: {value!r}")
    return int(value)


def positive_ints(values, name):
    """Returns `values` (an int or a sequence of them) as a non-empty tuple of ints > 0; raises otherwise.

    Example:

    >>> from kvae import checks
    >>> checks.positive_ints(64, "hidden_units"), checks.positive_ints([32, 16], "hidden_units")
    ((64,), (32, 16))
    """
    values = (values,) if isinstance(values, numbers.Integral) else tuple(values)
    if not values or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0 for v in values):
        raise ValueError(f"`{name}` must be one or more positive integers, received: {values!r}")
    return tuple(int(v) for v in values)


def non_negative_float(value, name):
    """Returns `value` as a float if it is a finite number >= 0; raises otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < math.inf:
        raise ValueError(f"`{name}` must be a finite number >= 0, received: {value!r}")
    return float(value)


def examples(array, argument):
    """Returns `array` as a NumPy array; raises unless it is a non-empty, finite, numeric `[n, ...]` one.

    Example:

    >>> from kvae import checks
    >>> checks.examples([[1.0, float("nan")]], "x")
    Traceback (most recent call last):
    ...
    ValueError: `x` must hold finite values, received NaN or Inf
    """
    array = np.asarray(array)
    if array.dtype.kind not in "uif" or array.dtype == np.bool_:
        raise ValueError(
            f"`{argument}` must hold numbers (uint8, int or float), received dtype {array.dtype}"
        )
    if array.ndim < 2:
        raise ValueError(f"`{argument}` must have shape (n, ...) with n examples, received shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"`{argument}` must hold at least one example, received shape {array.shape}")
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise ValueError(f"`{argument}` must hold finite values, received NaN or Inf")
    return array


def no_foreign_files(folder, name):
    """Raises `FileExistsError` if `folder` exists and holds anything: kvae never clears a folder it did not make.

    `name` is how the message names the folder (e.g. "--backup-dir").

    Example:

    >>> import pathlib, tempfile
    >>> from kvae import checks
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> checks.no_foreign_files(folder, "--backup-dir")  # empty: fine
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> checks.no_foreign_files(folder, "--backup-dir")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    FileExistsError: --backup-dir '...' holds files kvae did not write ('notes.txt'); kvae never clears a folder it did not create: give an empty or new folder
    """
    if not folder.exists():
        return
    foreign = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else [folder.name]
    if foreign:
        shown = ", ".join(repr(n) for n in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise FileExistsError(
            f"{name} {str(folder)!r} holds files kvae did not write ({shown}); kvae never clears a "
            "folder it did not create: give an empty or new folder"
        )
