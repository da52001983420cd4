"""HTTP/2 towards servers (``server … proto h2``): one :class:`H2ServerConn` per TCP
connection carries many :class:`H2ServerStream`, each the *server side* of one
Transaction (it offers what an HTTP/1 ``ServerConnection`` offers: send_head, send_data,
send_end, pause_reading, resume_reading, close, and calls the owner's on_response_*).

A connection joins the server's pool (``http_server.ServerPool``) as soon as it is being
established, so that the streams arriving meanwhile share it; it stays there while it
can open streams (the server's SETTINGS_MAX_CONCURRENT_STREAMS and
``tune.h2.be.max-concurrent-streams``), for every client (http-reuse), except under
``http-reuse never`` where each stream gets its own connection.  ``idle-ping`` on the
server line PINGs a connection without streams and closes it when the previous PING got
no answer.
"""

from __future__ import annotations

import asyncio
import socket
from collections import deque
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings
from h2.errors import ErrorCodes
from hapx.core.runtime.http_server import pool_of
from hapx.core.runtime.queue import conn_closed, conn_opened

from . import limits, tracing
from .glitches import GlitchCounter
from .params import H2Params, encode_headers, request_headers
from .tracing import H2_TRACE

_HIGH = 256 * 1024
_LOW = 64 * 1024

_ResponseReceived = h2.events.ResponseReceived
_DataReceived = h2.events.DataReceived
_StreamEnded = h2.events.StreamEnded
_StreamReset = h2.events.StreamReset
_WindowUpdated = h2.events.WindowUpdated
_TrailersReceived = h2.events.TrailersReceived
_Informational = h2.events.InformationalResponseReceived
_ConnectionTerminated = h2.events.ConnectionTerminated
_PingAckReceived = h2.events.PingAckReceived
_RemoteSettingsChanged = h2.events.RemoteSettingsChanged


