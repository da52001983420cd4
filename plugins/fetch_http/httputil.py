"""HTTP parsing helpers shared by the HTTP fetches, following HAProxy's own parsers: the path
of a request target, comma-separated header values, cookies, URL parameters, leading
integers and IP addresses in header values."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_SPHT = " \t"
_IPV4_PREFIX = re.compile(r"(\d+)\.(\d+)\.(\d+)\.(\d+)")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_INT_PREFIX = re.compile(r"-?\d*")


# -- request target --------------------------------------------------------------------------

def get_path(uri: str) -> str | None:
    """The path of a request target, from its first ``/`` (after any scheme and authority),
    query included; None for ``*``, authority-form targets and absolute URIs without path."""
    if not uri or uri[0] == "*":
        return None
    start = 0
    if uri[0].isalpha():
        m = _SCHEME.match(uri)
        if m is None:
            return None
        start = m.end()
    slash = uri.find("/", start)
    return None if slash < 0 else uri[slash:]


def url_address(uri: str) -> tuple[Any, int] | None:
    """The (IP address, port) of an absolute ``http://`` or ``https://`` URI whose host is an
    IP address (the port defaults to 80 or 443); None otherwise."""
    sep = uri.find("://")
    if sep < 0:
        return None
    scheme = uri[:sep].lower()
    if scheme == "http":
        port = 80
    elif scheme == "https":
        port = 443
    else:
        return None
    rest = uri[sep + 3:]
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0:
            return None
        try:
            addr: Any = ipaddress.IPv6Address(rest[1:end])
        except ValueError:
            return None
        tail = rest[end + 1:]
    else:
        found = ipv4_prefix(rest)
        if found is None:
            return None
        addr, used = found
        tail = rest[used:]
    if tail.startswith(":"):
        digits = re.match(r"\d*", tail[1:]).group()  # type: ignore[union-attr]
        port = int(digits) if digits else 0
    return addr, port


def ipv4_prefix(text: str) -> tuple[ipaddress.IPv4Address, int] | None:
    """A dotted-quad IPv4 address at the start of ``text`` and the characters it used."""
    m = _IPV4_PREFIX.match(text)
    if m is None:
        return None
    parts = [int(p) for p in m.groups()]
    if any(p > 255 for p in parts):
        return None
    end = m.end()
    if end < len(text) and (text[end].isdigit() or text[end] == "."):
        return None
    return ipaddress.IPv4Address(".".join(map(str, parts))), end


def parse_ip(value: str) -> Any:
    """An IPv4 address (optionally followed by a port) or an IPv6 address (optionally in
    brackets) from a header value; None when it is neither."""
    found = ipv4_prefix(value)
    if found is not None:
        return found[0]
    text = value
    close = text.find("]")
    if text.startswith("[") and close > 0:
        text = text[1:close]
    try:
        return ipaddress.IPv6Address(text)
    except ValueError:
        return None


def strl2ic(text: str) -> int:
    """HAProxy's strl2ic: an optional ``-`` and the leading digits (0 when none)."""
    m = _INT_PREFIX.match(text)
    digits = m.group() if m else ""
    if digits in ("", "-"):
        return 0
    return int(digits)


# -- header values -----------------------------------------------------------------------------

def split_values(value: str) -> list[str]:
    """The comma-separated values of a header, commas inside double quotes kept, each value
    trimmed of spaces and tabs (empty values are kept)."""
    if '"' not in value:
        return [v.strip(_SPHT) for v in value.split(",")]
    out: list[str] = []
    start = 0
    quoted = escaped = False
    for i, c in enumerate(value):
        if escaped:
            escaped = False
        elif quoted:
            if c == "\\":
                escaped = True
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == ",":
            out.append(value[start:i].strip(_SPHT))
            start = i + 1
    out.append(value[start:].strip(_SPHT))
    return out


def header_values(msg: Any, name: str | None, full: bool) -> list[str]:
    """Every value of header ``name`` (lower-case; None for all headers), comma-split unless
    ``full``."""
    out: list[str] = []
    for hname, value in msg.headers:
        if name is not None and hname.lower() != name:
            continue
        if full:
            out.append(value)
        else:
            out.extend(split_values(value))
    return out


