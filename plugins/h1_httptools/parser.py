"""The httptools (llhttp) implementation of the HTTP/1 parser interface
(:mod:`hapx.core.proto.h1`)."""

from __future__ import annotations

from typing import Any

import httptools
from hapx.core.proto.h1 import (
    H1Error,
    H1Limits,
    HeadTracker,
    check_head_size,
    check_request_headers,
)

#: lengths of "content-length" (14) and "transfer-encoding" (17)
_FRAMING_LENGTHS = frozenset({14, 17})


class HttptoolsParser:
    """One connection's parser, in request or response mode."""

    def __init__(self, cb: Any, *, response: bool = False,
                 limits: H1Limits | None = None) -> None:
        self.cb = cb
        self.response = response
        self.limits = limits or H1Limits()
        self.head = HeadTracker(self.limits.head_max)
        self.error: H1Error | None = None
        self.upgraded = False
        self.head_only = False
        self.pending = b""
        self.status_code = 0
        self._new()

    def _new(self) -> None:
        cls = httptools.HttpResponseParser if self.response else httptools.HttpRequestParser
        self.p = cls(self)
        self.url = b""
        self.status = b""
        self.headers: list[tuple[str, str]] = []
        #: a Content-Length or Transfer-Encoding header was seen (checked at the end)
        self.framing = False
        self.max_headers = self.limits.max_headers

    # -- interface --------------------------------------------------------------------------------
    def expect(self, method: str, upgrade: bool = False) -> None:
        self.head_only = method == "HEAD"

    def feed(self, data: bytes) -> None:
        if self.upgraded:
            return
        if self.head_only:
            data = self._feed_head_only(data)
            if not data:
                return
        head = self.head
        if head.in_head:  # HeadTracker.add, inlined
            if not head.line_done and b"\n" in data:
                head.line_done = True
            head.size += len(data)
        try:
            self.p.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            off = exc.args[0] if exc.args and isinstance(exc.args[0], int) else len(data)
            self.upgraded = True
            self.cb.on_upgrade(data[off:])
            return
        except httptools.HttpParserError as exc:
            err = self.error or (exc.__context__ if isinstance(exc.__context__, H1Error)
                                 else None)
            if err is not None:
                raise err from None
            if isinstance(exc, httptools.HttpParserInvalidURLError):
                raise H1Error(400, "invalid URI") from None
            raise H1Error(502 if self.response else 400, str(exc)) from None
        if self.error is not None:
            raise self.error
        if head.in_head and head.size > head.limit:
            head.check(self.response)

    def _feed_head_only(self, data: bytes) -> bytes:
        """A response to HEAD has no body whatever its headers say: parse its head alone."""
        buf = self.pending + data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            self.pending = buf
            if len(buf) > self.limits.head_max:
                raise H1Error(502, "response head too large")
            return b""
        self.pending = b""
        head, rest = buf[:end + 4], buf[end + 4:]
        self.head.add(head)
        try:
            self.p.feed_data(head)
        except httptools.HttpParserError as exc:
            raise H1Error(502, str(exc)) from None
        if self.status_code >= 200:
            self.head_only = False
            self._new()
            self.head.restart()
            self.cb.on_message_complete()
        return rest

    # -- httptools callbacks -----------------------------------------------------------------
    # (no on_message_begin: the state of a message is reset when its head is complete, and
    # httptools makes no call for a callback the object lacks)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_status(self, status: bytes) -> None:
        self.status += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) in _FRAMING_LENGTHS:
            self.framing = True
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))
        # (the header count and the head size are checked once the head is complete: the
        # bytes fed so far already bound how many headers can pile up)

    def on_headers_complete(self) -> None:
        head = self.head
        head.in_head = False
        p = self.p
        version = p.get_http_version()
        headers = self.headers
        self.headers = []
        url, status = self.url, self.status
        self.url = self.status = b""
        try:
            if len(headers) > self.max_headers:
                raise H1Error(502 if self.response else 400, "too many headers")
            if head.size > head.limit:
                # the bytes fed include the head: only then can the head itself be too big
                first = len(url) + 14 if not self.response else len(status) + 13
                check_head_size(self.limits, first, headers, self.response)
            if self.response:
                self.status_code = p.get_status_code()
                self.cb.on_headers(self.status_code, status.decode("latin-1"), version,
                                   headers)
            else:
                if self.framing:
                    self.framing = False
                    check_request_headers(headers)
                self.cb.on_headers(p.get_method().decode("latin-1"), url.decode("latin-1"),
                                   version, headers)
        except H1Error as exc:
            self.error = exc
            raise

    def on_body(self, body: bytes) -> None:
        self.cb.on_body(body)

    def on_message_complete(self) -> None:
        head = self.head  # HeadTracker.restart, inlined
        head.size = 0
        head.in_head = True
        head.line_done = False
        trailers = self.headers  # fields after the last chunk (on_header after the head)
        if trailers:
            self.headers = []
            self.cb.on_trailers(trailers)
        self.cb.on_message_complete()


def make_parser(cb: Any, *, response: bool = False,
                limits: H1Limits | None = None) -> HttptoolsParser:
    return HttptoolsParser(cb, response=response, limits=limits)
