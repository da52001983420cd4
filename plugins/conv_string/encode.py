"""JSON string escaping and URL encoding/decoding as HAProxy does them."""

from __future__ import annotations

#: json() input decoders
JSON_MODES = ("ascii", "utf8", "utf8s", "utf8p", "utf8ps")

_OK, _OVERLONG, _INVRANGE, _BADSEQ = 0x00, 0x10, 0x20, 0x40

_JSON_ESC = {0x22: '\\"', 0x5C: "\\\\", 0x2F: "\\/", 0x08: "\\b", 0x0C: "\\f",
             0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t"}


def utf8_next(b: bytes, pos: int) -> tuple[int, int, int]:
    """Decode one UTF-8 character at ``pos`` like HAProxy's ``utf8_next``: returns
    (code point, error flags, bytes consumed)."""
    first = b[pos]
    left = len(b) - pos
    if first < 0x80:
        return first, _OK, 1
    if first < 0xC0 or first > 0xFD:
        return first, _BADSEQ, 1
    if first < 0xE0:
        c, dec = first & 0x1F, 1
    elif first < 0xF0:
        c, dec = first & 0x0F, 2
    elif first < 0xF8:
        c, dec = first & 0x07, 3
    elif first < 0xFC:
        c, dec = first & 0x03, 4
    else:
        c, dec = first & 0x01, 5
    if left < dec + 1:
        return first, _BADSEQ, 1
    p = pos + 1
    for _ in range(dec):
        if b[p] & 0xC0 != 0x80:
            return c, _BADSEQ, p - pos
        c = (c << 6) | (b[p] & 0x3F)
        p += 1
    n = p - pos
    code = _OK
    if ((c <= 0x7F and n > 1) or (0x80 <= c <= 0x7FF and n > 2)
            or (0x800 <= c <= 0xFFFF and n > 3) or (0x10000 <= c <= 0x1FFFFF and n > 4)):
        code |= _OVERLONG
    if 0xD800 <= c <= 0xDFFF or 0xFFFE <= c <= 0xFFFF:
        code |= _INVRANGE
    return c, code, n


def json_escape(data: bytes, mode: str) -> str | None:
    """Escape for use between double quotes in JSON; None when the decoder ``mode`` fails."""
    out: list[str] = []
    pos, n = 0, len(data)
    while pos < n:
        if mode == "ascii":
            c = data[pos]
            pos += 1
        else:
            c, code, used = utf8_next(data, pos)
            pos += used
            if mode == "utf8" and code != _OK:
                return None
            if mode == "utf8s" and code != _OK:
                continue
            if mode == "utf8p" and code & (_INVRANGE | _BADSEQ):
                return None
            if mode == "utf8ps" and code & (_INVRANGE | _BADSEQ):
                continue
            if c > 0xFFFF:
                if mode in ("utf8", "utf8p"):
                    return None
                continue
        esc = _JSON_ESC.get(c)
        if esc is not None:
            out.append(esc)
        elif c > 0xFF or not 0x20 <= c <= 0x7E:
            out.append(f"\\u{c & 0xFFFF:04x}")
        else:
            out.append(chr(c))
    return "".join(out)


_HEX = "0123456789abcdefABCDEF"


def url_decode(s: str, in_form: bool) -> str | None:
    """Decode %XX escapes; '+' becomes a space when ``in_form`` or after a '?'.  Stops at a
    NUL byte; None on a malformed escape."""
    nul = s.find("\0")
    if nul >= 0:
        s = s[:nul]
    out: list[str] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "+":
            out.append(" " if in_form else "+")
        elif c == "%":
            h = s[i + 1:i + 3]
            if len(h) != 2 or h[0] not in _HEX or h[1] not in _HEX:
                return None
            out.append(chr(int(h, 16)))
            i += 2
        else:
            if c == "?":
                in_form = True
            out.append(c)
        i += 1
    return "".join(out)


_URL_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def url_encode(s: str) -> str:
    """Percent-encode every byte but letters, digits and ``-._~`` (uppercase hex)."""
    return "".join(c if c in _URL_SAFE else f"%{ord(c):02X}" for c in s)
