"""Writing files whole or not at all: the one home of kvae's write-to-temporary-then-rename."""

import contextlib
import os
import shutil
from pathlib import Path


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary sibling of `path` to write; renames it onto `path` when the block succeeds.

    The temporary name is hidden and keeps the suffix (Keras' `save` and
    Matplotlib choose the format from it). If the block raises, the temporary
    file or folder is removed and `path` is left as it was, so a reader (or a
    run killed mid-write) never sees half a file.

    Example:

    >>> import os, tempfile
    >>> from kvae import atomic
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.txt")
    >>> with atomic.replacing(path) as tmp:
    ...     _ = tmp.write_text("done")
    >>> open(path).read(), sorted(os.listdir(os.path.dirname(path)))
    ('done', ['notes.txt'])
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def write_text(path, text):
    """Writes `text` to `path` whole or not at all."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_bytes(path, data):
    """Writes `data` to `path` whole or not at all."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
