"""Runs `kvae ARGS...` and SIGKILLs itself just before its N-th commit point (a file or folder rename).

    python kill_at_write.py N LOG -- train --out RUN ...

Every write kvae makes in a run folder, its backups and its exports ends in
`os.replace` (a file or folder renamed into place), so "before the N-th
`os.replace`" walks every commit point of a run in order. LOG gets one line per
rename, `index<TAB>source<TAB>target`, written before it happens, so a census
run (N = 0: never kill) lists them all.
"""

import os
import signal
import sys

kill_at, log_path = int(sys.argv[1]), sys.argv[2]
argv = sys.argv[sys.argv.index("--") + 1:]
_replace = os.replace
_count = 0


def replace(src, dst, *args, **kwargs):
    global _count
    _count += 1
    with open(log_path, "a") as log:
        log.write(f"{_count}\t{src}\t{dst}\n")
    if _count == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)


os.replace = replace

from kvae_cli import main  # noqa: E402

sys.exit(main(argv))
