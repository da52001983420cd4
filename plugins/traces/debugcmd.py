"""``debug counters [reset|show|all|bug|chk|cnt|glt]*`` over the kernel's debug counters
(:mod:`hapx.core.debugcount`), in HAProxy 3.2's layout: a header line, then one line per
counter (``<count> <TYPE> <file>:<line> <func>()[: <desc>]``), non-zero ones unless
``all``; ``reset`` (admin) zeroes the selected ones."""

from __future__ import annotations

from typing import Any

from hapx.core.debugcount import COUNTERS, HEADER
from hapx.core.runtime.cli_api import PERMISSION_DENIED, cli_command

USAGE_ERROR = ("Expects an optional action ('reset','show'), optional types "
               "('bug','chk','cnt','glt') and optionally 'all' to even dump null counters.\n")


def debug_counters(cli: Any, args: list[str]) -> str:
    reset = show_all = False
    types: set[str] = set()
    for word in args[2:]:
        if word == "reset":
            reset = True
        elif word == "show":
            reset = False
        elif word == "all":
            show_all = True
        elif word in ("bug", "chk", "cnt", "glt"):
            types.add(word.upper())
        else:
            return USAGE_ERROR
    selected = [c for c in COUNTERS if not types or c.type in types]
    if reset:
        if not cli.has_level("admin"):
            return PERMISSION_DENIED
        for c in selected:
            c.count = 0
        return ""
    return HEADER + "".join(c.render() for c in selected if c.count or show_all)


COMMANDS = (
    cli_command(
        "debug counters [?|all|bug|cnt|chk|glt]*", debug_counters, level="operator",
        synopsis="debug counters [reset|show|all|bug|chk|cnt|glt]*", explain=(
            "Show/reset debug counters: the counted conditions and failed checks of the code, with "
            "their place; 'all' lists those still at zero.")),
)
