"""The `kvae` command line: `train`, `evaluate`, `report`, `sample`, `export`."""

import argparse
import sys

from kvae.cli import evaluate, export, report, sample, train

_COMMANDS = {"train": train, "evaluate": evaluate, "report": report, "sample": sample, "export": export}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="kvae", description="Train, evaluate and sample variational autoencoders."
    )
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,report,sample,export}")
    sub.required = True
    for name, module in _COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv=None):
    """Entry point of the `kvae` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _COMMANDS[args.command].run(args)
    except (ValueError, FileNotFoundError, FileExistsError) as e:
        # Errors a user can cause: one line, no traceback, exit code 2 (as argparse).
        print(f"kvae {args.command}: error: {e}", file=sys.stderr)
        return 2
    except train.TrainingDiverged as e:
        print(f"kvae {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"kvae {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0
