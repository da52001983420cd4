"""What a Lua script registers, read from its source.

HAProxy learns the ``lua.<name>`` keywords by running the script's ``core.register_*`` calls
at ``lua-load`` time.  The Lua runtime comes in a later issue; until then hapx reads those
calls from the source text, so a configuration naming ``lua.<name>`` is accepted exactly when
a loaded script declares ``<name>`` (with the right kind and, for actions, rule sets)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_CALL = re.compile(r"core\s*\.\s*register_(action|fetches|converters|service|filter)\s*\(")
_COMMENT = re.compile(r"--\[(=*)\[.*?\]\1\]|--[^\n]*", re.S)
_STRING = re.compile(r"\"((?:[^\"\\]|\\.)*)\"|'((?:[^'\\]|\\.)*)'")
_OPEN = {"(": ")", "{": "}", "[": "]"}


@dataclass(frozen=True)
class Registration:
    kind: str  # action | fetches | converters | service | filter
    name: str
    words: tuple[str, ...] = ()  # action rule sets or service mode
    nargs: int = 0
    line: int = 0


def _arguments(text: str, start: int) -> list[str]:
    """The top-level arguments of the call whose '(' is just before ``start``."""
    args: list[str] = []
    depth: list[str] = []
    cur = start
    i = start
    while i < len(text):
        c = text[i]
        if c in "\"'":
            m = _STRING.match(text, i)
            i = m.end() if m else i + 1
            continue
        if c in _OPEN:
            depth.append(_OPEN[c])
        elif depth and c == depth[-1]:
            depth.pop()
        elif not depth and c == ")":
            args.append(text[cur:i].strip())
            return args
        elif not depth and c == ",":
            args.append(text[cur:i].strip())
            cur = i + 1
        i += 1
    args.append(text[cur:].strip())
    return args


def _strings(text: str) -> tuple[str, ...]:
    return tuple(a if a else b for a, b in _STRING.findall(text))


def scan(source: str) -> list[Registration]:
    """The ``core.register_*`` calls of a script whose name is a literal string."""
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    out = []
    for m in _CALL.finditer(text):
        args = _arguments(text, m.end())
        names = _strings(args[0]) if args else ()
        if not names or not _STRING.fullmatch(args[0]):
            continue
        kind = m.group(1)
        words = _strings(args[1]) if kind in ("action", "service") and len(args) > 1 else ()
        nargs = int(args[3]) if kind == "action" and len(args) > 3 and args[3].isdigit() else 0
        out.append(Registration(kind, names[0], words, nargs,
                                text.count("\n", 0, m.start()) + 1))
    return out
