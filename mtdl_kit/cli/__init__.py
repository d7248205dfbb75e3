"""The ``mtdl-kit`` command line: ``dashboard``, ``lab``, ``samples``, ``gallery``, ``regions``, ``train``, ``zoo`` ...

One module per concern: :mod:`~mtdl_kit.cli.arguments` (argument types and shared groups),
:mod:`~mtdl_kit.cli.commands` (every subcommand but ``lab``), :mod:`~mtdl_kit.cli.lab` (JupyterLab and the
transfer lab's experiments) and :mod:`~mtdl_kit.cli.parser` (the parser and :func:`main`, the console entry
point). Every subcommand validates its arguments and exits with a one-line message naming the problem.
"""

from __future__ import annotations

from mtdl_kit.cli.arguments import add_lab_device_argument
from mtdl_kit.cli.parser import build_parser, main

__all__ = ["add_lab_device_argument", "build_parser", "main"]
