"""Importing TensorFlow for the command line without its C++ start-up log lines.

TensorFlow reads `TF_CPP_MIN_LOG_LEVEL` for what it logs once loaded, but the
shared libraries it loads log a few INFO lines first (oneDNN, CUDA drivers),
after absl's notice that "All log messages before absl::InitializeLog() is
called are written to STDERR". They go to file descriptor 2, whatever the
level and out of Python's reach (checked with TensorFlow 2.21).
`import_tensorflow` sets the level unless the user did, imports TensorFlow with
descriptor 2 sent to a temporary file, and then passes on every line of it but
the C++ log lines below that level. Only the command line does this: the
library never touches a process's output.

Example:

>>> from kvae_cli import quiet
>>> text = (
...     "I0000 00:00:1795411775.026 1186 port.cc:153] oneDNN custom operations are on.\\n"
...     "E0000 00:00:1795411789.189 1192 cuda_platform.cc:52] failed call to cuInit\\n"
...     "a line of the program's own\\n"
... )
>>> print(quiet.filter_log_lines(text, level=2), end="")
E0000 00:00:1795411789.189 1192 cuda_platform.cc:52] failed call to cuInit
a line of the program's own
"""

import os
import re
import sys
import tempfile

# Only FATAL: without a GPU driver even the failed CUDA probe logs an ERROR line.
DEFAULT_LEVEL = "3"

# absl / glog: "I0000 00:00:1795411775.026484    1186 port.cc:153] message" (before absl is
# initialised the seconds field holds the Unix time).
LOG_LINE = re.compile(r"^([IWEF])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [^\s:]+:\d+\] ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
ABSL_NOTICE = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"


def import_tensorflow(verbose=False):
    """Imports TensorFlow, quietly unless `verbose`; does nothing once it is imported."""
    if "tensorflow" in sys.modules:
        return
    if verbose:
        import tensorflow  # noqa: F401
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_LEVEL)
    level = _level(os.environ["TF_CPP_MIN_LOG_LEVEL"])
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(filter_log_lines(captured.read().decode(errors="replace"), level))
            sys.stderr.flush()


def filter_log_lines(text, level):
    """`text` without the C++ log lines below severity `level` (0 INFO … 3 FATAL)."""
    return "".join(line for line in text.splitlines(keepends=True) if _keep(line, level))


def _keep(line, level):
    if line.rstrip("\r\n") == ABSL_NOTICE:
        return level <= 0
    match = LOG_LINE.match(line)
    return match is None or _SEVERITY[match.group(1)] >= level


def _level(text):
    try:
        return int(text)
    except ValueError:
        return 0  # TensorFlow treats what it cannot read as 0 (log everything)
