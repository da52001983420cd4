"""Base64, base64url and big-endian dumps as HAProxy writes and reads them."""

from __future__ import annotations

import base64
import re

_B64URL = re.compile(rb"[A-Za-z0-9_-]*")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_REV = {c: i for i, c in enumerate(_ALPHABET)}
_REV[ord("=")] = 64
_PAD = 64


def b64decode(text: bytes) -> bytes | None:
    """HAProxy's ``base64dec``: groups of 4 characters; in a group, padding may start at the
    third character (``XX==``, ``XXX=``, and even ``X===`` which gives nothing) and must
    then go on to the end of the group.  None when invalid."""
    if len(text) % 4:
        return None
    out = bytearray()
    t = [0, 0, 0, 0]
    i = pad = 0
    for ch in text:
        b = _REV.get(ch)
        if b is None:
            return None
        if pad and (b != _PAD or i < 2):
            return None
        if b == _PAD:
            pad += 1
        t[i] = b
        i += 1
        if i == 4:
            group = (((t[0] << 2) + (t[1] >> 4)) & 0xFF, ((t[1] << 4) + (t[2] >> 2)) & 0xFF,
                     ((t[2] << 6) + t[3]) & 0xFF)
            out += bytes(group[:3 - pad])
            i = pad = 0
    return bytes(out)


def ub64encode(data: bytes) -> str:
    """base64url (RFC 4648 section 5) without padding, as JWTs use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def ub64decode(text: bytes) -> bytes | None:
    """base64url, padding optional; a length of 4n+1 characters is invalid."""
    if len(text) % 4 == 0 and text.endswith(b"="):
        text = text[:-2] if text.endswith(b"==") else text[:-1]
    if len(text) % 4 == 1 or not _B64URL.fullmatch(text):
        return None
    return base64.urlsafe_b64decode(text + b"=" * (-len(text) % 4))


def be2dec(data: bytes, sep: str, chunk: int, truncate: bool) -> str:
    """One unsigned decimal number per ``chunk`` bytes (big-endian), joined by ``sep``; with
    ``truncate`` a short last chunk is dropped."""
    size = len(data)
    last = size - chunk + 1 if truncate else size
    parts = []
    ptr = 0
    while ptr < last:
        parts.append(str(int.from_bytes(data[ptr:ptr + chunk], "big")))
        ptr += chunk
    return sep.join(parts)


def be2hex(data: bytes, sep: str, chunk: int, truncate: bool) -> str:
    """Uppercase hex, ``sep`` between groups of ``chunk`` bytes; with ``truncate`` a short
    last group is dropped."""
    size = len(data)
    last = size - chunk + 1 if truncate else size
    if not sep and not truncate:
        chunk = size
    parts = []
    ptr = 0
    while ptr < last:
        parts.append(data[ptr:ptr + chunk].hex().upper())
        ptr += chunk
    return sep.join(parts)
