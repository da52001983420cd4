"""Debug counters (HAProxy's ``COUNT_IF``/``CHECK_IF``/``BUG_ON``/glitch counters, shown by
the runtime API's ``debug counters``).

Code that wants one creates it once, at import: ``C = debug_counter("CNT", "desc")`` (the
place is the caller's file, line and function), then calls ``C.hit()`` where the condition
holds.  Types: ``BUG``, ``CHK`` (a check that failed once), ``CNT`` (a counted condition),
``GLT`` (a protocol glitch).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

TYPES = ("BUG", "CHK", "CNT", "GLT")
HEADER = 'Count     Type Location function(): "condition" [comment]\n'


@dataclass(eq=False)
class DebugCounter:
    type: str
    file: str
    line: int
    func: str
    desc: str = ""
    count: int = 0

    def hit(self) -> None:
        self.count += 1

    def render(self) -> str:
        return (f"{self.count:<10} {self.type:>3} {self.file}:{self.line} {self.func}()"
                f"{': ' if self.desc else ''}{self.desc}\n")


#: every counter, in creation order
COUNTERS: list[DebugCounter] = []


def debug_counter(kind: str, desc: str = "") -> DebugCounter:
    """Create and register a counter at the caller's place."""
    if kind not in TYPES:
        raise ValueError(f"unknown debug counter type {kind!r}")
    frame = sys._getframe(1)  # noqa: SLF001 - the place, as HAProxy's __FILE__/__LINE__
    code = frame.f_code
    counter = DebugCounter(kind, code.co_filename.rsplit("/", 1)[-1], frame.f_lineno,
                           code.co_name, desc)
    COUNTERS.append(counter)
    return counter
