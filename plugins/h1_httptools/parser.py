"""The httptools (llhttp) HTTP/1 codec: heads are parsed by the shared
:class:`~hapx.core.proto.h1stream.H1Stream` (HAProxy's rules), chunked bodies decoded by
llhttp."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httptools
from hapx.core.proto.h1 import H1Error, H1Limits
from hapx.core.proto.h1stream import H1Stream

#: the head llhttp is given before the chunks it decodes
_CHUNKED_HEAD = b"POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"


def _end_after(buf: bytes, start: int) -> int:
    """The first offset > ``start`` at which a chunked message may end (just after an
    empty line: ``\\n\\n`` or ``\\n\\r\\n``), or ``len(buf)``."""
    a = buf.find(b"\n\n", max(start - 1, 0))
    b = buf.find(b"\n\r\n", max(start - 2, 0))
    ends = [e for e in (a + 2 if a >= 0 else -1, b + 3 if b >= 0 else -1) if e > start]
    return min(ends) if ends else len(buf)


class HttptoolsChunks:
    """A chunked body decoded by llhttp.  HAProxy's tolerance of blanks after the chunk
    size is kept (llhttp's leniency); extensions are skipped.  Stricter than HAProxy:
    llhttp refuses bare LF line ends in chunk lines and control characters in chunk
    extensions.  llhttp runs on until the data ends, so the data is fed in pieces cut where
    the message may end (after each empty line) to find where the next message begins."""

    __slots__ = ("deliver", "bad", "trailers", "done", "tail", "p", "in_head")

    def __init__(self, on_body: Callable[[bytes], None], bad: int) -> None:
        self.deliver = on_body
        self.bad = bad
        self.trailers: list[tuple[str, str]] = []
        self.done = False
        self.tail = b""
        self.in_head = True
        self.p = httptools.HttpRequestParser(self)
        self.p.set_dangerous_leniencies(lenient_spaces_after_chunk_size=True)
        self.p.feed_data(_CHUNKED_HEAD)

    # llhttp callbacks
    def on_headers_complete(self) -> None:
        self.in_head = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.in_head:
            self.trailers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.deliver(body)

    def on_message_complete(self) -> None:
        self.done = True

    def feed(self, data: bytes) -> bytes | None:
        t = len(self.tail)
        buf = self.tail + data if t else data
        pos = t
        n = len(buf)
        feed = self.p.feed_data
        try:
            while pos < n:
                cut = _end_after(buf, pos)
                feed(buf[pos:cut] if (pos, cut) != (0, n) else buf)
                if self.done:
                    return buf[cut:]
                pos = cut
        except httptools.HttpParserError as exc:
            raise H1Error(self.bad, f"invalid chunked body: {exc}") from None
        self.tail = buf[-2:]
        return None


def make_parser(cb: Any, *, response: bool = False, limits: H1Limits | None = None,
                relaxed: bool = False) -> H1Stream:
    return H1Stream(cb, HttptoolsChunks, response=response, limits=limits, relaxed=relaxed)
