"""Plain string operations, transcribed from HAProxy's ``src/sample.c`` so that corner
cases (empty fields, missing fields, negative indexes, counts) give the same results.

Strings are ``str`` objects holding one byte per character (latin-1).
"""

from __future__ import annotations

_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def lower(s: str) -> str:
    """ASCII letters only, as HAProxy (bytes above 127 are left alone)."""
    return s.translate(_LOWER)


def upper(s: str) -> str:
    return s.translate(_UPPER)


def field(s: str, index: int, delims: str, count: int = 1) -> str | None:
    """The ``index``-th field (1-based; negative counts from the end) and ``count - 1``
    following ones (0: all the rest), delimiters inside included.  Empty fields count.
    None when the field does not exist."""
    if not index:
        return None
    n = len(s)
    if index < 0:
        fld = -1
        start = end = n
        while start > 0:
            if s[start - 1] in delims:
                if fld == index:
                    if count == 1:
                        return s[start:end]
                    if count > 1:
                        count -= 1
                else:
                    end = start - 1
                    fld -= 1
            start -= 1
    else:
        fld = 1
        start = end = 0
        while end < n:
            if s[end] in delims:
                if fld == index:
                    if count == 1:
                        return s[start:end]
                    if count > 1:
                        count -= 1
                else:
                    start = end + 1
                    fld += 1
            end += 1
    if fld != index:
        return None
    return s[start:end]


def word(s: str, index: int, delims: str, count: int = 1) -> str | None:
    """Like :func:`field` but runs of delimiters count as one and empty words are
    skipped."""
    if not index:
        return None
    n = len(s)
    wrd = 0
    inword = False
    if index < 0:
        start = end = n
        while start > 0:
            issep = s[start - 1] in delims
            if not inword:
                if not issep:
                    if wrd != index:
                        wrd -= 1
                        end = start
                    inword = True
            elif issep:
                if wrd == index:
                    if count == 1:
                        return s[start:end]
                    if count > 1:
                        count -= 1
                inword = False
            start -= 1
    else:
        start = end = 0
        while end < n:
            issep = s[end] in delims
            if not inword:
                if not issep:
                    if wrd != index:
                        wrd += 1
                        start = end
                    inword = True
            elif issep:
                if wrd == index:
                    if count == 1:
                        return s[start:end]
                    if count > 1:
                        count -= 1
                inword = False
            end += 1
    if wrd != index:
        return None
    return s[start:end]


def param(s: str, name: str, delim: str = "&") -> str | None:
    """The value of parameter ``name`` in a ``name=value<delim>...`` list; an empty string
    when the parameter has no value; None when it is absent."""
    pos, end, nl = 0, len(s), len(name)
    while pos < end:
        equal = pos + nl
        if equal > end:
            break
        if equal == end or s[equal] == delim:
            if s[pos:equal] == name:
                return ""
            pos = equal + 1
            continue
        if s[equal] == "=" and s[pos:equal] == name:
            pos = equal + 1
            pend = s.find(delim, pos)
            return s[pos:] if pend < 0 else s[pos:pend]
        nxt = s.find(delim, pos)
        pos = end if nxt < 0 else nxt + 1
    return None


def _port_sep(s: str) -> int:
    """Index of the ':' before a port, or -1 (an IPv6 literal's ']' stops the search)."""
    for i in range(len(s) - 1, -1, -1):
        if s[i] == ":":
            return i
        if s[i] == "]":
            return -1
    return -1


def host_only(s: str) -> str:
    i = _port_sep(s)
    return lower(s[:i] if i >= 0 else s)


def port_only(s: str) -> int:
    i = _port_sep(s)
    if i < 0:
        return 0
    # HAProxy's strl2ui: no digit check, every byte counts as (byte - '0')
    n = 0
    for c in s[i + 1:]:
        n = (n * 10 - 48 + ord(c)) & 0xFFFFFFFF
    return n


def cut_crlf(s: str) -> str:
    for i, c in enumerate(s):
        if c in "\r\n":
            return s[:i]
    return s


def strcmp(a: str, b: str) -> int:
    """C ``strncmp`` over the shorter length (difference of the first differing bytes,
    stopping at a NUL), then the shorter string sorts first."""
    for i in range(min(len(a), len(b))):
        ca, cb = ord(a[i]), ord(b[i])
        if ca != cb:
            return ca - cb
        if not ca:
            break
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    return 0
