"""`python -m kvae` runs the command line (`python -m kvae_cli` starts faster)."""

import sys

from kvae_cli import main

sys.exit(main())
