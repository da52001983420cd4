"""A rich console that stays readable without a terminal (pipes, files, CI logs)."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from rich.console import Console

#: width used when the output is not a terminal and $COLUMNS does not say
PIPE_WIDTH = 160


def make_console(file: TextIO | None = None) -> Console:
    out = file or sys.stdout
    tty = hasattr(out, "isatty") and out.isatty()
    width = None if tty or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(file=out, width=width, highlight=False, soft_wrap=False,
                   emoji=False, markup=False)
