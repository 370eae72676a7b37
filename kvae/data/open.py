"""`open_source`: what `kvae train --data PATH` recognises."""

from pathlib import Path

from kvae.data import fashion_mnist
from kvae.data.files import load_array_file
from kvae.data.image_folder import ImageFolder
from kvae.data.named import NAMES, load
from kvae.data.source import ArraySource
from kvae.data.tables import TableSource
from kvae.data.tfrecords import TFRecordSource

TFRECORD_SUFFIXES = (".tfrecord", ".tfrecords", ".tfr")
# Options of the file sources, as the CLI names them; None means "not given".
SOURCE_OPTIONS = ("image_size", "channels", "feature", "feature_dtype", "label_feature", "columns", "label_column")


def kind_of(data):
    """`"name"`, `"arrays"`, `"images"`, `"tfrecords"` or `"table"` for a `--data` value, or raises."""
    text = str(data)
    if text in NAMES:
        return "name"
    path = Path(text)
    if path.suffix in (".npy", ".npz"):
        return "arrays"
    if path.suffix in (".csv", ".parquet"):
        return "table"
    if path.suffix in TFRECORD_SUFFIXES or any(c in text for c in "*?["):
        return "tfrecords"
    if path.is_dir():
        return "images"
    raise ValueError(
        f"`data` must be one of {list(NAMES)}, a .npy/.npz file, a folder of images, TFRecord files "
        f"(a {'/'.join(TFRECORD_SUFFIXES)} file or a glob), or a .csv/.parquet table; received: {text!r}"
        + (" (no such file or folder)" if not path.exists() else "")
    )


def open_source(data="digits", data_test=None, data_dir=None, seed=0, argument="data", **options):
    """Opens `data` as a `kvae.data.Source` (see `kind_of` for what is recognised).

    Args:
        data: str or Path. A name, an array file, a folder, a TFRecord glob or a table.
        data_test: str, Path or None. The user's own test split, of the same kind.
        data_dir: str or None. Where Fashion-MNIST's IDX files are.
        seed: int. Seed of the held-out split when `data_test` is None.
        argument: str. How errors name `data` (`"--data"` from the CLI).
        **options: the file sources' options (`SOURCE_OPTIONS`): `image_size`
            and `channels` (images and TFRecords), `feature`,
            `feature_dtype` and `label_feature` (TFRecords), `columns` and
            `label_column` (tables). Options that do not apply are refused.

    Example:

    >>> import kvae
    >>> kvae.data.open_source("digits").num_train
    1437
    """
    unknown = set(options) - set(SOURCE_OPTIONS)
    if unknown:
        raise TypeError(f"open_source() got unexpected options {sorted(unknown)}")
    given = {k: v for k, v in options.items() if v is not None}
    kind = kind_of(data)
    allowed = {"name": (), "arrays": (), "images": ("image_size", "channels"),
               "tfrecords": ("image_size", "channels", "feature", "feature_dtype", "label_feature"),
               "table": ("columns", "label_column")}[kind]
    extra = [k for k in given if k not in allowed]
    if extra:
        flags = ", ".join("--" + k.replace("_", "-") for k in extra)
        raise ValueError(f"{flags} do(es) not apply to `{argument}` {str(data)!r} ({kind}); "
                         f"it takes {', '.join('--' + k.replace('_', '-') for k in allowed) or 'no options'}")
    test_argument = "--data-test" if argument == "--data" else "data_test"
    if data_test is not None and kind in ("name", "arrays"):
        raise ValueError(f"`{test_argument}` is for file sources; {str(data)!r} has its own test split")
    if kind == "name":
        splits = load(data, data_dir)
        names = list(fashion_mnist.CLASS_NAMES) if data == "fashion_mnist" else None
        return ArraySource(splits, class_names=names)
    if kind == "arrays":
        return ArraySource(load_array_file(data, seed=seed))
    if kind == "images":
        if "image_size" not in given:
            raise ValueError(f"a folder of images (`{argument}` {str(data)!r}) needs --image-size HxW, e.g. 28x28")
        return ImageFolder(data, given["image_size"], given.get("channels"), seed=seed, test_directory=data_test,
                           argument=argument)
    if kind == "tfrecords":
        if "feature" not in given:
            raise ValueError(f"TFRecord files (`{argument}` {str(data)!r}) need --feature KEY, the feature "
                             "that holds the examples")
        return TFRecordSource(data, given["feature"], given.get("feature_dtype", "uint8"), given.get("image_size"),
                              given.get("channels") or 1, given.get("label_feature"), test_pattern=data_test,
                              seed=seed, argument=argument)
    return TableSource(data, given.get("columns"), given.get("label_column"), test_path=data_test, seed=seed,
                       argument=argument)
