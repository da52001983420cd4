"""HTTP/2 towards clients: one :class:`H2ClientMux` per connection (ALPN ``h2`` or a bind
with ``proto h2``), one :class:`H2Stream` per request.

An H2Stream is the *client side* of a :class:`~hapx.core.runtime.http_txn.Transaction`,
as an HTTP/1 ``ClientConnection`` is: it receives the response through ``send_head``,
``send_data``, ``send_end``, ``send_reply`` and ``send_interim`` and turns it into HTTP/2
frames.  Flow control both ways:

- response bodies wait in the stream while the client's window is closed; past
  ``_HIGH`` bytes waiting the server is no longer read (``sconn.pause_reading()``);
- request bodies are acknowledged (WINDOW_UPDATE) once handed to the transaction, and not
  while it asked to stop reading (``pause_reading``): the client's window then closes.

Frames are gathered and written once per loop iteration (``_kick``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import h2.exceptions
from h2.errors import ErrorCodes
from hapx.core.runtime.http_txn import Transaction

from . import limits, tracing
from .glitches import GlitchCounter
from .h2lib import H2LibServer
from .lean import LeanH2Server
from .params import H2Params, encode_headers, goaway, response_headers
from .tracing import H2_TRACE

_HIGH = 256 * 1024
_LOW = 64 * 1024
_monotonic = time.monotonic


def _no_timer() -> None:
    """The callback of a server-timeout handle kept for reuse (it never fires)."""


class H2Stream:
    """One HTTP/2 stream of a client connection: the client side of its transaction."""

    __slots__ = ("mux", "sid", "ctx", "sess", "txn", "read_paused", "unacked", "srv_txn",
                 "srv_timer", "pending", "pending_len", "end_pending", "ended", "closed",
                 "srv_paused", "res_head_sent", "req_ended", "txn_over")

    def __init__(self, mux: H2ClientMux, sid: int) -> None:
        self.mux = mux
        self.sid = sid
        self.ctx = mux.ctx
        self.sess = mux.conn.sess
        self.txn: Transaction | None = None
        #: why reading the request body is paused (created on the first pause)
        self.read_paused: set[str] | None = None
        self.unacked = 0
        self.srv_txn: Transaction | None = None
        self.srv_timer: Any = None
        #: the response body waiting for the client's window (created when it must wait)
        self.pending: deque[bytes] | None = None
        self.pending_len = 0
        self.end_pending = False
        self.ended = False
        self.closed = False
        self.srv_paused = False
        self.res_head_sent = False
        self.req_ended = False
        self.txn_over = False

    # -- reading the request (called by the transaction) -----------------------------------------
    def pause_reading(self, why: str) -> None:
        if self.read_paused is None:
            self.read_paused = set()
        self.read_paused.add(why)

    def resume_reading(self, why: str) -> None:
        if self.read_paused:
            self.read_paused.discard(why)
        if not self.read_paused and self.unacked:
            n, self.unacked = self.unacked, 0
            self.mux.ack(self.sid, n)

    # -- timers ---------------------------------------------------------------------------------
    def arm_server(self, txn: Transaction, ms: int) -> None:
        self.srv_txn = txn
        wheel = self.ctx.wheel
        deadline = wheel.loop.time() * 1000 + ms
        timer = self.srv_timer
        if timer is not None:
            timer.reschedule(deadline)
            return
        free = self.mux.free_timers
        if free:
            # a handle of an ended stream of this connection (see H2ClientMux.drop)
            timer = self.srv_timer = free.pop()
            timer.callback = self._srv_timer_fired
            timer.reschedule(deadline)
        else:
            self.srv_timer = wheel.schedule(deadline, self._srv_timer_fired)

    def _srv_timer_fired(self) -> None:
        txn = self.srv_txn
        self.srv_txn = None
        if txn is not None:
            txn.server_timeout()

    # -- output batching (a server's data is parsed) ----------------------------------------------
    def cork(self) -> None:
        self.mux.corked += 1

    def uncork(self) -> None:
        self.mux.corked -= 1
        self.mux._kick()

    # -- the response -----------------------------------------------------------------------------
    def send_interim(self, txn: Transaction, status: int, reason: str,
                     headers: list[tuple[str, str]]) -> None:
        if self.closed or status == 101:
            return
        self.mux.send_response(self.sid, status, headers, False)

    def send_head(self, txn: Transaction, res: Any, chunked: bool, length: Any,
                  no_body: bool, lines: list[str]) -> int:
        if self.closed:
            return 0
        if res.status == 101:
            # no protocol switch inside an HTTP/2 stream
            self.abort()
            return 0
        self.res_head_sent = True
        if no_body:
            self.ended = True
        size = self.mux.send_response(self.sid, res.status, res.headers, no_body)
        if no_body:
            self._done_sending()
        return size

    def send_data(self, txn: Transaction, data: bytes) -> None:
        if self.closed or self.ended or not data:
            return
        pending = self.pending
        if not pending and not self.end_pending:
            # nothing waits: a chunk the window and the frame size allow goes out at once
            # (what push() does with it, without queueing it)
            mux = self.mux
            try:
                if mux.h2.try_send_data(self.sid, data):
                    if not mux.corked:  # (_kick does nothing while corked)
                        mux._kick()
                    return
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                self.closed = True
                self.pending_len = 0
                mux._kick()
                return
        if pending is None:
            pending = self.pending = deque()
        pending.append(data)
        self.pending_len += len(data)
        self.push()
        if self.pending_len > _HIGH and not self.srv_paused:
            conn = txn.sconn
            if conn is not None:
                self.srv_paused = True
                conn.pause_reading()

    def send_end(self, txn: Transaction) -> None:
        if self.closed or self.ended:
            return
        self.end_pending = True
        self.push()

    def send_reply(self, txn: Transaction, msg: Any) -> int:
        if self.closed:
            return 0
        body = msg.body or b""
        headers = [h for h in msg.headers if h[0].lower() != "content-length"]
        if msg.status not in (204, 304):
            headers.append(("content-length", str(len(body))))
        self.res_head_sent = True
        if txn.req.method == "HEAD" or not body:
            self.ended = True
            size = self.mux.send_response(self.sid, msg.status, headers, True)
            self._done_sending()
            return size
        size = self.mux.send_response(self.sid, msg.status, headers, False)
        if self.pending is None:
            self.pending = deque()
        self.pending.append(body)
        self.pending_len += len(body)
        self.end_pending = True
        self.push()
        return len(body) + size

    def push(self) -> None:
        """Send what the client's window allows of the waiting response body."""
        mux = self.mux
        conn = mux.h2
        sid = self.sid
        pending = self.pending
        try:
            while pending:
                window = conn.local_flow_control_window(sid)
                if window <= 0:
                    break
                size = min(window, conn.max_outbound_frame_size)
                data = pending[0]
                if len(data) <= size:
                    pending.popleft()
                else:
                    pending[0] = data[size:]
                    data = data[:size]
                self.pending_len -= len(data)
                conn.send_data(sid, data)
            if not pending and self.end_pending and not self.ended:
                self.ended = True
                txn = self.txn
                trailers = txn.strm.res.trailers if txn is not None and txn.strm.res else None
                if trailers and not self.ctx.frontend.options.get(
                        "http-drop-response-trailers"):
                    conn.send_headers(sid, encode_headers(trailers), end_stream=True)
                else:
                    conn.end_stream(sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            self.closed = True
            if pending:
                pending.clear()
            self.pending_len = 0
        if not mux.corked:  # (_kick does nothing while corked)
            mux._kick()
        if self.srv_paused and self.pending_len < _LOW:
            self.srv_paused = False
            txn = self.txn
            if txn is not None and txn.sconn is not None:
                txn.sconn.resume_reading()
        if self.ended:
            self._done_sending()

    def _done_sending(self) -> None:
        if self.txn_over:
            self._finish()

    def _finish(self) -> None:
        """The response is sent and the transaction over: the stream ends here (with
        RST_STREAM NO_ERROR when the client is still sending a request body nobody
        wants any more)."""
        if not self.req_ended and not self.closed:
            self.closed = True
            self.mux.reset(self.sid, ErrorCodes.NO_ERROR)
        self.mux.stream_over(self)

    # -- the transaction's end ----------------------------------------------------------------------
    def txn_done(self, txn: Transaction, keep_alive: bool) -> None:
        self.txn_over = True
        self.srv_txn = None
        if self.ended or self.closed:
            self._finish()

    def abort(self) -> None:
        """The stream failed (server error mid-response, rule abort): RST_STREAM, the
        connection and its other streams go on."""
        self.srv_txn = None
        self.txn_over = True
        if not self.closed:
            self.closed = True
            if self.pending:
                self.pending.clear()
            self.mux.reset(self.sid, ErrorCodes.INTERNAL_ERROR
                           if self.res_head_sent else ErrorCodes.REFUSED_STREAM)
        self.mux.stream_over(self)

    close = abort

    def write(self, data: bytes) -> None:  # noqa: ARG002 - no tunnel over an h2 stream
        self.abort()

    def start_tunnel(self, tunnel: Any) -> None:  # noqa: ARG002
        self.abort()


class H2ClientMux:
    """The HTTP/2 side of one client connection (an HTTP/1 ``ClientConnection`` hands its
    events here once ALPN or the bind chose h2).

    ``self.h2`` is the frame codec: :class:`~.lean.LeanH2Server` (``lean``, the default)
    or :class:`~.h2lib.H2LibServer` (the h2 library); either calls the ``_on_*`` methods
    below from ``receive_data`` and has h2's sending methods."""

    def __init__(self, conn: Any, params: H2Params, codec: str = "lean") -> None:
        self.conn = conn
        self.ctx = conn.ctx
        self.params = params
        self.h2: Any
        if codec == "h2":
            self.h2 = H2LibServer(self, params)
        else:
            self.h2 = LeanH2Server(self, params.local(True), params.max_frame_size,
                                   params.header_table_size)
        self.streams: dict[int, H2Stream] = {}
        #: server-timeout handles of ended streams, for the next streams (see drop)
        self.free_timers: list[Any] = []
        self.transport: Any = None
        self.corked = 0
        self.flush_scheduled = False
        self.loop: Any = None
        self.nreq = 0
        self.idle_since = _monotonic()
        self.going_away = False
        self.closed = False
        self.glitches = GlitchCounter(params.fe_glitches, conn.sess)
        self.ping_timer: Any = None
        self.ping_sent = False
        self.ping_payload = 0
        self.write_paused = False

    # -- connection events ---------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.loop = asyncio.get_running_loop()
        if H2_TRACE.on:
            tracing.conn_new(self, "F")
        self.h2.initiate_connection()
        extra = self.params.fe_conn_window_extra
        if extra > 0:
            self.h2.increment_flow_control_window(extra)
        self._flush()
        self._idle()

    def data_received(self, data: bytes) -> None:
        if self.closed:
            return
        self.ping_sent = False
        self.corked += 1
        try:
            if H2_TRACE.on:
                # the frames as they arrive (the codec calls back for streams and blocks)
                tracing.rx(self, "F", data, ())
            self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            if H2_TRACE.on:
                tracing.error(self, "F", exc)
            self.glitches.add(1)
            self._flush()
            self.close()
            return
        finally:
            self.corked -= 1
        if self.closed:
            return
        if self.glitches.exceeded():
            self.h2.close_connection(ErrorCodes.ENHANCE_YOUR_CALM)
            self._flush()
            self.close()
            return
        self._kick()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if H2_TRACE.on:
            tracing.conn_end(self, "F")
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        for st in list(self.streams.values()):
            st.closed = True
            txn = st.txn
            if txn is not None and not txn.finished:
                txn.client_closed()
            self.ctx.release_private(st)
            self.drop(st)
        self.streams.clear()
        for timer in self.free_timers:
            timer.cancel()
        self.free_timers.clear()

    def pause_writing(self) -> None:
        self.write_paused = True
        for st in self.streams.values():
            if st.txn is not None and not st.txn.finished:
                st.txn.client_pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        for st in list(self.streams.values()):
            if st.txn is not None and not st.txn.finished:
                st.txn.client_resume_writing()

    def soft_stop(self) -> None:
        """Graceful stop: GOAWAY (the last stream accepted is served), close once the
        streams in progress ended."""
        if self.closed or self.going_away:
            return
        self.going_away = True
        self._flush()
        # a GOAWAY that lets the streams in progress finish (h2's close_connection would
        # end the connection's state machine at once)
        frame = goaway(self.h2.highest_inbound_stream_id, ErrorCodes.NO_ERROR)
        if H2_TRACE.on:
            tracing.tx(self, "F", frame)
        self.transport.write(frame)
        if not self.streams:
            self.close()

    # -- frames in (called by the codec) -----------------------------------------------------------
    def _on_end(self, sid: int) -> None:
        st = self.streams.get(sid)
        if st is not None and st.txn is not None:
            st.req_ended = True
            st.txn.request_complete()

    def _on_trailers(self, sid: int, headers: list[tuple[str, str]]) -> None:
        if H2_TRACE.on:
            tracing.rx_fields(self, "F", sid, headers, "trailers")
        st = self.streams.get(sid)
        if st is not None and st.txn is not None:
            st.txn.req.trailers = headers

    def _on_goaway(self) -> None:
        self.going_away = True
        if not self.streams:
            self.close()

    def _on_ping_ack(self) -> None:
        self.ping_sent = False

    def _on_glitch(self) -> None:
        self.glitches.add(1)

    def _on_request(self, sid: int, fields: Any, ended: bool) -> None:
        """A request of the h2 library (the lean codec parses it itself)."""
        method = scheme = authority = path = ""
        headers: list[tuple[str, str]] = []
        size = 0
        has_host = False
        for name, value in fields:
            size += len(name) + len(value) + 4
            if name[0] == ":":
                if name == ":method":
                    method = value
                elif name == ":path":
                    path = value
                elif name == ":authority":
                    authority = value
                elif name == ":scheme":
                    scheme = value
            else:
                if name == "host":
                    has_host = True
                headers.append((name, value))
        self._on_request_head(sid, method, scheme, authority, path, headers, has_host, size,
                              ended)

    def _on_request_head(self, sid: int, method: str, scheme: str, authority: str,
                         path: str, headers: list[tuple[str, str]], has_host: bool,
                         size: int, ended: bool) -> None:
        if self.going_away:
            self.reset(sid, ErrorCodes.REFUSED_STREAM)
            return
        if authority:
            if not has_host:
                headers.insert(0, ("host", authority))
            uri = f"{scheme}://{authority}{path}" if method != "CONNECT" else authority
        else:
            uri = path
        st = H2Stream(self, sid)
        self.streams[sid] = st
        if H2_TRACE.on:
            tracing.stream_new(self, "F", sid)
            pseudo = [(":method", method), (":scheme", scheme), (":authority", authority),
                      (":path", path)]
            tracing.rx_fields(self, "F", sid, [(n, v) for n, v in pseudo if v] + headers,
                              "request")
        self.conn.cancel_timer()
        txn = Transaction(st, method, uri, "2.0", headers, self.nreq == 0, self.idle_since,
                          size)
        self.nreq += 1
        st.txn = txn
        if not ended or self.params.fe_max_total_streams:
            limits.client_stream_opened(self, sid, ended)
        if not ended:
            if txn.req_len is None or txn.req_chunked:
                # a body of unknown length: chunked towards an HTTP/1 server
                txn.req_chunked = True
                if not any(n == "transfer-encoding" for n, _ in headers):
                    txn.req.headers.append(("transfer-encoding", "chunked"))
            txn.req_done = False
        txn.start()
        if ended and not txn.finished:
            st.req_ended = True
            txn.request_complete()

    def _on_data(self, sid: int, data: bytes, n: int, ended: bool) -> None:
        st = self.streams.get(sid)
        if not data and not ended:
            self.glitches.add(1)  # an empty DATA frame that does not end the stream
        if st is None or st.txn is None or st.closed:
            if n:
                self.ack(sid, n)
            return
        if data:
            st.txn.request_body(data)
        if n:
            if st.read_paused:
                st.unacked += n
            else:
                self.ack(sid, n)

    def _on_window(self, sid: int) -> None:
        if sid:
            st = self.streams.get(sid)
            if st is not None and (st.pending or st.end_pending):
                st.push()
            return
        for st in list(self.streams.values()):
            if st.pending or (st.end_pending and not st.ended):
                st.push()

    def _on_reset(self, sid: int) -> None:
        st = self.streams.pop(sid, None)
        if st is None:
            return
        st.closed = True
        txn = st.txn
        if txn is not None and not txn.finished:
            if not st.res_head_sent:
                # a request cancelled before its response began (rapid reset)
                self.glitches.add(1)
            txn.term("CD" if st.res_head_sent else "CR")
            txn.client_closed()
        self.ctx.release_private(st)
        self.drop(st)
        self._idle()

    # -- frames out --------------------------------------------------------------------------------
    def send_response(self, sid: int, status: int, headers: list[tuple[str, str]],
                      end: bool) -> int:
        """A response head (the message model's str pairs); its size as logged."""
        if H2_TRACE.on:
            tracing.tx_headers(self, "F", sid, response_headers(status, headers))
        try:
            size = self.h2.send_response(sid, status, headers, end)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            size = 0
            st = self.streams.get(sid)
            if st is not None:
                st.closed = True
        if not self.corked:  # (_kick does nothing while corked)
            self._kick()
        return size

    def send_headers(self, sid: int, block: list[tuple[bytes, bytes]], end: bool) -> None:
        if H2_TRACE.on:
            tracing.tx_headers(self, "F", sid, block)
        try:
            self.h2.send_headers(sid, block, end_stream=end)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            st = self.streams.get(sid)
            if st is not None:
                st.closed = True
        self._kick()

    def reset(self, sid: int, code: int) -> None:
        try:
            self.h2.reset_stream(sid, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass
        self._kick()

    def ack(self, sid: int, n: int) -> None:
        try:
            # (h2 still credits the connection window when the stream is gone)
            self.h2.acknowledge_received_data(n, sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass
        self._kick()

    def stream_over(self, st: H2Stream) -> None:
        streams = self.streams
        if streams.get(st.sid) is st:
            del streams[st.sid]
            if self.ctx.private:
                self.ctx.release_private(st)
            self.drop(st)
        if not streams:
            self._idle()

    def drop(self, st: H2Stream) -> None:
        """A stream is gone: its server-timeout handle is cancelled and kept for a later
        stream (the wheel would otherwise hold it, and through it the stream and its
        transaction, until the timeout), and the stream <-> transaction cycle is broken
        (what is left of the stream goes with its last reference)."""
        st.srv_txn = None
        timer = st.srv_timer
        if timer is not None:
            st.srv_timer = None
            # (left in the wheel: the next stream moves its deadline, usually later, which
            # costs no refiling; should it come due meanwhile it calls nothing)
            timer.callback = _no_timer
            free = self.free_timers
            if len(free) < 128:
                free.append(timer)
            else:
                timer.cancel()
        st.txn = None

    def _idle(self) -> None:
        if self.streams or self.closed:
            return
        self.idle_since = _monotonic()
        if self.going_away or self.ctx.stopping():
            limits.goaway_before_close(self)
            self._flush()
            self.close()
            return
        self.conn.arm(self.ctx.t_keepalive, self._idle_timeout)
        if self.params.fe_idle_ping and self.ping_timer is None:
            self._arm_ping()

    def _idle_timeout(self) -> None:
        if self.streams or self.closed:
            return
        if self.params.fe_idle_ping and not self.ping_sent:
            # pings are answered: the connection is kept (re-armed)
            self.conn.arm(self.ctx.t_keepalive, self._idle_timeout)
            return
        self.h2.close_connection(ErrorCodes.NO_ERROR)
        self._flush()
        self.close()

    # -- idle-ping ---------------------------------------------------------------------------------
    def _arm_ping(self) -> None:
        self.ping_timer = self.loop.call_later(self.params.fe_idle_ping / 1000, self._ping)

    def _ping(self) -> None:
        self.ping_timer = None
        if self.closed:
            return
        if self.ping_sent:
            # no answer since the previous ping: the peer is gone
            self.close()
            return
        if self.streams:
            self._arm_ping()
            return
        self.ping_payload += 1
        self.h2.ping(self.ping_payload.to_bytes(8, "big"))
        self.ping_sent = True
        self._flush()
        self._arm_ping()

    # -- writing -----------------------------------------------------------------------------------
    def _kick(self) -> None:
        if self.corked or self.flush_scheduled or self.closed:
            return
        self.flush_scheduled = True
        self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        data = self.h2.data_to_send()
        if data and not self.closed:
            if H2_TRACE.on:
                tracing.tx(self, "F", data)
            self.transport.write(data)

    def close(self) -> None:
        if not self.closed:
            self._flush()
            self.closed = True
            self.conn.close()
