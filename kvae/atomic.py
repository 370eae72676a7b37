"""Writing files whole or not at all: the one home of kvae's write-to-temporary-then-rename."""

import contextlib
import os
import re
import shutil
from pathlib import Path


TEMPORARY = ".tmp-"  # how `replacing`'s temporaries start: `.tmp-<pid>-<name>`


def written_name(name):
    """The name a `replacing` temporary will be renamed to, or None when `name` is not one.

    >>> from kvae import atomic
    >>> atomic.written_name(".tmp-4242-history.csv"), atomic.written_name("history.csv")
    ('history.csv', None)
    """
    match = _temporary(name)
    return match.group(2) if match else None


def writer_pid(name):
    """The id of the process writing the `replacing` temporary `name`, or None when `name` is not one.

    >>> from kvae import atomic
    >>> atomic.writer_pid(".tmp-4242-history.csv"), atomic.writer_pid(".tmp-mine")
    (4242, None)
    """
    match = _temporary(name)
    return int(match.group(1)) if match else None


def _temporary(name):
    return re.fullmatch(rf"{re.escape(TEMPORARY)}(\d+)-(.+)", name)


@contextlib.contextmanager
def replacing(path):
    """Yields a temporary sibling of `path` to write; renames it onto `path` when the block succeeds.

    The temporary name is hidden, keeps the suffix (Keras' `save` and
    Matplotlib choose the format from it) and names the writing process, so
    two processes writing the same file (workers of one multi-worker run
    marking their shared backup folder) never rename each other's temporary:
    the last rename wins, whole. If the block raises, the temporary
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
    tmp = path.with_name(f"{TEMPORARY}{os.getpid()}-{path.name}")
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


class Locked(FileExistsError):
    """Another process holds the lock (a `FileExistsError`: the CLI reports it in one line)."""


@contextlib.contextmanager
def locked(path, holder, what):
    """Holds an exclusive lock on the file `path` for the block, or raises `Locked` at once.

    The lock is the kernel's (`flock`), so it goes with the process that holds
    it, however that process ends (a SIGKILL included): no stale lock is left
    to clear by hand. `holder` (a short text: the command, its pid and host) is
    written into the file, and a second process's error quotes it.

    Args:
        path: str or Path. The lock file (created if absent; never deleted, as
            deleting a lock file another process has open would split the lock).
        holder: str. Who holds it, for the other process's message.
        what: str. What is locked, e.g. `"run folder 'runs/digits'"`.

    Example:

    >>> import os, tempfile
    >>> from kvae import atomic
    >>> lock = os.path.join(tempfile.mkdtemp(), ".lock")
    >>> with atomic.locked(lock, "pid 1", "the folder"):
    ...     try:
    ...         with atomic.locked(lock, "pid 2", "the folder"):
    ...             pass
    ...     except atomic.Locked as e:
    ...         print(e)
    the folder is in use by another kvae process (pid 1); wait for it to finish, or use another folder
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip() or "unknown"
            raise Locked(f"{what} is in use by another kvae process ({other}); wait for it to finish, "
                         "or use another folder") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def holder_text():
    """`pid P on HOST since HH:MM:SS: COMMAND`, what `locked` records of this process."""
    import socket
    import sys
    import time

    command = " ".join(["kvae", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("kvae") else " ".join(sys.argv)
    return f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}: {command[:200]}"
