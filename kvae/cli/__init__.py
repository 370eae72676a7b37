"""The bodies of the `kvae` commands: each parses nothing, calls the library, prints.

The console script enters through `kvae_cli`, which parses the options without
importing TensorFlow and then calls `run`.
"""

import importlib
import sys

from kvae.cli.train import TrainingDiverged


def run(args):
    """Runs the command `args.command` with parsed `args`; returns the exit code."""
    command = importlib.import_module(f"kvae.cli.{args.command}")
    try:
        command.run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        # Errors a user can cause: one line, no traceback, exit code 2 (as argparse).
        print(f"kvae {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a read-only folder, a full disk: the file and the reason, in one line
        message = f"cannot write {str(e.filename)!r}: {e.strerror}" if e.filename else str(e)
        print(f"kvae {args.command}: error: {message}", file=sys.stderr)
        return 2
    except TrainingDiverged as e:
        print(f"kvae {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kvae {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
