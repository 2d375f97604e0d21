"""`python -m selfcare.cli`: the same as the `selfcare` console script."""

import sys

from selfcare.cli import main

sys.exit(main())
