"""Captures of invalid HTTP messages, for ``show errors``.

When a parser refuses a request (400 and friends) or a response (502), the data path calls
:func:`capture` with the bytes it was parsing: the proxy that saw it keeps the last
invalid request (frontend) and the last invalid response (backend) with the event number,
the date, the client's address, the other proxy, the server and the position of the first
byte the HTTP/1 grammar refuses.  Only the error paths call this module: the normal path
does nothing more.

Any protocol plugin may call :func:`capture` too (HTTP/2, FastCGI ...).
"""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from typing import Any

#: proxy.ext key: {"request": ErrorSnapshot, "response": ErrorSnapshot}
EXT = "error_snapshots"
#: the number of events captured since the start (HAProxy's error_snapshot_id)
_EVENTS = [0]

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                   b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")


@dataclass
class ErrorSnapshot:
    """One captured invalid message."""

    when: float
    ev_id: int
    response: bool
    #: the proxy keeping the capture (frontend for a request, backend for a response)
    proxy: Any
    #: the other side: the backend of a request (None: not chosen), the frontend of a
    #: response
    other: Any
    server: Any
    src: str
    #: the captured bytes, and the offset of their first byte in the connection's stream
    buf: bytes
    offset: int
    err_pos: int
    bufsize: int


def events() -> int:
    """Events captured since the start."""
    return _EVENTS[0]


def _src(sess: Any) -> str:
    ip = getattr(sess, "src", None)
    if ip is None:
        return "unix:1"
    if isinstance(ip, ipaddress.IPv6Address):
        return f"{ip}:{sess.src_port}"
    return f"{ip}:{sess.src_port}"


def capture(proxy: Any, data: bytes, *, response: bool, sess: Any = None, other: Any = None,
            server: Any = None, offset: int = 0, bufsize: int = 16384,
            err_pos: int | None = None) -> ErrorSnapshot:
    """Keep ``data`` as ``proxy``'s last invalid request (or response)."""
    ev_id = _EVENTS[0]
    _EVENTS[0] += 1
    data = bytes(data[:bufsize])
    snap = ErrorSnapshot(time.time(), ev_id, response, proxy, other, server,
                         _src(sess) if sess is not None else "unix:1", data, offset,
                         error_position(data, response) if err_pos is None else err_pos,
                         bufsize)
    proxy.ext.setdefault(EXT, {})["response" if response else "request"] = snap
    return snap


def snapshots(proxy: Any) -> dict[str, ErrorSnapshot]:
    return proxy.ext.get(EXT) or {}


# -- where the message goes wrong ------------------------------------------------------------------

def _line_end(buf: bytes, start: int) -> int:
    end = buf.find(b"\n", start)
    return len(buf) if end < 0 else end


def _version_ok(text: bytes) -> bool:
    return (len(text) == 8 and text[:5] == b"HTTP/" and text[5:6].isdigit()
            and text[6:7] == b"." and text[7:8].isdigit())


def _start_line(buf: bytes, end: int, response: bool) -> int | None:
    """The position of the first refused byte of the start line, None when it is fine."""
    line = buf[:end].rstrip(b"\r")
    if response:
        for i in range(8):
            c = line[i:i + 1]
            if not c or (c.isdigit() if i in (5, 7) else c == b"HTTP/1.1"[i:i + 1]) is False:
                return i
        if line[8:9] != b" ":
            return 8
        code = line[9:12]
        if len(code) != 3 or not code.isdigit():
            return 9
        if len(line) > 12 and line[12:13] != b" ":
            return 12
        return next((i for i in range(13, len(line)) if line[i] < 0x20 and line[i] != 9),
                    None)
    pos = 0
    while pos < len(line) and line[pos] in _TCHAR:
        pos += 1
    if pos == 0 or pos >= len(line) or line[pos] != 0x20:
        return pos
    pos += 1
    uri = pos
    while pos < len(line) and 0x21 <= line[pos] <= 0x7E:
        pos += 1
    if pos == uri:
        return pos
    if pos >= len(line):
        return pos  # HTTP/0.9 form: refused
    if line[pos] != 0x20:
        return pos
    pos += 1
    return None if _version_ok(line[pos:]) else pos


def error_position(buf: bytes, response: bool = False) -> int:
    """The position of the first byte of ``buf`` the HTTP/1 grammar refuses (start line,
    header names and values, Content-Length, chunk sizes); ``len(buf)`` when the message
    is fine as far as it goes (it was refused for what it lacks or for a limit)."""
    end = _line_end(buf, 0)
    bad = _start_line(buf, end, response)
    if bad is not None:
        return bad
    pos = end + 1
    chunked = False
    while pos < len(buf):
        end = _line_end(buf, pos)
        line = buf[pos:end].rstrip(b"\r")
        if not line:
            pos = end + 1
            break
        name_end = 0
        while name_end < len(line) and line[name_end] in _TCHAR:
            name_end += 1
        if name_end == 0 or name_end >= len(line) or line[name_end] != 0x3A:
            return pos + name_end
        vstart = name_end + 1
        while vstart < len(line) and line[vstart] in (0x20, 0x09):
            vstart += 1
        for i in range(vstart, len(line)):
            if (line[i] < 0x20 and line[i] != 0x09) or line[i] == 0x7F:
                return pos + i
        name = line[:name_end].lower()
        value = line[vstart:].rstrip(b" \t")
        if name == b"content-length" and not all(
                v.strip().isdigit() for v in value.split(b",")):
            return pos + vstart
        if name == b"transfer-encoding" and value.lower().endswith(b"chunked"):
            chunked = True
        pos = end + 1
    else:
        return len(buf)
    if chunked and pos < len(buf):
        size_end = _line_end(buf, pos)
        size = buf[pos:size_end].rstrip(b"\r").split(b";")[0].strip()
        if not size or any(c not in _HEX for c in size):
            return pos
    return len(buf)
