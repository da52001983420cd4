"""Smaller parts of HAProxy's Lua API: ``txn:reply()`` (the Reply object ``txn:done``
takes), ``Regex`` (``new(re[, icase])``, ``exec``, ``match`` giving the captures; Python's
``re`` stands for PCRE), ``core.queue()`` (``push``, ``pop``, ``pop_wait`` that waits
without blocking the process, ``size``, ``alarm``) and ``core.http_date``,
``imf_date``, ``rfc850_date``, ``asctime_date`` (an HTTP date as epoch seconds, or nil).
"""

from __future__ import annotations

import asyncio
import calendar
import re
import time
from pathlib import Path
from typing import Any

LUA = (Path(__file__).parent / "extras.lua").read_text()
_DATE_FORMATS = {
    "imf": ("%a, %d %b %Y %H:%M:%S GMT",),
    "rfc850": ("%A, %d-%b-%y %H:%M:%S GMT",),
    "asctime": ("%a %b %d %H:%M:%S %Y",),
}


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("latin-1")
    return "" if v is None else str(v)


def parse_date(text: str, kind: str) -> int | None:
    """Epoch seconds of an HTTP date of the given form ("http": any of the three)."""
    kinds = ("imf", "rfc850", "asctime") if kind == "http" else (kind,)
    text = " ".join(text.split()) if kind in ("asctime", "http") else text.strip()
    for k in kinds:
        for fmt in _DATE_FORMATS[k]:
            try:
                return calendar.timegm(time.strptime(text, fmt))
            except ValueError:
                continue
    return None


class _Queue:
    """The wake-up side of one core.queue() (items stay in Lua)."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event: asyncio.Event | None = None

    def signal(self) -> None:
        if self.event is not None:
            self.event.set()

    async def wait(self) -> tuple[Any, ...]:
        if self.event is None:
            self.event = asyncio.Event()
        await self.event.wait()
        self.event.clear()
        return ()


def lua_api(api: Any) -> None:
    """txn:reply(), Regex, core.queue and the date helpers."""
    state = api.state
    lua = state.lua

    def regex(pattern: Any, icase: bool) -> Any:
        try:
            return re.compile(_text(pattern), re.I if icase else 0)
        except re.error as exc:
            from lupa.lua54 import LuaError

            raise LuaError(f"Regex.new: {exc}") from None

    def regex_exec(rx: Any, s: Any) -> bool:
        return rx.search(_text(s)) is not None

    def regex_match(rx: Any, s: Any) -> Any:
        m = rx.search(_text(s))
        if m is None:
            return None
        caps = [m.group(0)] + [g if g is not None else "" for g in m.groups()]
        return lua.table_from(caps)

    def date(s: Any, kind: str) -> Any:
        return parse_date(_text(s), kind)

    api.define(LUA, {
        "regex": regex, "regex_exec": regex_exec, "regex_match": regex_match,
        "queue": _Queue, "queue_signal": _Queue.signal, "queue_alarm": _Queue.signal,
        "date": date})
    api.blocking("queue_wait", lambda q: q.wait())
