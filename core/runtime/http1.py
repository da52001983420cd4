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

from ..debugcount import debug_counter
from ..proto.h1 import H1Error, H1Limits, chunk, response_head, without_hop
from ..proto.pages import reason as reason_phrase
from ..records import ActResult
from ..rules import run_rules
from ..stream import ProcState, Session, Stream
from ..trace import PROTO, USER
from . import tevents
from .errcapture import capture
from .http_txn import FrontendContext, Transaction
from .ktraces import H1_TRACE, h1_head_detail
from .timers import timers_of

#: tcp-request connection/session verdicts that close the connection
_REJECT = (ActResult.DENY, ActResult.ABORT, ActResult.ERROR)

_monotonic = time.monotonic

#: on a soft stop, how long a connection accepted without a request yet is given for its
#: first request to arrive before it is closed as idle (it is served, then closed)
_FIRST_REQUEST_GRACE_MS = 200
#: requests refused as invalid (``debug counters``)
_INVALID_REQUEST = debug_counter("GLT", "invalid HTTP/1 request")


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

    #: the engine's Listener that accepted the connection (set before connection_made)
    listener: Any = None

    def __init__(self, ctx: FrontendContext) -> None:
        self.ctx = ctx
        self.transport: Any = None
        self.parser = ctx.codec(self, response=False, limits=ctx.limits, relaxed=bool(
            ctx.frontend.options.get("accept-unsafe-violations-in-http-request")))
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
        #: the listener that accepted the connection (set by the engine)
        self.listener: Any = None
        #: the multiplexer serving the connection when it does not speak HTTP/1 (an
        #: HTTP/2 connection: chosen by ALPN or the bind's ``proto``); it then receives
        #: the connection's events
        self.mux: Any = None

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
                            frontend=self.ctx.frontend, listener=self.listener, http_major=1,
                            ssl=transport.get_extra_info("ssl_object"))
        if (self.ctx.conn_rules or self.ctx.sess_rules) and not self.accept_rules():
            return
        if self.ctx.muxes:
            proto = self._mux_protocol()
            if proto is not None:
                self.sess.http_major = int(proto[1:])
                self.mux = self.ctx.muxes[proto](self)
                self.mux.connection_made(transport)
                return
        if H1_TRACE.on:
            H1_TRACE.trace(PROTO, "h1c_new", "new H1 connection", "[F]", self._lock())
        self.arm(self.ctx.t_request, self.request_timeout)

    def _lock(self) -> dict[str, Any]:
        """The lock-on objects of this connection's trace events."""
        return {"frontend": self.ctx.frontend, "connection": self, "session": self.sess,
                "listener": self.listener}

    def accept_rules(self) -> bool:
        """The tcp-request connection then session rules; False when they reject the
        connection (closed at once, not logged, as HAProxy)."""
        ctx = self.ctx
        strm = Stream(sess=self.sess, frontend=ctx.frontend, proc=ctx.proc)
        for rules in (ctx.conn_rules, ctx.sess_rules):
            if rules and run_rules(rules, strm, final=True) in _REJECT:
                strm.ext.clear()
                self.sess.ext.clear()
                self.closed = True
                self.transport.abort()
                return False
        return True

    def _mux_protocol(self) -> str | None:
        """The protocol a registered multiplexer serves on this connection: the ALPN
        protocol TLS negotiated, else the bind's ``proto``; None for HTTP/1."""
        ssl = self.sess.ssl if self.sess is not None else None
        proto = None
        if ssl is not None:
            proto = ssl.selected_alpn_protocol()
        if proto is None and self.listener is not None:
            opt = getattr(self.listener.bind, "opt", None)
            proto = opt("proto") if opt is not None else None
        return proto if proto in self.ctx.muxes else None

    def data_received(self, data: bytes) -> None:
        if self.mux is not None:
            self.mux.data_received(data)
            return
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
            self.capture_error(data)
            self.bad_request(exc.status)
            return
        if self.head_bytes and self.parsing is None and not self.txns and not self.closing \
                and self.timer_cb != self.request_timeout:
            # a request head begun and not complete: timeout http-request from its first byte
            self.arm(self.ctx.t_request, self.request_timeout)

    def eof_received(self) -> bool:
        if self.mux is not None:
            return self.mux.eof_received()
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
        if self.mux is not None:
            self.mux.connection_lost(exc)
        if self.tunnel is not None:
            self.tunnel.client_closed()
        for txn in list(self.txns):
            txn.client_closed(exc is not None)
        self.txns.clear()
        self.ctx.release_private(self)
        if self.sess is not None:
            self.sess.ext.clear()

    def pause_writing(self) -> None:
        if self.mux is not None:
            self.mux.pause_writing()
        elif self.tunnel is not None:
            self.tunnel.client_pause()
        elif self.txns:
            self.txns[0].client_pause_writing()

    def resume_writing(self) -> None:
        if self.mux is not None:
            self.mux.resume_writing()
        elif self.tunnel is not None:
            self.tunnel.client_resume()
        elif self.txns:
            self.txns[0].client_resume_writing()

    # -- request parser callbacks -------------------------------------------------------------
    def on_message_begin(self) -> None:
        """(the request timeout was armed by data_received when no request was pending)"""

    def on_headers(self, method: str, uri: str, version: str,
                   headers: list[tuple[str, str]]) -> None:
        assert self.sess is not None
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "rx_headers", "rcvd H1 request headers",
                           h1_head_detail("F", f"{method} {uri} HTTP/{version}", headers),
                           self._lock())
        txn = Transaction(self, method, uri, version, headers, self.nreq == 0,
                          self.idle_since, self.head_bytes)
        self.head_bytes = 0
        self.nreq += 1
        self.parsing = self.last = txn
        txns = self.txns
        txns.append(txn)
        if len(txns) == 1:
            self.timer_cb = None  # (cancel_timer)
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
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "rx_eoi", "H1 request fully rcvd", "[F]", self._lock())
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

    # -- the response towards the client (the client side of the message model) ----------------
    # Every client side of a transaction (this HTTP/1 connection, an HTTP/2 or HTTP/3 stream)
    # offers send_interim, send_head, send_data, send_end and send_reply; those return the
    # bytes they count as sent where the log counts them.
    def send_interim(self, txn: Transaction, status: int, reason: str,
                     headers: list[tuple[str, str]]) -> None:
        """A 1xx interim response."""
        self.write(response_head(status, reason or reason_phrase(status), list(headers)))

    def send_head(self, txn: Transaction, res: Any, chunked: bool, length: Any,
                  no_body: bool, lines: list[str]) -> int:
        """The response head, framed for HTTP/1 (``lines``: the encoded header lines
        without hop-by-hop ones); sets ``txn.res_chunked_out`` and ``txn.keep_alive``."""
        status = res.status
        if status == 101:
            lines.append("connection: upgrade\r\n")
        else:
            if not no_body and (chunked or length is None):
                if txn.req.version == "1.1" and res.version != "1.0":
                    lines.append("transfer-encoding: chunked\r\n")
                    txn.res_chunked_out = True
                else:
                    txn.keep_alive = False
            # as HAProxy's H1 output: the server's version is kept; an HTTP/1.0 response
            # closes by default and an HTTP/1.1 one stays open by default
            if not txn.keep_alive:
                if res.version != "1.0":
                    lines.append("connection: close\r\n")
            elif txn.req.version == "1.0" or res.version == "1.0":
                lines.append("connection: keep-alive\r\n")
        ver = res.version if res.version in ("1.0", "1.1") else "1.1"
        data = (f"HTTP/{ver} {status} {res.reason or reason_phrase(status)}\r\n"
                f"{''.join(lines)}\r\n").encode("latin-1", "replace")
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "tx_headers", "sending response headers", h1_head_detail(
                "F", f"HTTP/{ver} {status} {res.reason or reason_phrase(status)}",
                [tuple(ln.rstrip("\r\n").split(": ", 1)) for ln in lines]), self._lock())
        self.write(data)
        return len(data)

    def send_data(self, txn: Transaction, data: bytes) -> None:
        self.write(chunk(data) if txn.res_chunked_out else data)

    def send_end(self, txn: Transaction) -> None:
        """The response ended: the last chunk (with trailers) of a chunked one."""
        if txn.res_chunked_out:
            self.write(txn._res_last_chunk())

    def send_reply(self, txn: Transaction, msg: Any) -> int:
        """A whole response produced by hapx (rules, errors)."""
        headers = without_hop(msg.headers)
        body = msg.body or b""
        if not any(n.lower() in ("content-length", "transfer-encoding") for n, _ in headers) \
                and msg.status not in (204, 304):
            headers.append(("content-length", str(len(body))))
        if not txn.keep_alive:
            headers.append(("connection", "close"))
        elif txn.req.version == "1.0":
            headers.append(("connection", "keep-alive"))
        data = response_head(msg.status, msg.reason or reason_phrase(msg.status), headers)
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "tx_headers", "sending response headers", h1_head_detail(
                "F", f"HTTP/1.1 {msg.status} {msg.reason or reason_phrase(msg.status)}",
                headers), self._lock())
        if txn.req.method != "HEAD":
            data += body
        self.write(data)
        return len(data)

    def txn_done(self, txn: Transaction, keep_alive: bool) -> None:
        """A transaction finished its response: start the next one or wait for one."""
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "tx_eoi", "H1 response fully xferred", "[F]", self._lock())
        txns = self.txns
        if txns and txns[0] is txn:
            txns.popleft()
        if self.parsing is txn:
            self.parsing = None
        self.idle_since = _monotonic()
        if not keep_alive or self.stop_asked or getattr(self.ctx.proc, "stopping", False) or (
                self.dead_parser and not (txns and txns[0].invalid)):
            # (a pipelined request refused by the parser still gets its error answer)
            self.close()
            return
        if self.read_paused:
            self.resume_reading("pipeline")
        if txns:
            txns[0].start()
            return
        # self.arm(self.ctx.t_keepalive, self.keepalive_timeout), inlined
        ctx = self.ctx
        ms = ctx.t_keepalive
        if not ms:
            self.timer_cb = None
            return
        self.timer_cb = self.keepalive_timeout
        wheel = ctx.wheel
        deadline = wheel.loop.time() * 1000 + ms
        timer = self.timer
        if timer is None:
            self.timer = wheel.schedule(deadline, self._timer_fired)
        else:
            timer.reschedule(deadline)

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
        if self.mux is not None:
            self.mux.soft_stop()
            return
        if self.closed or self.closing or self.tunnel is not None or self.transport is None:
            return  # not started yet: its first response will close it
        for txn in self.txns:
            txn.keep_alive = False
        if self._idle_now():
            if self.nreq == 0:
                # accepted, but its first request may still be on its way (a client
                # sends it right after connecting): look again a moment later
                wheel = self.ctx.wheel
                wheel.schedule(wheel.loop.time() * 1000 + _FIRST_REQUEST_GRACE_MS,
                               self._close_if_idle)
                return
            self.close()

    def _idle_now(self) -> bool:
        return (not self.txns and self.parsing is None and self.head_bytes == 0
                and not self._request_waiting())

    def _close_if_idle(self) -> None:
        if not (self.closed or self.closing) and self._idle_now():
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

    def capture_error(self, data: bytes) -> None:
        """Keep the refused bytes for ``show errors`` (the error path only)."""
        txn = self.parsing
        capture(self.ctx.frontend, data, response=False, sess=self.sess,
                other=txn.backend if txn is not None else None,
                server=txn.server if txn is not None else None,
                offset=max(self.head_bytes - len(data), 0), bufsize=self.ctx.bufsize)

    def bad_request(self, status: int, term: str = "PR") -> None:
        """The request could not be parsed (or came too late): answer and close."""
        if status == 400:
            _INVALID_REQUEST.hit()
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "h1c_err", "parsing error", f"[F] status={status}",
                           self._lock())
        if self.sess is not None:
            tevents.fmux(self.sess, tevents.TOUT if status == 408 else tevents.PROTO_ERR)
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


def _mux_builder(factory: Any) -> Any:
    def build(conn: ClientConnection) -> Any:
        return factory("frontend", conn)
    return build


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
    if config is not None:
        from ..records import Codec

        # multiplexed protocols (HTTP/2): a Codec record whose factory is called with
        # ("frontend", client_connection) and returns the connection's multiplexer
        for rec in config.registry.all(Codec):
            if rec.protocol != "h1" and rec.factory is not None and \
                    getattr(rec.factory, "multiplexed", False):
                ctx.muxes[rec.protocol] = _mux_builder(rec.factory)
                ctx.mux_codecs[rec.protocol] = rec.factory
    contexts[id(frontend)] = ctx
    return ctx


def frontend_factory(engine: Any, frontend: Any) -> Any:
    """The protocol factory for ``frontend``'s listeners (``mode http``)."""
    ctx = frontend_context(engine, frontend)

    def factory() -> ClientConnection:
        return ClientConnection(ctx)

    return factory
