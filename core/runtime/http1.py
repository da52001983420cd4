"""``mode http`` over HTTP/1.x on both sides: the client-side protocol.

``frontend_factory(engine, frontend)`` returns the asyncio protocol factory of a frontend's
listeners.  Each client connection is a :class:`ClientConnection`; each request a
:class:`~hapx.core.runtime.http_txn.Transaction` (a Stream, rules, backend choice, server
connection, response) processed in order: pipelined requests wait for the previous
response.  Everything runs in protocol callbacks; a task exists only while a new server
connection is being established.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from collections import deque
from typing import Any

from ..proto.h1 import H1Error, H1Limits
from ..stream import ProcState, Session
from .http_txn import FrontendContext, Transaction
from .timers import timers_of

_monotonic = time.monotonic


def _addr(info: Any) -> tuple[Any, int]:
    if isinstance(info, tuple) and len(info) >= 2:
        try:
            return ipaddress.ip_address(info[0].split("%")[0]), int(info[1])
        except ValueError:
            return None, 0
    return None, 0


class ClientConnection(asyncio.Protocol):
    """One client connection of an HTTP frontend.

    Timeouts use two handles of the loop's timer wheel, kept for the connection's life:
    ``timer`` for the client side (http-request, http-keep-alive) and ``srv_timer`` for
    the server side of the current transaction; arming one only moves its deadline.
    Writes made while a server's data is being parsed are gathered (``corked``) and sent
    in one ``write`` when that data is processed."""

    def __init__(self, ctx: FrontendContext) -> None:
        self.ctx = ctx
        self.transport: Any = None
        self.parser = ctx.codec(self, response=False, limits=ctx.limits)
        self.txns: deque[Transaction] = deque()
        self.parsing: Transaction | None = None
        self.closed = False
        self.closing = False
        self.timer: Any = None
        self.timer_cb: Any = None
        self.srv_timer: Any = None
        self.srv_txn: Transaction | None = None
        self.read_paused: set[str] = set()
        self.tunnel: Any = None
        self.nreq = 0
        self.idle_since = _monotonic()
        self.sess: Session | None = None
        self.head_bytes = 0
        self.dead_parser = False
        self.last: Transaction | None = None
        self.corked = False
        self.out: list[bytes] = []
        self.stop_asked = False

    # -- asyncio ---------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        if self.ctx.wheel is None:
            self.ctx.wheel = timers_of()
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        src, sport = _addr(transport.get_extra_info("peername"))
        dst, dport = _addr(transport.get_extra_info("sockname"))
        self.sess = Session(src=src, src_port=sport, dst=dst, dst_port=dport,
                            frontend=self.ctx.frontend, http_major=1,
                            ssl=transport.get_extra_info("ssl_object"))
        self.arm(self.ctx.t_request, self.request_timeout)

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.from_client(data)
            return
        if self.dead_parser or self.closing:
            return
        self.head_bytes += len(data)
        try:
            self.parser.feed(data)
        except H1Error as exc:
            self.dead_parser = True
            self.bad_request(exc.status)
            return
        if self.head_bytes and self.parsing is None and not self.txns and not self.closing \
                and self.timer_cb != self.request_timeout:
            # a request head begun and not complete: timeout http-request from its first byte
            self.arm(self.ctx.t_request, self.request_timeout)

    def eof_received(self) -> bool:
        if self.txns:
            for txn in self.txns:
                txn.keep_alive = False
            self.txns[0].client_eof()
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.out = []
        self.cancel_timer()
        if self.timer is not None:
            self.timer.cancel()
        if self.srv_timer is not None:
            self.srv_timer.cancel()
        self.srv_txn = None
        if self.tunnel is not None:
            self.tunnel.client_closed()
        for txn in list(self.txns):
            txn.client_closed()
        self.txns.clear()
        self.ctx.release_private(self)

    def pause_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_pause()
        elif self.txns:
            self.txns[0].client_pause_writing()

    def resume_writing(self) -> None:
        if self.tunnel is not None:
            self.tunnel.client_resume()
        elif self.txns:
            self.txns[0].client_resume_writing()

    # -- request parser callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        """(the request timeout was armed by data_received when no request was pending)"""

    def on_headers(self, method: str, uri: str, version: str,
                   headers: list[tuple[str, str]]) -> None:
        assert self.sess is not None
        txn = Transaction(self, method, uri, version, headers, self.nreq == 0,
                          self.idle_since, self.head_bytes)
        self.head_bytes = 0
        self.nreq += 1
        self.parsing = self.last = txn
        self.txns.append(txn)
        if len(self.txns) == 1:
            self.cancel_timer()
            txn.start()
        else:
            self.pause_reading("pipeline")

    def on_body(self, chunk: bytes) -> None:
        if self.parsing is not None:
            self.parsing.request_body(chunk)

    def on_trailers(self, fields: list[tuple[str, str]]) -> None:
        if self.parsing is not None:
            self.parsing.req.trailers = fields

    def on_message_complete(self) -> None:
        txn = self.parsing
        self.parsing = None
        if txn is not None:
            txn.request_complete()

    def on_upgrade(self, rest: bytes) -> None:
        self.dead_parser = True
        if self.last is not None:
            self.last.request_upgrade(rest)

    # -- called by transactions -------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if self.corked:
            self.out.append(data)
        elif not self.closed:
            self.transport.write(data)

    def cork(self) -> None:
        """Gather the writes until :meth:`uncork` (while a server's data is parsed)."""
        self.corked = True

    def uncork(self) -> None:
        self.corked = False
        out = self.out
        if out:
            self.out = []
            if not self.closed:
                self.transport.write(out[0] if len(out) == 1 else b"".join(out))

    def txn_done(self, txn: Transaction, keep_alive: bool) -> None:
        """A transaction finished its response: start the next one or wait for one."""
        if self.txns and self.txns[0] is txn:
            self.txns.popleft()
        if self.parsing is txn:
            self.parsing = None
        self.idle_since = _monotonic()
        if not keep_alive or self.dead_parser or self.stop_asked or self.ctx.stopping():
            self.close()
            return
        if self.read_paused:
            self.resume_reading("pipeline")
        if self.txns:
            self.txns[0].start()
        else:
            self.arm(self.ctx.t_keepalive, self.keepalive_timeout)

    def start_tunnel(self, tunnel: Any) -> None:
        self.cancel_timer()
        self.tunnel = tunnel
        self.read_paused.clear()
        self.transport.resume_reading()

    def pause_reading(self, why: str) -> None:
        if not self.read_paused and not self.closed:
            self.transport.pause_reading()
        self.read_paused.add(why)

    def resume_reading(self, why: str) -> None:
        if why in self.read_paused:
            self.read_paused.discard(why)
            if not self.read_paused and not self.closed:
                self.transport.resume_reading()

    def close(self) -> None:
        self.closing = True
        self.cancel_timer()
        if self.out:
            self.uncork()
        if not self.closed:
            self.transport.close()

    def abort(self) -> None:
        self.closing = True
        self.cancel_timer()
        self.out = []
        if not self.closed:
            self.transport.abort()

    def soft_stop(self) -> None:
        """A graceful stop began: close now when idle between requests, else let the
        current request finish and close after its response (no keep-alive)."""
        self.stop_asked = True
        if self.closed or self.closing or self.tunnel is not None or self.transport is None:
            return  # not started yet: its first response will close it
        for txn in self.txns:
            txn.keep_alive = False
        if not self.txns and self.parsing is None and self.head_bytes == 0 and \
                not self._request_waiting():
            self.close()

    def _request_waiting(self) -> bool:
        """Bytes of a request already sent, not read yet (a request must not be lost to a
        soft stop: it is served, with ``Connection: close``)."""
        sock = self.transport.get_extra_info("socket")
        if sock is None:
            return False
        try:
            with socket.socket(fileno=os.dup(sock.fileno())) as peek:
                return bool(peek.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except OSError:
            return False

    # -- timers -------------------------------------------------------------------------------
    def arm(self, ms: int | None, callback: Any) -> None:
        """Run ``callback`` in ``ms`` milliseconds (replaces the armed client timeout)."""
        if not ms:
            self.timer_cb = None
            return
        self.timer_cb = callback
        wheel = self.ctx.wheel
        deadline = wheel.loop.time() * 1000 + ms
        timer = self.timer
        if timer is None:
            self.timer = wheel.schedule(deadline, self._timer_fired)
        else:
            timer.reschedule(deadline)

    def cancel_timer(self) -> None:
        self.timer_cb = None

    def _timer_fired(self) -> None:
        cb = self.timer_cb
        self.timer_cb = None
        if cb is not None:
            cb()

    def arm_server(self, txn: Transaction, ms: int) -> None:
        """The server-side timeout of ``txn`` (the transaction being served)."""
        self.srv_txn = txn
        wheel = self.ctx.wheel
        deadline = wheel.loop.time() * 1000 + ms
        timer = self.srv_timer
        if timer is None:
            self.srv_timer = wheel.schedule(deadline, self._srv_timer_fired)
        else:
            timer.reschedule(deadline)

    def _srv_timer_fired(self) -> None:
        txn = self.srv_txn
        self.srv_txn = None
        if txn is not None:
            txn.server_timeout()

    def request_timeout(self) -> None:
        """timeout http-request: the request head did not arrive in time -> 408."""
        if self.txns or self.closed:
            return
        if self.head_bytes == 0 and self.nreq > 0:
            self.close()
            return
        self.dead_parser = True
        self.bad_request(408, term="cR")

    def keepalive_timeout(self) -> None:
        if not self.txns and self.head_bytes == 0:
            self.close()
        elif not self.txns:
            self.request_timeout()

    def bad_request(self, status: int, term: str = "PR") -> None:
        """The request could not be parsed (or came too late): answer and close."""
        txn = self.parsing
        if txn is not None and not txn.req_done:
            txn.keep_alive = False
            txn.client_protocol_error(status)
            return
        bad = Transaction(self, "", "", "1.1", [], self.nreq == 0, self.idle_since,
                          self.head_bytes)
        bad.invalid = True
        bad.keep_alive = False
        self.txns.append(bad)
        if len(self.txns) > 1:
            bad.pending_error = (status, term)
            return
        bad.started = True
        bad.local_error(status, term, close=True)


def frontend_context(engine: Any, frontend: Any) -> FrontendContext:
    """What the HTTP connections of ``frontend`` share (rules, timeouts, the HTTP/1 codec
    used towards servers), whatever their protocol; one per frontend and engine."""
    contexts = engine.__dict__.setdefault("http_contexts", {}) if engine is not None else {}
    ctx = contexts.get(id(frontend))
    if ctx is not None and ctx.frontend is frontend:
        return ctx
    config = getattr(engine, "config", None)
    gsettings = config.global_.settings if config is not None else {}
    codec = frontend.settings.get("h1_codec")
    if codec is None and config is not None:
        name = gsettings.get("h1-codec", "httptools")
        rec = config.registry.codec("h1", name)
        if rec is None:
            from ..records import Codec

            recs = [c for c in config.registry.all(Codec) if c.protocol == "h1"]
            rec = recs[0] if recs else None
        codec = rec.factory if rec is not None else None
    if codec is None:
        raise RuntimeError("no HTTP/1 codec is registered")
    proc = getattr(engine, "proc", None) or ProcState()
    ctx = FrontendContext(engine, frontend, codec, H1Limits.from_global(gsettings), proc)
    contexts[id(frontend)] = ctx
    return ctx


def frontend_factory(engine: Any, frontend: Any) -> Any:
    """The protocol factory for ``frontend``'s listeners (``mode http``)."""
    ctx = frontend_context(engine, frontend)

    def factory() -> ClientConnection:
        return ClientConnection(ctx)

    return factory
