"""Time and size values with HAProxy's units."""

from __future__ import annotations

import re

_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_NUM = re.compile(r"(\d+)(.*)\Z", re.S)
#: HAProxy's timers are signed 32-bit milliseconds.
TIME_MAX_MS = 2**31 - 1


class UnitError(ValueError):
    """A value with a bad number or unit; the message is HAProxy's."""


def parse_time(text: str, default_unit: str = "ms", keyword: str = "") -> int:
    """A time in milliseconds (rounded up from microseconds).  ``default_unit`` applies to a
    bare number."""
    m = _NUM.match(text)
    if not m:
        if text == "":
            raise UnitError(f"'{keyword}' expects a time value" if keyword else "missing time value")
        raise UnitError(f"unexpected character '{text[0]}' in '{keyword}'" if keyword
                        else f"unexpected character '{text[0]}' in time value")
    number, unit = int(m.group(1)), m.group(2)
    if unit == "":
        unit = default_unit
    if unit not in _TIME_UNITS:
        bad = m.group(2)[0] if m.group(2) else unit
        raise UnitError(f"unexpected character '{bad}' in '{keyword}'" if keyword
                        else f"unexpected character '{bad}' in time value")
    value = number * _TIME_UNITS[unit]
    ms = int(value) if value == int(value) else int(value) + 1
    if ms > TIME_MAX_MS:
        raise UnitError(f"timer overflow in argument '{text}' to '{keyword}' (maximum value is "
                        "2147483647 ms or ~24.8 days)" if keyword else
                        f"timer overflow in argument '{text}' (maximum is 2147483647 ms)")
    return ms


def parse_size(text: str, keyword: str = "") -> int:
    """A size in bytes: a number with an optional k, m or g suffix (powers of 1024)."""
    m = _NUM.match(text)
    suffix = m.group(2).lower() if m else None
    if not m or suffix not in _SIZE_UNITS:
        where = f" in '{keyword}'" if keyword else ""
        raise UnitError(f"invalid size value '{text}'{where}")
    return int(m.group(1)) * _SIZE_UNITS[suffix]


def parse_int(text: str, keyword: str = "", minimum: int | None = None,
              maximum: int | None = None) -> int:
    """A decimal integer with optional bounds; messages name the keyword."""
    try:
        value = int(text, 10)
    except ValueError:
        raise UnitError(f"'{keyword}' expects an integer argument, got '{text}'") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        lo = "" if minimum is None else str(minimum)
        hi = "" if maximum is None else str(maximum)
        raise UnitError(f"'{keyword}' expects a value between {lo} and {hi}, got '{text}'")
    return value
