"""The h11 HTTP/1 codec: heads are parsed by the shared
:class:`~hapx.core.proto.h1stream.H1Stream` (HAProxy's rules), chunked bodies decoded by
h11 (pure Python).  h11 is stricter than HAProxy on chunk lines: it wants CRLF line ends
and no bare LF in a chunk extension."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h11
from hapx.core.proto.h1 import H1Error, H1Limits
from hapx.core.proto.h1stream import H1Stream

#: chunk sizes from 2^64 on are refused
_MAX_CHUNK = 1 << 64
_CHUNKED_HEAD = b"POST / HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n"


class H11Chunks:
    """A chunked body decoded by h11, playing the server side of a request whose head
    is given here; what follows the message is h11's trailing data."""

    __slots__ = ("deliver", "bad", "trailers", "conn")

    def __init__(self, on_body: Callable[[bytes], None], bad: int) -> None:
        self.deliver = on_body
        self.bad = bad
        self.trailers: list[tuple[str, str]] = []
        self.conn = h11.Connection(h11.SERVER)
        self.conn.receive_data(_CHUNKED_HEAD)
        self.conn.next_event()  # the Request

    def _check_size(self) -> None:
        """h11 takes any chunk size: refuse one beyond 64 bits as HAProxy and llhttp do
        (read from h11's chunked reader, when it has the attribute)."""
        reader = getattr(self.conn, "_reader", None)
        if getattr(reader, "_bytes_in_chunk", 0) >= _MAX_CHUNK:
            raise H1Error(self.bad, "chunk size too large")

    def feed(self, data: bytes) -> bytes | None:
        conn = self.conn
        conn.receive_data(data)
        try:
            while True:
                ev = conn.next_event()
                if ev is h11.NEED_DATA or ev is h11.PAUSED:
                    self._check_size()
                    return None
                if isinstance(ev, h11.Data):
                    self.deliver(bytes(ev.data))
                    self._check_size()
                elif isinstance(ev, h11.EndOfMessage):
                    self.trailers = [(n.decode("latin-1"), v.decode("latin-1"))
                                     for n, v in ev.headers.raw_items()]
                    return bytes(conn.trailing_data[0])
        except h11.RemoteProtocolError as exc:
            raise H1Error(self.bad, f"invalid chunked body: {exc}") from None


def make_parser(cb: Any, *, response: bool = False, limits: H1Limits | None = None,
                relaxed: bool = False) -> H1Stream:
    return H1Stream(cb, H11Chunks, response=response, limits=limits, relaxed=relaxed)
