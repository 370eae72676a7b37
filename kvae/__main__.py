"""`python -m kvae` runs the command line."""

import sys

from kvae.cli import main

sys.exit(main())
