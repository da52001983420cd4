"""Date formatting for utime/ltime and their ms_/us_ variants, and http_date.

Formats go to the C library's ``strftime`` (through :func:`time.strftime`), after ``%N`` and
``%<width>N`` (the nanoseconds, 9 digits, truncated to the width) have been replaced, exactly
as HAProxy's ``conv_time_common`` does.
"""

from __future__ import annotations

import time

_M64 = (1 << 64) - 1
_DATE_MASK = 0x007FFFFFFFFFFFFF
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def c_mod(a: int, b: int) -> int:
    return a - b * c_div(a, b)


def _find_n(fmt: str, p: int) -> tuple[int, int, int] | None:
    """Next ``%[digits]N`` at or after ``p``: (start, length, width) or None."""
    while p < len(fmt):
        needle = fmt.find("%", p)
        if needle < 0:
            return None
        q = needle + 1
        digits_at = q
        while q < len(fmt) and fmt[q].isdigit():
            q += 1
        if q < len(fmt) and fmt[q] == "N":
            width = int(fmt[digits_at:q]) if q > digits_at else 9
            return needle, q - needle + 1, width
        if q >= len(fmt):
            return None
        p = q
    return None


def _expand_n(fmt: str, ns: int) -> str:
    out: list[str] = []
    ns_str = f"{ns & _M64:09d}"[:9]
    p = 0
    while p < len(fmt):
        found = _find_n(fmt, p)
        if found is None:
            break
        start, skip, width = found
        out.append(fmt[p:start])
        out.append(ns_str[:min(width, 9)])
        p = start + skip
    out.append(fmt[p:])
    return "".join(out)


def _strftime(fmt: str, seconds: int, local: bool) -> str | None:
    try:
        tm = time.localtime(seconds) if local else time.gmtime(seconds)
        return time.strftime(fmt, tm)
    except (OverflowError, ValueError, OSError):
        return None


def format_seconds(value: int, fmt: str, offset: int, local: bool) -> str | None:
    """utime / ltime: ``value`` in seconds since the epoch (masked to 55 bits)."""
    return _strftime(fmt, (value & _DATE_MASK) + offset, local)


def format_subsec(value: int, per_sec: int, fmt: str, offset: int, local: bool) -> str | None:
    """ms_utime, us_utime, ms_ltime, us_ltime: ``value`` in ms or us, ``%N`` supported."""
    seconds = c_div(value, per_sec) + offset
    ns = c_mod(value, per_sec) * (1_000_000_000 // per_sec)
    return _strftime(_expand_n(fmt, ns), seconds, local)


UNITS = {"s": 1, "ms": 1000, "us": 1_000_000}


def http_date(value: int, offset: int, unit: str | None) -> str | None:
    """IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``); with a ms/us unit the fraction of
    second follows the seconds (``.5`` for 5 ms: not zero-padded, as HAProxy prints it)."""
    value += offset
    frac = 0
    per_sec = UNITS.get(unit or "s", 1)
    if per_sec > 1:
        frac = c_mod(value, per_sec)
        value = c_div(value, per_sec)
    try:
        tm = time.gmtime(value & _DATE_MASK)
    except (OverflowError, ValueError, OSError):
        return None
    base = (f"{_DAYS[tm.tm_wday]}, {tm.tm_mday:02d} {_MONTHS[tm.tm_mon - 1]} {tm.tm_year:04d} "
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}")
    if unit is not None and unit != "s":
        return f"{base}.{frac} GMT"
    return f"{base} GMT"
