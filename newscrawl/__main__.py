"""``python -m newscrawl``: the console script without relying on PATH."""

import sys

from newscrawl.cli import main

sys.exit(main())
