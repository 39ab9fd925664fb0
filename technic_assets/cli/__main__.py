"""`python -m technic_assets.cli ...`, as the tests and benchmarks start the CLI in a process of its own."""

import sys

from technic_assets.cli import main

sys.exit(main())
