"""`python -m plugin` runs the step, as the `plume` command does."""

import sys

from plugin.cli import main

sys.exit(main())
