"""``python -m mtdl_kit.cli``: the ``mtdl-kit`` command."""

import sys

from mtdl_kit.cli.parser import main

sys.exit(main())
