"""HAProxy's check status codes (the stats ``check_status`` column), their descriptions
(used in log lines) and what each means for the server's health counter."""

from __future__ import annotations

PASSED, CONDPASS, FAILED, NEUTRAL = "passed", "condpass", "failed", "neutral"

#: code -> (description, result, whether log lines and stats show the check's code)
STATUSES: dict[str, tuple[str, str, bool]] = {
    "UNK": ("Unknown", NEUTRAL, False),
    "INI": ("Initializing", NEUTRAL, False),
    "SOCKERR": ("Socket error", FAILED, False),
    "L4OK": ("Layer4 check passed", PASSED, False),
    "L4TOUT": ("Layer4 timeout", FAILED, False),
    "L4CON": ("Layer4 connection problem", FAILED, False),
    "L6OK": ("Layer6 check passed", PASSED, False),
    "L6TOUT": ("Layer6 timeout", FAILED, False),
    "L6RSP": ("Layer6 invalid response", FAILED, False),
    "L7TOUT": ("Layer7 timeout", FAILED, False),
    "L7RSP": ("Layer7 invalid response", FAILED, False),
    "L7OK": ("Layer7 check passed", PASSED, True),
    "L7OKC": ("Layer7 check conditionally passed", CONDPASS, True),
    "L7STS": ("Layer7 wrong status", FAILED, True),
    "PROCERR": ("External check error", FAILED, True),
    "PROCTOUT": ("External check timeout", FAILED, True),
    "PROCOK": ("External check passed", PASSED, True),
    "HANA": ("Health analyze", FAILED, False),
    "CHECKED": ("No status change", NEUTRAL, False),
}


def describe(code: str) -> str:
    return STATUSES[code][0]


def result_of(code: str) -> str:
    return STATUSES[code][1]


def shows_code(code: str) -> bool:
    return STATUSES[code][2]


def ascii_encode(text: str, quote: str = '"') -> str:
    """HAProxy's ``chunk_asciiencode``: control and non-ASCII bytes as ``\\xHH`` (``\\t``,
    ``\\n``, ``\\r``, ``\\e`` by name), the quote character escaped."""
    out = []
    for ch in text:
        c = ord(ch)
        if c == ord(quote):
            out.append("\\" + ch)
        elif c < 0x20 or c >= 0x7F:
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\x1b": "\\e"}.get(
                ch, f"\\x{c & 0xFF:02x}"))
        else:
            out.append(ch)
    return "".join(out)
