"""`python -m bench` runs the benchmark; `--help` lists its options."""

import sys

from bench.cli import main

sys.exit(main())
