"""`python -m kvae_cli` runs the command line (as the `kvae` console script does)."""

import sys

from kvae_cli import main

sys.exit(main())
