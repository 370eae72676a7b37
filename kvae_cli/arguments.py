"""argparse types shared by every `kvae` command: one wording for every bad option.

Example:

>>> from kvae_cli import arguments
>>> arguments.positive_int("8"), arguments.auto_or_positive_int("auto")
(8, 'auto')
>>> arguments.positive_int("0")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: expected a positive integer, received '0'
"""

import argparse
import math


def _number(text, convert, accept, expected):
    try:
        value = convert(text)
    except ValueError:
        value = None
    if value is None or not accept(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, received {text!r}")
    return value


def positive_int(text):
    """An integer > 0."""
    return _number(text, int, lambda v: v > 0, "a positive integer")


def non_negative_int(text):
    """An integer >= 0."""
    return _number(text, int, lambda v: v >= 0, "an integer >= 0")


def positive_float(text):
    """A finite number > 0."""
    return _number(text, float, lambda v: 0 < v < math.inf, "a positive number")


def non_negative_float(text):
    """A finite number >= 0."""
    return _number(text, float, lambda v: 0 <= v < math.inf, "a number >= 0")


def auto_or_positive_int(text):
    """The string "auto", or an integer > 0."""
    return text if text == "auto" else positive_int(text)


def png_path(text):
    """A file name ending in .png."""
    if not text.lower().endswith(".png"):
        raise argparse.ArgumentTypeError(f"expected a .png file, received {text!r}")
    return text
