"""``regsub``: regex substitution with HAProxy's loop and replacement syntax.

The replacement string takes ``\\0`` to ``\\9`` (the whole match and the groups; a group
that did not participate gives nothing), ``\\xHH`` (a byte) and ``\\<c>`` (the character
itself).  Without the ``g`` flag only the first match is replaced.  A zero-length match
copies one character and moves on, as HAProxy does.
"""

from __future__ import annotations

import re


def expand(template: str, m: re.Match[str]) -> str:
    out: list[str] = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        i += 1
        if c != "\\":
            out.append(c)
            continue
        if i >= n:
            break
        c = template[i]
        i += 1
        if c.isdigit() and c.isascii():
            num = ord(c) - 48
            if num <= (m.re.groups or 0):
                g = m.group(num)
                if g is not None:
                    out.append(g)
        elif c == "x":
            hexa = template[i:i + 2]
            if len(hexa) < 2:
                break
            i += 2
            out.append(chr(((_hexval(hexa[0]) << 4) + _hexval(hexa[1])) & 0xFF))
        else:
            out.append(c)
    return "".join(out)


def _hexval(c: str) -> int:
    """HAProxy's lenient hex digit: toupper(c) - '0', letters shifted down to 10.."""
    v = (ord(c.upper()) - 48) & 0xFF
    if v > 9:
        v = (v - 7) & 0xFF
    return v


def regsub(pattern: re.Pattern[str], template: str, subject: str, glob: bool) -> str:
    out: list[str] = []
    pos, end = 0, len(subject)
    first = True
    while True:
        m = pattern.search(subject, pos) if (glob or first) else None
        if m is None:
            out.append(subject[pos:])
            break
        out.append(subject[pos:m.start()])
        out.append(expand(template, m))
        if pos >= end:
            break
        step = m.end() - pos
        if not step:
            out.append(subject[pos])
            step = 1
        pos += step
        first = False
    return "".join(out)
