"""``python -m vidal`` (and ``torchrun -m vidal``): the ``vidal`` command line."""

import sys

from vidal.cli import main

sys.exit(main())
