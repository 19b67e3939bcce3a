"""``python -m booth`` is the ``booth`` command."""

import sys

from booth.cli import main

sys.exit(main())
