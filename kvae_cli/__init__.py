"""The `kvae` command line's front end: it answers `--help` and bad options at once.

`import kvae` imports TensorFlow (several seconds): the package loads the
library eagerly so that `import kvae` registers kvae's classes for
`keras.saving.load_model`. Anything under `kvae.` pays that cost first, so the
console script starts here instead, in a package that imports neither
TensorFlow nor `kvae` until a command runs:

- `kvae_cli.parsers`: every command's options, checked by `kvae_cli.arguments`
  types and by the library's names (`kvae_cli.choices`);
- `kvae_cli.quiet`: imports TensorFlow without its C++ start-up log lines;
- `kvae.cli`: each command's body, a thin shell over the library.

Example:

>>> from kvae_cli import build_parser
>>> args = build_parser().parse_args(["sample", "runs/digits", "--n", "16"])
>>> args.command, args.n
('sample', 16)
"""

import sys

from kvae_cli import quiet
from kvae_cli.parsers import build_parser


def main(argv=None):
    """Entry point of the `kvae` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        quiet.import_tensorflow(verbose=args.verbose)
        from kvae import cli
    except KeyboardInterrupt:
        print(f"kvae {args.command}: interrupted", file=sys.stderr)
        return 130
    return cli.run(args)


__all__ = ["build_parser", "main"]
