"""``python -m mtl_teach``: the command line (see :mod:`mtl_teach.cli`)."""

import sys

from mtl_teach.cli import main

sys.exit(main())
