"""Splitting one configuration line into words, as HAProxy's ``parse_line()`` does.

- words are separated by unquoted blanks; ``#`` outside quotes starts a comment;
- single quotes protect everything; double quotes protect blanks, ``'`` and ``#`` and expand
  ``$NAME``, ``${NAME}``, ``${NAME-default}`` and ``${NAME[*]}`` (one word per
  space-separated part of the value);
- outside single quotes a backslash escapes a blank, ``\\``, ``#``, ``'``, ``"``, ``$``
  (inside double quotes only) and makes ``\\t``, ``\\n``, ``\\r``, ``\\xNN``; any other
  backslash is kept as is (``\\1`` stays for regex back-references);
- adjacent quoted and unquoted parts form one word.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

MAX_WORDS = 64
_HEX = "0123456789abcdefABCDEF"


class TokenizeError(ValueError):
    """A line that cannot be split: unmatched quote or brace, bad escape or variable name."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class Line:
    """The words of one line, each with the column (0-based) where it starts."""

    words: list[str]
    columns: list[int]
    #: more than MAX_WORDS words: the extra ones were dropped
    too_many: bool = False


#: what only the character-by-character scan handles; a line without any of these is split
#: on its blanks with a regex (most lines of a large configuration)
_SPECIAL = re.compile(r"[\"'\\#\r\n]")
_WORD = re.compile(r"[^ \t]+")


def _plain_line(text: str) -> Line:
    found = list(_WORD.finditer(text))
    words = [m.group() for m in found]
    columns = [m.start() for m in found]
    line = Line(words, columns)
    if len(words) > MAX_WORDS:
        line.too_many = True
        del words[MAX_WORDS:]
        del columns[MAX_WORDS:]
    return line


def _is_name_start(c: str) -> bool:
    return c.isalpha() or c == "_"


def tokenize(text: str, env: Mapping[str, str] | None = None,
             pseudo: Callable[[str], str | None] | None = None) -> Line:
    """Split ``text`` into words.  ``env`` defaults to ``os.environ``; ``pseudo`` resolves the
    internal variables ``.LINE``, ``.FILE`` and ``.SECTION``."""
    if _SPECIAL.search(text) is None:
        return _plain_line(text)
    env = os.environ if env is None else env
    words: list[str] = []
    columns: list[int] = []
    cur: list[str] = []
    cur_col = -1  # start column of the current word; -1: no word started
    vanish = [False]  # the current word is only an empty ${NAME[*]}: it is no word at all
    squote = dquote = False
    quote_col = -1
    i, n = 0, len(text)

    def start(col: int) -> None:
        nonlocal cur_col
        if cur_col < 0:
            cur_col = col

    def finish() -> None:
        nonlocal cur, cur_col
        if cur_col >= 0 and (cur or not vanish[0]):
            words.append("".join(cur))
            columns.append(cur_col)
        cur, cur_col = [], -1
        vanish[0] = False

    while i < n:
        c = text[i]
        if c in "\r\n":
            break
        if c == "#" and not squote and not dquote:
            break
        if c == '"' and not squote:
            start(i)
            dquote = not dquote
            quote_col = i if dquote else -1
            i += 1
            continue
        if c == "'" and not dquote:
            start(i)
            squote = not squote
            quote_col = i if squote else -1
            i += 1
            continue
        if c == "\\" and not squote:
            start(i)
            nxt = text[i + 1] if i + 1 < n else ""
            if nxt in (" ", "\\"):
                cur.append(nxt)
                i += 2
            elif nxt in ("t", "n", "r"):
                cur.append({"t": "\t", "n": "\n", "r": "\r"}[nxt])
                i += 2
            elif nxt in ("#", "'", '"'):
                cur.append(nxt)
                i += 2
            elif nxt == "$" and dquote:
                cur.append("$")
                i += 2
            elif nxt == "x":
                h = text[i + 2:i + 4]
                if len(h) != 2 or any(ch not in _HEX for ch in h):
                    raise TokenizeError("invalid or incomplete hex sequence", i)
                cur.append(chr(int(h, 16)))
                i += 4
            else:
                cur.append("\\")
                i += 1
            continue
        if c in " \t" and not squote and not dquote:
            finish()
            while i < n and text[i] in " \t":
                i += 1
            continue
        if c == "$" and dquote:
            start(i)
            i = _expand(text, i, env, pseudo, cur, words, columns, vanish)
            continue
        start(i)
        cur.append(c)
        i += 1

    if squote or dquote:
        raise TokenizeError("unmatched quote", quote_col)
    finish()
    while words and words[-1] == "":  # parse_line() counts no empty word at the end
        words.pop()
        columns.pop()
    line = Line(words, columns)
    if len(words) > MAX_WORDS:
        line.too_many = True
        del words[MAX_WORDS:]
        del columns[MAX_WORDS:]
    return line


def _expand(text: str, i: int, env: Mapping[str, str],
            pseudo: Callable[[str], str | None] | None, cur: list[str],
            words: list[str], columns: list[int], vanish: list[bool]) -> int:
    """Expand the variable at ``text[i] == '$'``; return the index after it.  For
    ``${NAME[*]}`` the value's space-separated parts become separate words: the parts before
    the last are appended to ``words`` directly and the last continues the current word."""
    n = len(text)
    dollar = i
    i += 1
    brace = i < n and text[i] == "{"
    if brace:
        i += 1
    if i >= n or not (_is_name_start(text[i]) or text[i] == "."):
        raise TokenizeError("invalid variable name", i)
    name_start = i
    if text[i] == ".":
        i += 1
    while i < n and (text[i].isalnum() or text[i] == "_"):
        i += 1
    name = text[name_start:i]
    if name.startswith("."):
        value = pseudo(name) if pseudo else None
        if value is None:
            raise TokenizeError(f"unsupported internal variable '{name}'", name_start)
    else:
        value = env.get(name)
    expand_words = False
    if brace:
        if text.startswith("[*]", i):
            expand_words = True
            i += 3
        elif i < n and text[i] == "[":
            raise TokenizeError("invalid word expansion, only '[*]' is supported", i)
        if i < n and text[i] == "-":
            end = text.find("}", i)
            if end < 0:
                raise TokenizeError("unmatched brace", dollar + 1)
            if value is None:
                value = text[i + 1:end]
            i = end
        if i >= n or text[i] != "}":
            raise TokenizeError("unmatched brace", dollar + 1)
        i += 1
    if value:
        if expand_words:
            parts = value.split()
            lead_space = value[:1].isspace()
            if not parts:
                vanish[0] = not cur
                return i
            if lead_space and cur:
                words.append("".join(cur))
                columns.append(dollar)
                cur.clear()
            for part in parts[:-1]:
                cur.append(part)
                words.append("".join(cur))
                columns.append(dollar)
                cur.clear()
            cur.append(parts[-1])
        else:
            cur.append(value)
    elif expand_words:
        vanish[0] = not cur
    return i


def marker(text: str, column: int) -> str:
    """Two lines for error reports: the line, then a ``^`` under ``column``."""
    shown = text.rstrip("\r\n").replace("\t", " ")
    return f"  {shown}\n  {' ' * max(column, 0)}^"