def pick(values: list[str], occ: int | None) -> str | None:
    """The occurrence ``occ`` of a list: 1 is the first, -1 the last; None or 0: the last."""
    if not values:
        return None
    if not occ:
        return values[-1]
    if occ > 0:
        return values[occ - 1] if occ <= len(values) else None
    return values[occ] if -occ <= len(values) else None


def encode_varint(n: int) -> bytes:
    """The variable-length integer encoding of SPOE (used by req.hdrs_bin)."""
    if n < 240:
        return bytes([n])
    out = bytearray([(n | 240) & 0xFF])
    n = (n - 240) >> 4
    while n >= 128:
        out.append((n | 128) & 0xFF)
        n = (n - 128) >> 7
    out.append(n)
    return bytes(out)


# -- cookies -----------------------------------------------------------------------------------

def _cookie_value_end(s: str, i: int, n: int) -> int:
    quoted = qdpair = False
    while i < n:
        c = s[i]
        if qdpair:
            qdpair = False
        elif quoted:
            if c == "\\":
                qdpair = True
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c in ",;":
            return i
        i += 1
    return i


def cookie_pairs(hdr: str, is_list: bool) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of a Cookie header value (``is_list``: several cookies,
    separated by ``;`` or ``,``) or the first pair of a Set-Cookie header value.  Names
    starting with ``$`` and cookies without ``=`` are skipped; spaces around names and values
    are dropped; quoted values keep their quotes."""
    out: list[tuple[str, str]] = []
    n = len(hdr)
    i = 0
    while i < n:
        while i < n and hdr[i] in _SPHT:
            i += 1
        att_beg = equal = att_end = i
        while equal < n:
            c = hdr[equal]
            if c == "=" or c == ";" or (is_list and c == ","):
                break
            equal += 1
            if c not in _SPHT:
                att_end = equal
        if equal < n and hdr[equal] == "=":
            val_beg = equal + 1
            while val_beg < n and hdr[val_beg] in _SPHT:
                val_beg += 1
            nxt = _cookie_value_end(hdr, val_beg, n)
            val_end = nxt
            while val_end > val_beg and hdr[val_end - 1] in _SPHT:
                val_end -= 1
        else:
            val_beg = val_end = nxt = equal
        if att_beg < n and hdr[att_beg] != "$" and equal != nxt:
            out.append((hdr[att_beg:att_end], hdr[val_beg:val_end]))
        if not is_list:
            break
        i = nxt + 1
    return out


def cookies(msg: Any, is_req: bool) -> list[tuple[str, str]]:
    """Every cookie of the request's Cookie headers or the response's Set-Cookie headers."""
    hname = "cookie" if is_req else "set-cookie"
    out: list[tuple[str, str]] = []
    for name, value in msg.headers:
        if name.lower() == hname:
            out.extend(cookie_pairs(value, is_req))
    return out


# -- URL parameters ----------------------------------------------------------------------------

def _is_delim(c: str, delim: str) -> bool:
    return c == "&" or c == ";" or c == delim


def param_values(qs: str, name: str, delim: str, icase: bool) -> list[str]:
    """Values of parameter ``name`` (any parameter when empty) in a parameter list separated
    by ``&``, ``;`` or ``delim``, in order; no URL decoding."""
    out: list[str] = []
    n = len(qs)
    ln = len(name)
    want = name.lower() if icase else name
    pos = 0
    while pos < n:
        if ln:
            key = qs[pos:pos + ln]
            if pos + ln < n and qs[pos + ln] == "=" and (key.lower() if icase else key) == want:
                start = pos + ln + 1
            else:
                start = -1
        else:
            eq = qs.find("=", pos)
            if eq < 0:
                break
            start = eq + 1
        if start >= 0:
            end = start
            while end < n and not _is_delim(qs[end], delim):
                end += 1
            out.append(qs[start:end])
            pos = end + 1
            continue
        while pos < n and not _is_delim(qs[pos], delim):
            pos += 1
        pos += 1
    return out


def url_params(uri: str, name: str, delim: str, icase: bool) -> list[str]:
    """Values of a URL parameter: the list starts after the first ``delim`` (``?`` by
    default) of the request target."""
    start = uri.find(delim)
    if start < 0:
        return []
    return param_values(uri[start + 1:], name, delim, icase)
