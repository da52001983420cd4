"""The h11 implementation of the HTTP/1 parser interface (:mod:`hapx.core.proto.h1`).

h11 keeps both sides of a conversation; as a proxy only the peer's side is parsed here, so
the other side is played with events whose output is dropped: in request mode (server role)
a bodiless response ends each cycle, in response mode (client role) the request the next
response answers is declared by :meth:`H11Parser.expect`.
"""

from __future__ import annotations

from typing import Any

import h11
from hapx.core.proto.h1 import (
    H1Error,
    H1Limits,
    HeadTracker,
    check_head_size,
    check_request_headers,
)


class H11Parser:
    def __init__(self, cb: Any, *, response: bool = False,
                 limits: H1Limits | None = None) -> None:
        self.cb = cb
        self.response = response
        self.limits = limits or H1Limits()
        self.head = HeadTracker(self.limits.head_max)
        self.upgraded = False
        self.expected = False
        self.conn = self._conn()

    def _conn(self) -> h11.Connection:
        role = h11.CLIENT if self.response else h11.SERVER
        return h11.Connection(role, max_incomplete_event_size=self.limits.head_max + 64)

    def expect(self, method: str, upgrade: bool = False) -> None:
        conn = self.conn
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        elif conn.our_state is not h11.IDLE:
            self.conn = conn = self._conn()
        headers = [("host", "h")]
        if upgrade:
            headers += [("connection", "upgrade"), ("upgrade", "x")]
        conn.send(h11.Request(method=method, target="/", headers=headers))
        conn.send(h11.EndOfMessage())
        self.expected = True

    def feed(self, data: bytes) -> None:
        if self.upgraded:
            return
        self.head.add(data)
        try:
            self.conn.receive_data(data)
            self._events()
        except h11.RemoteProtocolError as exc:
            if exc.error_status_hint == 431 or "too long" in str(exc):
                self.head.size = max(self.head.size, self.limits.head_max + 1)
                self.head.check(self.response)
            raise H1Error(502 if self.response else 400, str(exc)) from None
        except H1Error:
            raise
        self.head.check(self.response)

    def _events(self) -> None:
        conn = self.conn
        while True:
            ev = conn.next_event()
            if ev is h11.NEED_DATA:
                return
            if ev is h11.PAUSED:
                if conn.their_state is h11.SWITCHED_PROTOCOL or (
                        not self.response and conn.their_state is h11.MIGHT_SWITCH_PROTOCOL):
                    rest, _closed = conn.trailing_data
                    self.upgraded = True
                    self.cb.on_upgrade(bytes(rest))
                    return
                if not self.response and conn.their_state is h11.DONE:
                    self._end_server_cycle()
                    continue
                return
            if isinstance(ev, h11.Request):
                self._begin(ev)
                headers = [(n.decode("latin-1"), v.decode("latin-1"))
                           for n, v in ev.headers.raw_items()]
                check_request_headers(headers)
                self.cb.on_headers(ev.method.decode("latin-1"), ev.target.decode("latin-1"),
                                   ev.http_version.decode(), headers)
            elif isinstance(ev, h11.InformationalResponse | h11.Response):
                self._begin(ev)
                headers = [(n.decode("latin-1"), v.decode("latin-1"))
                           for n, v in ev.headers.raw_items()]
                self.cb.on_headers(ev.status_code, ev.reason.decode("latin-1"),
                                   ev.http_version.decode(), headers)
                if isinstance(ev, h11.InformationalResponse):
                    if ev.status_code == 101:
                        rest, _closed = conn.trailing_data
                        self.upgraded = True
                        self.cb.on_upgrade(bytes(rest))
                        return
                    self.head.restart()
                    self.cb.on_message_complete()
            elif isinstance(ev, h11.Data):
                self.cb.on_body(bytes(ev.data))
            elif isinstance(ev, h11.EndOfMessage):
                if ev.headers:
                    self.cb.on_trailers([(n.decode("latin-1"), v.decode("latin-1"))
                                         for n, v in ev.headers.raw_items()])
                self.head.restart()
                self.cb.on_message_complete()
                if self.response:
                    if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
                        conn.start_next_cycle()
                    self.expected = False
                    return
            elif isinstance(ev, h11.ConnectionClosed):
                return

    def _begin(self, ev: Any) -> None:
        if len(ev.headers) > self.limits.max_headers:
            raise H1Error(502 if self.response else 400, "too many headers")
        first = len(getattr(ev, "target", b"")) + 14 + len(getattr(ev, "reason", b""))
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in ev.headers.raw_items()]
        check_head_size(self.limits, first, headers, self.response)
        self.head.done()
        self.cb.on_message_begin()

    def _end_server_cycle(self) -> None:
        """The request is complete: play a bodiless response so h11 parses the next one."""
        conn = self.conn
        if conn.our_state is h11.SEND_RESPONSE:
            conn.send(h11.Response(status_code=204, headers=[]))
        if conn.our_state is h11.SEND_BODY:
            conn.send(h11.EndOfMessage())
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
        elif conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            # HTTP/1.0 or Connection: close: h11 parses no further request; the data path
            # closes after this one anyway.  Start afresh for a 1.0 keep-alive client.
            rest, _closed = conn.trailing_data
            self.conn = self._conn()
            self.conn.receive_data(bytes(rest))


def make_parser(cb: Any, *, response: bool = False,
                limits: H1Limits | None = None) -> H11Parser:
    return H11Parser(cb, response=response, limits=limits)
