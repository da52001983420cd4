"""Configuration diagnostics in HAProxy's layout.

HAProxy prints ``[ALERT]    (<pid>) : config : parsing [<file>:<line>] : <message>``; the
kernel collects every alert, warning and notice of a run in a :class:`Diagnostics` so that
``hapx -c`` reports all of them before exiting.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO


class ConfigError(Exception):
    """A fatal problem in one configuration line.  ``str()`` is the message alone."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 keyword: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.keyword = keyword


class StartupRefused(Exception):
    """Raised by a lifecycle hook (``hapx_prefork``/``hapx_startup``) that has already
    reported, in HAProxy's words, why the process cannot start: hapx exits with status 1
    without adding a message of its own."""


class PluginError(Exception):
    """A plugin broke a rule of the kernel (for example, a duplicate keyword)."""


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The known keyword nearest to ``word``, or None when nothing is close."""
    matches = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """``"; did you mean 'X' maybe ?"`` in HAProxy's words, or an empty string."""
    best = suggest(word, candidates)
    return f"; did you mean '{best}' maybe ?" if best else ""


_LABELS = {"alert": "[ALERT]   ", "warning": "[WARNING] ", "notice": "[NOTICE]  ", "diag": "[DIAG]    "}


@dataclass
class Message:
    level: str  # alert | warning | notice | diag
    text: str
    file: str | None = None
    line: int | None = None
    keyword: str | None = None

    def render(self, pid: int | None = None) -> str:
        pid = os.getpid() if pid is None else pid
        where = f"parsing [{self.file}:{self.line}] : " if self.file is not None else ""
        return f"{_LABELS[self.level]} ({pid}) : config : {where}{self.text}"


@dataclass
class Diagnostics:
    """Collects the messages of one configuration load."""

    quiet: bool = False
    diag_enabled: bool = False
    stream: TextIO | None = None
    messages: list[Message] = field(default_factory=list)

    def _add(self, level: str, text: str, file: str | None, line: int | None,
             keyword: str | None = None) -> None:
        msg = Message(level, text, file, line, keyword)
        self.messages.append(msg)
        if level == "diag" and not self.diag_enabled:
            return
        if self.quiet and level in ("notice", "diag"):
            return
        out = self.stream or sys.stderr
        print(msg.render(), file=out, flush=True)

    def alert(self, text: str, file: str | None = None, line: int | None = None,
              keyword: str | None = None) -> None:
        self._add("alert", text, file, line, keyword)

    def warning(self, text: str, file: str | None = None, line: int | None = None) -> None:
        self._add("warning", text, file, line)

    def notice(self, text: str, file: str | None = None, line: int | None = None) -> None:
        self._add("notice", text, file, line)

    def diag(self, text: str, file: str | None = None, line: int | None = None) -> None:
        self._add("diag", text, file, line)

    def error(self, exc: ConfigError, file: str | None = None, line: int | None = None) -> None:
        self.alert(exc.message, exc.file or file, exc.line or line, exc.keyword)

    @property
    def alerts(self) -> list[Message]:
        return [m for m in self.messages if m.level == "alert"]

    @property
    def warnings(self) -> list[Message]:
        return [m for m in self.messages if m.level == "warning"]

    @property
    def failed(self) -> bool:
        return any(m.level == "alert" for m in self.messages)
