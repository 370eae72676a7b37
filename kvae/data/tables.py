"""`TableSource`: numeric columns of a CSV or Parquet table, streamed and standardised."""

import csv
import re
from pathlib import Path

import numpy as np
import tensorflow as tf

from kvae import conditions

from kvae.data.pipeline import as_written
from kvae.data.source import Source, counted, epoch_stream, rotate, stream_options
from kvae.data.transforms import Standardization

SUFFIXES = (".csv", ".parquet")
SHUFFLE_BUFFER = 10_000
_READ_BATCH = 4096


class TableSource(Source):
    """Rows of numeric columns (continuous data, for Gaussian likelihoods).

    CSV files are read by `tf.data.experimental.CsvDataset` (a header row
    names the columns); Parquet files by `pyarrow` (`pip install
    "kvae[parquet]"`), batch by batch. Neither is held in memory.

    On opening, one pass over the training rows computes each column's mean
    and standard deviation (`transform`, a `Standardization`; a model built
    with `preprocessing=table.preprocessing()` standardises inside, so it is
    saved, evaluated and served on raw rows) and checks the cells: a
    non-numeric column, an empty cell or a NaN fails, naming the file, the
    column and the row. Without `test_path`, a fixed fraction of rows is held
    out by a seeded hash of the row index.

    Args:
        path: str or Path. The `.csv` or `.parquet` file.
        columns: list of str or None. The columns used (default: all but
            `label_column`).
        label_column: str or None. A column of integer class ids (labels).
        test_path: str, Path or None. The user's own test table (same columns).
        test_fraction: float. Held-out fraction without `test_path`.
        seed: int. Seed of that split.
        argument: str. How errors name the file (the CLI's `--data`).

    Example:

    >>> import tempfile, pathlib, kvae
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "points.csv"
    >>> _ = path.write_text("a,b\\n" + "".join(f"{i},{2 * i}\\n" for i in range(20)))
    >>> table = kvae.data.TableSource(path)
    >>> table.event_shape, table.num_train + table.num_test, table.columns
    ((2,), 20, ['a', 'b'])
    """

    def __init__(self, path, columns=None, label_column=None, test_path=None, test_fraction=0.1, seed=0,
                 argument="data"):
        self.path = Path(path)
        self.argument = argument
        self.test_argument = "data_test" if argument == "data" else "--data-test"
        self.name = self.path.stem
        self.seed, self.test_fraction = seed, float(test_fraction)
        self.test_path = None if test_path is None else Path(test_path)
        if self.test_path is None and not 0 < self.test_fraction < 1:
            raise ValueError(f"`test_fraction` must be in (0, 1), received: {test_fraction!r}")
        header = _header(self.path, argument)
        if self.test_path is not None and _header(self.test_path, self.test_argument) != header:
            raise ValueError(
                f"`{self.test_argument}` file {str(self.test_path)!r} must have the columns of "
                f"`{argument}` ({header}), received {_header(self.test_path, self.test_argument)}"
            )
        self.label_column = label_column
        wanted = [c for c in (columns or header) if c != label_column]
        missing = [c for c in wanted + ([label_column] if label_column else []) if c not in header]
        if missing:
            raise ValueError(f"`{argument}` file {str(self.path)!r} has no column(s) {missing}; it has {header}")
        self.columns, self._header = wanted, header
        self.event_shape = (len(wanted),)
        self.transform, self.num_train, max_label = self._statistics()
        self.num_test = self._count_test()
        self.class_names = None if label_column is None else [str(k) for k in range(max_label + 1)]

    # -- reading -------------------------------------------------------------------------------
    def _rows(self, path):
        """Batches of `(row_index, values [b, columns], label [b])` of one file, in file order."""
        names = self.columns + ([self.label_column] if self.label_column else [])
        if path.suffix == ".csv":
            select = [self._header.index(c) for c in names]
            order = np.argsort(select)  # CsvDataset returns the selected columns in file order
            ds = tf.data.experimental.CsvDataset(
                str(path), [tf.float32] * len(names), header=True, select_cols=sorted(select))
            ds = ds.batch(_READ_BATCH).map(
                as_written(lambda *cols: tf.stack([cols[i] for i in np.argsort(order)], axis=1)))
        else:
            ds = _parquet_batches(path, names)
        return ds.map(as_written(self._split_columns)).unbatch().enumerate().batch(_READ_BATCH).map(
            as_written(lambda index, row: (index, row[0], row[1])))

    def _split_columns(self, values):
        n = len(self.columns)
        # Kept as read (float) until checked to be class ids; `_finish` casts them.
        label = values[:, n] if self.label_column else tf.zeros(tf.shape(values)[:1], tf.float32)
        return values[:, :n], label

    def _held_out(self, index):
        key = tf.random.experimental.stateless_fold_in(tf.constant([self.seed, 7], tf.int64), index)
        return tf.random.stateless_uniform([], seed=key) < self.test_fraction

    def _keep(self, train):
        """The row filter of the train or test split (held out by a seeded hash of the row index)."""

        def keep_train(index, values, label):
            return tf.logical_not(self._held_out(index))

        def keep_test(index, values, label):
            return self._held_out(index)

        return as_written(keep_train if train else keep_test)

    def _split(self, path, train):
        """One file's rows of the train or test split, one row per element: `(values, label)`."""
        rows = self._rows(path).unbatch()
        if self.test_path is None:
            rows = rows.filter(self._keep(train))
        return rows.map(as_written(lambda i, v, y: (v, y)))

    def _finish(self, rows, batch_size, with_labels):
        # Rows as they are in the file: the model standardises them (`preprocessing()`).
        rows = rows.batch(batch_size)
        if with_labels:
            return rows.map(as_written(lambda v, y: (v, tf.cast(y, tf.int64))))
        return rows.map(as_written(lambda v, y: v))

    def train_dataset(self, batch_size, seed=0, start_epoch=0, with_labels=False, binarize=False, shard=None,
                      steps=None):
        if shard is not None:
            raise ValueError("a table is one file: shard it by data (tf.data's AutoShardPolicy.DATA), not by file")
        if binarize:
            raise ValueError("`binarize` needs values in [0, 1]; a table is continuous (use a Gaussian likelihood)")

        def epoch(epoch_seed):
            rows = rotate(self._split(self.path, train=True), self.num_train, epoch_seed)
            return self._finish(rows.shuffle(SHUFFLE_BUFFER, seed=seed, reshuffle_each_iteration=False), batch_size, with_labels)

        return epoch_stream(start_epoch, seed, epoch).prefetch(2).with_options(stream_options())

    def test_dataset(self, batch_size, with_labels=False):
        rows = self._split(self.test_path or self.path, train=False)
        ds = counted(self._finish(rows, batch_size, with_labels), self.num_test, batch_size)
        return ds.prefetch(2).with_options(stream_options())

    # -- checking ------------------------------------------------------------------------------
    def validate(self):
        """Reads every row again; raises naming the file, column and row of an empty, NaN or bad cell."""
        for _ in self._checked(self.path, self.argument, train=True):
            pass
        path, argument = (self.test_path, self.test_argument) if self.test_path else (self.path, self.argument)
        for _ in self._checked(path, argument, train=False):
            pass

    def _statistics(self):
        count, total, squares, max_label = 0, 0.0, 0.0, -1
        for index, values, label in self._checked(self.path, self.argument, train=True):
            count += len(values)
            values = values.astype(np.float64)
            total = total + values.sum(axis=0)
            squares = squares + (values**2).sum(axis=0)
            max_label = max(max_label, int(label.max()) if len(label) else -1)
        if count == 0:
            raise ValueError(f"`{self.argument}` file {str(self.path)!r} has no training rows")
        return Standardization.from_moments(count, total, squares), count, max_label

    def _count_test(self):
        path, argument = (self.test_path, self.test_argument) if self.test_path else (self.path, self.argument)
        count = sum(len(values) for _, values, _ in self._checked(path, argument, train=False))
        if count == 0:
            raise ValueError(f"`{argument}` file {str(path)!r} has no test rows")
        return count

    def _checked(self, path, argument, train):
        """Yields `(index, values, label)` NumPy batches of a split, or raises naming the bad cell."""
        rows = self._rows(path)
        if self.test_path is None:
            rows = rows.unbatch().filter(self._keep(train)).batch(_READ_BATCH)
        try:
            for index, values, label in rows:
                index, values, label = index.numpy(), values.numpy(), label.numpy()
                bad = ~np.isfinite(values)
                if bad.any():
                    r, c = np.argwhere(bad)[0]
                    raise ValueError(
                        f"`{argument}` file {str(path)!r}: column {self.columns[c]!r} has a NaN or infinite cell "
                        f"in data row {index[r] + 1}; drop or fill it first"
                    )
                if self.label_column:
                    try:
                        conditions.check_class_ids(label, "labels")
                    except ValueError:
                        bad_row = next(i for i, y in zip(index, label) if not (np.isfinite(y) and y >= 0 and y % 1 == 0
                                                                               and y < conditions.MAX_CLASSES))
                        raise ValueError(
                            f"`{argument}` file {str(path)!r}: label column {self.label_column!r} must hold class ids, "
                            f"integers in [0, {conditions.MAX_CLASSES}); data row {bad_row + 1} holds "
                            f"{float(label[list(index).index(bad_row)]):g}"
                        ) from None
                yield index, values, label
        except tf.errors.InvalidArgumentError as e:
            raise ValueError(f"`{argument}` file {str(path)!r}: {self._bad_cell(path, e.message)}") from None

    def _bad_cell(self, path, message):
        """Names the first empty or non-numeric cell of the used columns (CsvDataset's error does not)."""
        names = self.columns + ([self.label_column] if self.label_column else [])
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            for row_number, row in enumerate(reader, start=1):
                for name in names:
                    cell = row[header.index(name)] if header.index(name) < len(row) else ""
                    if cell.strip() == "":
                        return f"column {name!r} has an empty cell in data row {row_number}; drop or fill it first"
                    try:
                        float(cell)
                    except ValueError:
                        return (f"column {name!r} is not numeric: data row {row_number} holds {cell!r}; kvae "
                                "models numeric columns only (select others with `columns=`)")
        return re.sub(r"\{\{.*?\}\}|\[Op:.*$", "", message.strip().splitlines()[0]).strip()


