"""The HTTP/1 message stream shared by the codecs: heads with HAProxy's rules
(:mod:`hapx.core.proto.h1head`), bodies by length, chunked bodies by the codec.

An :class:`H1Stream` implements the parser interface of :mod:`hapx.core.proto.h1`.  Heads
are gathered and parsed here whatever the codec, so every codec accepts, refuses and
normalises exactly the same messages; a codec supplies the chunked-body decoder (a
:class:`Dechunker`), the part where its C or Python speed matters.  Bodies framed by a
Content-Length are counted here, bodies delimited by the close are passed on as they
come; the next message of a pipelined connection is parsed here again, never by the
codec.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .h1 import H1Error, H1Limits, HeadTracker
from .h1head import Head, head_end, parse_request, parse_response

_HEAD, _LENGTH, _CHUNKED, _CLOSE, _DONE = range(5)


class Dechunker(Protocol):
    """A chunked-body decoder for one message.  ``feed`` passes the decoded data to
    ``deliver`` and returns None while the body goes on, or, once the last chunk and
    the trailer section are read, the bytes that follow (possibly empty); ``trailers``
    then holds the trailer fields.  Raises H1Error on a malformed body."""

    trailers: list[tuple[str, str]]
    #: where the decoded data goes (may be replaced between two feeds)
    deliver: Callable[[bytes], None]

    def feed(self, data: bytes) -> bytes | None: ...


#: builds a Dechunker: (on_body callback, status of an error) -> Dechunker
DechunkerFactory = Callable[[Callable[[bytes], None], int], Dechunker]


class H1Stream:
    """One connection's HTTP/1 parser (request mode for a client connection, response
    mode for a server connection)."""

    def __init__(self, cb: Any, dechunker: DechunkerFactory, *, response: bool = False,
                 limits: H1Limits | None = None, relaxed: bool = False) -> None:
        self.cb = cb
        self.make_dechunker = dechunker
        self.response = response
        self.limits = limits or H1Limits()
        self.relaxed = relaxed
        self.bad = 502 if response else 400
        #: bytes of the current head so far (``head.size``: the data path tells an empty
        #: response from junk with it)
        self.head = HeadTracker(self.limits.head_max)
        self.buf = b""
        self.state = _HEAD
        self.left = 0
        self.chunks: Dechunker | None = None
        self.current: Head | None = None
        self.method = ""
        self.upgrade_expected = False

    # -- interface ------------------------------------------------------------------------
    def expect(self, method: str, upgrade: bool = False) -> None:
        """Response mode: the request the next response answers."""
        self.method = method
        self.upgrade_expected = upgrade

    def feed(self, data: bytes) -> None:
        while data:
            state = self.state
            if state == _HEAD:
                data = self._head(data)
            elif state == _LENGTH:
                left = self.left
                if len(data) < left:
                    self.left = left - len(data)
                    self.cb.on_body(data)
                    return
                self.left = 0
                if left:
                    self.cb.on_body(data[:left])
                data = data[left:]
                self._complete(data)
                if self.state == _DONE:
                    return
            elif state == _CHUNKED:
                assert self.chunks is not None
                rest = self.chunks.feed(data)
                if rest is None:
                    return
                trailers = self.chunks.trailers
                self.chunks = None
                if trailers:
                    self.cb.on_trailers(trailers)
                self._complete(rest)
                if self.state == _DONE:
                    return
                data = rest
            elif state == _CLOSE:
                self.cb.on_body(data)
                return
            else:
                return

    # -- heads ----------------------------------------------------------------------------
    def _head(self, data: bytes) -> bytes:
        buf = self.buf + data if self.buf else data
        if not self.head.size and (buf[0] == 13 or buf[0] == 10):
            # empty lines before a message are skipped (HAProxy does so)
            buf = buf.lstrip(b"\r\n")
            if not buf:
                self.buf = b""
                return b""
        end = head_end(buf)
        limit = self.limits.head_max
        if end < 0:
            self.buf = buf
            self.head.size = len(buf)
            if len(buf) > limit:
                self._too_big(buf)
            return b""
        if end == len(buf):
            raw, rest = buf, b""
        else:
            raw, rest = buf[:end], buf[end:]
        self.buf = b""
        self.head.size = 0
        if end > limit:
            self._too_big(raw)
        if self.response:
            head = parse_response(raw, self.relaxed, self.limits.max_headers)
            self.current = head
            status = head.status
            length = head.length
            if not length or head.chunked or status < 200 or status == 204 or \
                    status == 304 or self.method == "HEAD":
                return self._begin(head, rest)
            # a final response with a body of ``length`` bytes: what _begin, then feed
            # in the _LENGTH state, then _complete do for it, inline
            cb = self.cb
            cb.on_headers(status, head.reason, head.version, head.headers)
            if self.state == _DONE:
                return b""  # the callback ended the connection
            self.state = _LENGTH
            n = len(rest)
            if n < length:
                self.left = length - n
                if n:
                    cb.on_body(rest)
                return b""
            self.left = 0
            if n == length:
                cb.on_body(rest)
                rest = b""
            else:
                cb.on_body(rest[:length])
                rest = rest[length:]
            self.state = _HEAD
            cb.on_message_complete()
            return rest if self.state != _DONE else b""
        head = parse_request(raw, self.relaxed, self.limits.max_headers)
        self.current = head
        if head.chunked:
            return self._begin(head, rest)
        # a request without a chunked body (what _begin does for it, inline)
        cb = self.cb
        cb.on_headers(head.method, head.uri, head.version, head.headers)
        if self.state == _DONE:
            return b""  # the callback ended the connection
        length = head.length
        if length:
            self.state = _LENGTH
            self.left = length
            return rest
        # the message ended (_complete)
        cb.on_message_complete()
        if head.upgrade:
            self.state = _DONE
            cb.on_upgrade(rest)
            return b""
        return rest if self.state != _DONE else b""

    def _too_big(self, buf: bytes) -> None:
        if self.response:
            raise H1Error(502, "response head too large")
        if buf.find(b"\n") < 0 or buf.find(b"\n") > self.limits.head_max:
            raise H1Error(414, "URI too long")
        raise H1Error(431, "header block too large")

    def _begin(self, head: Head, rest: bytes) -> bytes:
        """Deliver a parsed head and set up its body; returns the bytes left to parse."""
        cb = self.cb
        chunks = None
        early: list[bytes] = []
        end: bytes | None = None
        has_body = not self.response or not (
            head.status < 200 or self.method == "HEAD" or head.status in (204, 304))
        if head.chunked and has_body:
            # the chunks already received are decoded before the head is delivered: a
            # malformed body in the same packet is refused like a malformed head (HAProxy
            # parses what it holds at once)
            chunks = self.make_dechunker(early.append, self.bad)
            end = chunks.feed(rest) if rest else None
            rest = b""
        if self.response:
            cb.on_headers(head.status, head.reason, head.version, head.headers)
            status = head.status
            if status == 101:
                self.state = _DONE
                cb.on_upgrade(rest)
                return b""
            if status < 200:
                self.state = _HEAD
                cb.on_message_complete()
                return rest
            if self.method == "HEAD" or status in (204, 304):
                self._complete(rest)
                return rest if self.state != _DONE else b""
        else:
            cb.on_headers(head.method, head.uri, head.version, head.headers)
        if self.state == _DONE:
            return b""  # the callback ended the connection
        if chunks is not None:
            for piece in early:
                cb.on_body(piece)
            chunks.deliver = cb.on_body
            if end is None:
                self.state = _CHUNKED
                self.chunks = chunks
                return b""
            if chunks.trailers:
                cb.on_trailers(chunks.trailers)
            self._complete(end)
            return end if self.state != _DONE else b""
        if head.length:
            self.state = _LENGTH
            self.left = head.length
        elif head.length is None and self.response:
            self.state = _CLOSE
        else:
            self._complete(rest)
        return rest if self.state != _DONE else b""

    def _complete(self, rest: bytes) -> None:
        """The message ended: a request asking for a protocol switch leaves the rest to
        the tunnel, else the next head follows."""
        head = self.current
        self.state = _HEAD
        self.cb.on_message_complete()
        if head is not None and head.upgrade and not self.response:
            self.state = _DONE
            self.cb.on_upgrade(rest)