class H2ServerStream:
    """One request on an HTTP/2 server connection."""

    multiplexed = True
    tunnel = None
    parser = None
    http_major = 2

    __slots__ = ("conn", "sid", "server", "owner", "closed", "reused", "uses",
                 "private_to", "pending", "pending_len", "end_pending", "ended", "unacked",
                 "paused", "cli_paused", "done")

    @property
    def transport(self) -> Any:
        """The transport of the HTTP/2 connection carrying this stream (its TLS object
        feeds the ssl_bc fetches)."""
        return self.conn.transport

    def __init__(self, conn: H2ServerConn, reused: bool) -> None:
        self.conn = conn
        self.sid = 0
        self.server = conn.server
        self.owner: Any = None
        self.closed = False
        self.reused = reused
        self.uses = 0
        self.private_to: Any = None
        self.pending: deque[bytes] = deque()
        self.pending_len = 0
        self.end_pending = False
        self.ended = False
        self.unacked = 0
        self.paused = False
        self.cli_paused = False
        self.done = False

    # what the transaction reads of its server connection
    @property
    def peer_port(self) -> int:
        return self.conn.peer_port

    @property
    def target(self) -> Any:
        return self.conn.target

    @property
    def connect_ms(self) -> int:
        return self.conn.connect_ms

    # -- the request ------------------------------------------------------------------------
    def send_head(self, txn: Any, upgrade: bool) -> int:
        conn = self.conn
        req = txn.req
        block = request_headers(req.method, req.uri, req.headers)
        end = txn.req_done and not txn.req_buf and txn.chain is None
        try:
            self.sid = conn.h2.get_next_available_stream_id()
            conn.h2.send_headers(self.sid, block, end_stream=end)
            if H2_TRACE.on:
                tracing.tx_headers(conn, "B", self.sid, block)
        except (h2.exceptions.ProtocolError, h2.exceptions.StreamClosedError):
            self.closed = True
            conn.kick()
            return 0
        conn.streams[self.sid] = self
        if req.method != "HEAD":
            limits.grant_share(conn.h2, self.sid, conn.params, False, len(conn.streams))
        if end:
            self.ended = True
        conn.kick()
        return sum(len(n) + len(v) + 4 for n, v in block)

    def send_data(self, txn: Any, data: bytes) -> None:
        if self.closed or self.ended or not data:
            return
        self.pending.append(data)
        self.pending_len += len(data)
        self.push()
        if self.pending_len > _HIGH and not self.cli_paused:
            self.cli_paused = True
            txn.client.pause_reading("h2-server-window")

    def send_end(self, txn: Any) -> None:
        if self.closed or self.ended:
            return
        self.end_pending = True
        self.push()

    def push(self) -> None:
        """Send what the server's window allows of the request body."""
        conn = self.conn
        h2c = conn.h2
        sid = self.sid
        pending = self.pending
        try:
            while pending:
                window = h2c.local_flow_control_window(sid)
                if window <= 0:
                    break
                size = min(window, h2c.max_outbound_frame_size)
                data = pending[0]
                if len(data) <= size:
                    pending.popleft()
                else:
                    pending[0] = data[size:]
                    data = data[:size]
                self.pending_len -= len(data)
                h2c.send_data(sid, data)
            if not pending and self.end_pending and not self.ended:
                self.ended = True
                owner = self.owner
                trailers = owner.req.trailers if owner is not None else None
                if trailers and not self.server_drops_trailers():
                    h2c.send_headers(sid, encode_headers(trailers), end_stream=True)
                else:
                    h2c.end_stream(sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pending.clear()
            self.pending_len = 0
        conn.kick()
        if self.cli_paused and self.pending_len < _LOW:
            self.cli_paused = False
            owner = self.owner
            if owner is not None:
                owner.client.resume_reading("h2-server-window")

    def server_drops_trailers(self) -> bool:
        owner = self.owner
        be = owner.backend if owner is not None else None
        return bool(be is not None and be.options.get("http-drop-request-trailers"))

    # -- reading the response -------------------------------------------------------------------
    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False
        if self.unacked:
            n, self.unacked = self.unacked, 0
            self.conn.ack(self.sid, n)

    # -- the end ------------------------------------------------------------------------------
    def close(self) -> None:
        """Give the stream up (RST_STREAM CANCEL when it is still open)."""
        if self.done:
            return
        self.done = True
        self.closed = True
        self.owner = None
        conn = self.conn
        if self.sid and not conn.closed:
            try:
                conn.h2.reset_stream(self.sid, ErrorCodes.CANCEL)
            except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
                pass
            conn.kick()
        conn.stream_gone(self)

    def release(self) -> None:
        """The response ended: the stream is over, its connection stays for others."""
        if self.done:
            return
        self.done = True
        self.owner = None
        self.conn.stream_gone(self)


class H2ServerConn(asyncio.Protocol):
    """One HTTP/2 connection to a server."""

    multiplexed = True
    tunnel = None
    http_major = 2

    def __init__(self, server: Any, params: H2Params, shared: bool) -> None:
        self.server = server
        self.params = params
        cfg = h2.config.H2Configuration(
            client_side=True, header_encoding="latin-1", validate_outbound_headers=False,
            normalize_outbound_headers=False, normalize_inbound_headers=False)
        self.h2 = h2.connection.H2Connection(cfg)
        self.h2.local_settings = h2.settings.Settings(client=True,
                                                      initial_values=params.local(False))
        self.h2.max_inbound_frame_size = params.max_frame_size
        self.h2.decoder.max_allowed_table_size = params.header_table_size
        self.h2.initiate_connection()
        limits.server_conn_opened(self.h2, params)
        self.streams: dict[int, H2ServerStream] = {}
        #: streams attached (opened or about to be): counted against the stream limit
        self.attached = 0
        self.transport: Any = None
        self.closed = False
        self.connected = False
        self.going_away = False
        self.shared = shared
        self.private_to: Any = None
        self.peer_port = 0
        self.target: Any = None
        self.connect_ms = 0
        self.reused = False
        self.uses = 0
        self.flush_scheduled = False
        self.loop = asyncio.get_running_loop()
        self.glitches = GlitchCounter(params.be_glitches)
        ping = server.options.get("idle-ping")
        self.idle_ping = int(ping or 0)
        self.ping_timer: Any = None
        self.ping_sent = False
        self.ping_payload = 0

    # -- streams --------------------------------------------------------------------------------
    def limit(self) -> int:
        remote = self.h2.remote_settings.max_concurrent_streams
        own = self.params.be_max_streams or remote
        return min(remote, own) if remote else own

    def available(self) -> bool:
        return not (self.closed or self.going_away) and self.attached < self.limit()

    def open_stream(self) -> H2ServerStream | None:
        """A new stream on this connection (None when it cannot take one more)."""
        if not self.available():
            return None
        self.attached += 1
        self.uses += 1
        st = H2ServerStream(self, reused=self.uses > 1)
        return st

    def stream_gone(self, st: H2ServerStream) -> None:
        if st.sid and self.streams.get(st.sid) is st:
            del self.streams[st.sid]
        self.attached -= 1
        if self.closed:
            return
        if self.shared and self.available():
            pool = pool_of(self.server)
            if self not in pool.idle:
                pool.idle.append(self)
        elif not self.shared and self.attached == 0:
            self.close()
        if self.attached == 0 and self.idle_ping and self.ping_timer is None:
            self._arm_ping()

    # -- asyncio ----------------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.connected = True
        if H2_TRACE.on:
            tracing.conn_new(self, "B")
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer_port = peer[1]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        conn_opened(self.server, transport)
        self._flush()
        if self.idle_ping and self.attached == 0:
            self._arm_ping()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            if H2_TRACE.on:
                tracing.error(self, "B", exc)
            self.glitches.add(1)
            self._flush()
            self.close()
            return
        if H2_TRACE.on:
            tracing.rx(self, "B", data, events)
        self.ping_sent = False
        for ev in events:
            t = type(ev)
            if t is _DataReceived:
                self._on_data(ev)
            elif t is _ResponseReceived:
                st = self.streams.get(ev.stream_id)
                if st is not None and st.owner is not None:
                    self._on_head(st, ev.headers)
            elif t is _StreamEnded:
                st = self.streams.get(ev.stream_id)
                if st is not None and st.owner is not None:
                    owner = st.owner
                    owner.on_response_complete()
            elif t is _TrailersReceived:
                st = self.streams.get(ev.stream_id)
                if st is not None and st.owner is not None and st.owner.strm.res is not None:
                    st.owner.strm.res.trailers = [(n, v) for n, v in ev.headers]
            elif t is _WindowUpdated:
                self._on_window(ev.stream_id)
            elif t is _Informational:
                st = self.streams.get(ev.stream_id)
                if st is not None and st.owner is not None:
                    self._on_head(st, ev.headers)
                    if st.owner is not None:
                        st.owner.on_response_complete()
            elif t is _StreamReset:
                self._on_reset(ev.stream_id)
            elif t is _RemoteSettingsChanged:
                self._on_window(0)
            elif t is _ConnectionTerminated:
                self._on_goaway(ev.last_stream_id)
            elif t is _PingAckReceived:
                self.ping_sent = False
        if self.glitches.exceeded():
            self.h2.close_connection(ErrorCodes.ENHANCE_YOUR_CALM)
            self._flush()
            self.close()
            return
        self.kick()

    def _on_head(self, st: H2ServerStream, headers: list[tuple[str, str]]) -> None:
        status = 0
        fields = []
        for n, v in headers:
            if n[0] == ":":
                if n == ":status":
                    status = int(v)
            else:
                fields.append((n, v))
        st.owner.on_response_headers(status, "", "2.0", fields)

    def _on_data(self, ev: Any) -> None:
        st = self.streams.get(ev.stream_id)
        n = ev.flow_controlled_length
        if not ev.data and ev.stream_ended is None:
            self.glitches.add(1)
        if st is None or st.owner is None:
            if n:
                self.ack(ev.stream_id, n)
            return
        owner = st.owner
        if ev.data:
            owner.on_response_body(ev.data)
        if n:
            if st.paused:
                st.unacked += n
            else:
                self.ack(ev.stream_id, n)
        if st.owner is owner and not owner.finished:
            owner.touch_server_timer()

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
        st = self.streams.get(sid)
        if st is None:
            return
        st.closed = True
        owner = st.owner
        if owner is not None:
            owner.server_closed(st)
        st.close()

    def _on_goaway(self, last: int) -> None:
        """The server stops: streams above ``last`` were not processed (retried)."""
        self.going_away = True
        pool = pool_of(self.server)
        if self in pool.idle:
            pool.idle.remove(self)
        for sid, st in list(self.streams.items()):
            if sid > last:
                st.closed = True
                if st.owner is not None:
                    st.owner.server_closed(st)
        if not self.streams:
            self.close()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed and not self.connected:
            return
        was_connected = self.connected
        self.closed = True
        if H2_TRACE.on:
            tracing.conn_end(self, "B")
        self.connected = False
        if self.ping_timer is not None:
            self.ping_timer.cancel()
            self.ping_timer = None
        if was_connected:
            conn_closed(self.server, self.transport)
        self._drop_from_pool()
        for st in list(self.streams.values()):
            st.closed = True
            if st.owner is not None:
                st.owner.server_closed(st)
        self.streams.clear()

    def failed(self) -> None:
        """The connection could not be established: the streams that joined it while it
        was being established fail like it (their transactions retry)."""
        self.closed = True
        self._drop_from_pool()
        for st in list(self.streams.values()):
            st.closed = True
            if st.owner is not None:
                st.owner.server_closed(st)
        self.streams.clear()

    def _drop_from_pool(self) -> None:
        pool = getattr(self.server, "_hapx_pool", None)
        if pool is not None and self in pool.idle:
            pool.idle.remove(self)

    def pause_writing(self) -> None:
        for st in self.streams.values():
            if st.owner is not None:
                st.owner.server_pause_writing()

    def resume_writing(self) -> None:
        for st in list(self.streams.values()):
            if st.owner is not None:
                st.owner.server_resume_writing()

    # -- frames out ---------------------------------------------------------------------------------
    def ack(self, sid: int, n: int) -> None:
        try:
            self.h2.acknowledge_received_data(n, sid)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            pass
        self.kick()

    def kick(self) -> None:
        if self.flush_scheduled or not self.connected:
            return
        self.flush_scheduled = True
        self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if not self.connected:
            return
        data = self.h2.data_to_send()
        if data:
            if H2_TRACE.on:
                tracing.tx(self, "B", data)
            self.transport.write(data)

    def close(self) -> None:
        self._drop_from_pool()
        if self.transport is not None and self.connected:
            self._flush()
            self.transport.close()
        self.closed = True

    # -- idle-ping ------------------------------------------------------------------------------------
    def _arm_ping(self) -> None:
        self.ping_timer = self.loop.call_later(self.idle_ping / 1000, self._ping)

    def _ping(self) -> None:
        self.ping_timer = None
        if self.closed:
            return
        if self.ping_sent:
            self.close()
            return
        if self.attached:
            return  # busy: pinged again once idle
        self.ping_payload += 1
        self.h2.ping(self.ping_payload.to_bytes(8, "big"))
        self.ping_sent = True
        self._flush()
        self._arm_ping()


class H2ServerSide:
    """What the data path asks of an HTTP/2 server: a new connection object."""

    def __init__(self, server: Any, params: H2Params) -> None:
        self.server = server
        self.params = params

    @classmethod
    def of(cls, server: Any, params: H2Params) -> H2ServerSide:
        side = getattr(server, "_hapx_h2", None)
        if side is None or side.params is not params:
            side = cls(server, params)
            server._hapx_h2 = side
        return side

    def new_connection(self, shared: bool) -> H2ServerConn:
        return H2ServerConn(self.server, self.params, shared)