def _header(path, argument):
    if path.suffix not in SUFFIXES:
        raise ValueError(f"`{argument}` table must end in {' or '.join(SUFFIXES)}, received: {str(path)!r}")
    if not path.is_file():
        raise FileNotFoundError(f"`{argument}` file not found: {str(path)!r}")
    if path.suffix == ".parquet":
        schema = _pyarrow().parquet.read_schema(path)
        bad = [f.name for f in schema if not (_pyarrow().types.is_integer(f.type) or
                                              _pyarrow().types.is_floating(f.type))]
        if bad:
            raise ValueError(f"`{argument}` file {str(path)!r}: column(s) {bad} are not numeric; "
                             "kvae models numeric columns only (select others with `columns=`)")
        return list(schema.names)
    with open(path, newline="") as f:
        header = next(csv.reader(f), None)
    if not header:
        raise ValueError(f"`{argument}` file {str(path)!r} is empty: expected a header row naming the columns")
    twice = sorted({name for name in header if header.count(name) > 1})
    if twice:
        raise ValueError(f"`{argument}` file {str(path)!r}: the header names column(s) {twice} more than once; "
                         "every column needs its own name")
    return header


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise ImportError('Parquet tables need pyarrow: pip install "kvae[parquet]"') from None
    return pyarrow


def _parquet_batches(path, names):
    pa = _pyarrow()

    def batches():
        for batch in pa.parquet.ParquetFile(path).iter_batches(batch_size=_READ_BATCH, columns=names):
            yield np.stack([batch.column(c).to_numpy(zero_copy_only=False).astype(np.float32) for c in names], 1)

    return tf.data.Dataset.from_generator(batches, output_signature=tf.TensorSpec([None, len(names)], tf.float32))


def is_table(path):
    return Path(str(path)).suffix in SUFFIXES

