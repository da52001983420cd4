"""QUIC listeners and HTTP/3 connections.

A :class:`QuicListener` serves one ``quic4@``/``quic6@`` bind: aioquic's ``QuicServer`` on the
UDP socket the engine opened, refusing new connections while the engine pauses the listener
(maxconn) or stops.  Each QUIC connection is an :class:`H3Connection` (counted by the engine
like an accepted TCP connection, with one :class:`~hapx.core.stream.Session`); each request
stream becomes an :class:`~.stream.H3Stream`, the client of a kernel
:class:`~hapx.core.runtime.http_txn.Transaction`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.buffer import Buffer, encode_uint_var
from aioquic.h3.connection import H3_ALPN, ErrorCode, FrameType, encode_frame
from aioquic.h3.connection import H3Connection as AioH3
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic import events
from aioquic.quic.packet import QuicPacketType, pull_quic_header
from aioquic.quic.retry import QuicRetryTokenHandler
from hapx.core.records import Codec
from hapx.core.stream import Session

from .initial import KEY as INITIAL_KEY
from .initial import InitialRules, connection_refused
from .settings import QuicSettings
from .stream import H3Stream
from .tracing import TraceLogger
from .transport import HapxQuicConnection, adopt, configuration

#: every live HTTP/3 connection of the process, in creation order (``show quic``)
CONNECTIONS: dict[int, H3Connection] = {}


class TxMemory:
    """``tune.quic.frontend.max-tx-mem``: response bytes handed to QUIC and not yet
    acknowledged, process-wide.  Over the limit, streams stop reading their servers until
    acknowledgements bring the total back under it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.peak = 0

    def over(self) -> bool:
        return bool(self.limit) and self.used > self.limit


def _ip(addr: Any) -> tuple[Any, int]:
    try:
        return ipaddress.ip_address(str(addr[0]).split("%")[0]), int(addr[1])
    except (ValueError, IndexError, TypeError):
        return None, 0


#: the UDP socket buffers of a QUIC listener: every connection's datagrams queue there
SOCKET_BUFFER = 4 << 20


def _buffers(sock: socket.socket) -> None:
    """Large socket buffers (a burst of datagrams must not overflow while the process is
    busy: a drop costs the client a retransmission and its congestion window)."""
    for force, plain in ((getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF),
                         (getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF)):
        for opt in (force, plain):
            if opt is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
                break
            except OSError:
                continue


class QuicTLS:
    """What the TLS fetches read of a QUIC connection's TLS 1.3 session (``sess.ssl``)."""

    def __init__(self, conn: H3Connection) -> None:
        self._conn = conn
        self.hapx_peer = None

    @property
    def hapx_sni(self) -> str | None:
        return self._conn.quic.hx_sni

    @property
    def server_hostname(self) -> str | None:
        return self._conn.quic.hx_sni

    def version(self) -> str:
        return "TLSv1.3"

    def cipher(self) -> tuple[str, str, int]:
        suite = getattr(self._conn.quic.tls, "key_schedule", None)
        name = getattr(getattr(suite, "cipher_suite", None), "name", "AES_128_GCM_SHA256")
        name = "TLS_" + name if not name.startswith("TLS_") else name
        return name, "TLSv1.3", 256 if "256" in name else 128

    def selected_alpn_protocol(self) -> str | None:
        return self._conn.quic.tls.alpn_negotiated

    def getpeercert(self, binary_form: bool = False) -> Any:
        return None

    def session_reused(self) -> bool:
        return False


class _Aborter:
    """The ``transport`` the engine aborts on a hard stop."""

    def __init__(self, conn: H3Connection) -> None:
        self._conn = conn

    def abort(self) -> None:
        self._conn.close_now(ErrorCode.H3_NO_ERROR, "stopping")


class H3Connection(QuicConnectionProtocol):
    """One QUIC connection speaking HTTP/3 to a client."""

    def __init__(self, quic: Any, listener: QuicListener) -> None:
        super().__init__(quic)
        self.quic: HapxQuicConnection = quic
        self.listener = listener
        self.settings = listener.settings
        self.ctx = listener.ctx
        self.h3: AioH3 | None = None
        self.streams: dict[int, H3Stream] = {}
        self.sess: Session | None = None
        self.glitches = 0
        self.nreq = 0
        self.idle_since = time.monotonic()
        self.created = time.time()
        self.peer: Any = None
        self.transport = _Aborter(self)
        self.ended = False
        self.stopping = False
        self.tx_paused: set[H3Stream] = set()
        self.handshake_done = False
        #: streams with request body data received and not yet forwarded
        self.body_ready: list[H3Stream] = []
        #: the first request stream id not seen yet (GOAWAY)
        self.next_sid = 0
        self.sent_pkts = 0
        self.sent_bytes = 0
        self.max_cwnd = 0

    # -- engine ---------------------------------------------------------------------------
    def connection_lost(self, exc: Exception | None) -> None:
        """Called once when the connection ended (the engine wraps it to count it)."""

    def soft_stop(self) -> None:
        """A graceful stop: no new request (GOAWAY), close once the streams are done."""
        self.stopping = True
        h3 = self.h3
        if h3 is not None and not self.ended:
            # GOAWAY (RFC 9114 5.2): requests on streams from this id on are not processed
            control = getattr(h3, "_local_control_stream_id", None)
            if control is not None:
                self._quic.send_stream_data(
                    control, encode_frame(FrameType.GOAWAY, encode_uint_var(self.next_sid)))
                self.kick()
        self.close_if_done()

    def close_if_done(self) -> None:
        """Stopping: close once no request is left and every response byte was
        acknowledged (a CONNECTION_CLOSE would drop what is still queued)."""
        if not self.stopping or self.streams or self.ended:
            return
        for stream in self.quic._streams.values():
            if stream.sender._buffer or not stream.sender.buffer_is_empty:
                return
        self.close_now(ErrorCode.H3_NO_ERROR, "")

    def close_now(self, code: int, reason: str) -> None:
        if not self.ended:
            self.close(error_code=code, reason_phrase=reason)

    # -- datagrams ------------------------------------------------------------------------
    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        if self.peer is None:
            self.peer = addr
            self._start_session(addr)
        self._quic.receive_datagram(data, addr, now=self._loop.time())  # type: ignore[arg-type]
        self._process_events()
        if self.tx_paused:
            self.check_tx()
        if self.stopping:
            self.close_if_done()
        # what to send (acknowledgements, credit, responses) goes out once the datagrams
        # ready now were all read, and request bodies are forwarded in one write each
        self.kick()

    def _start_session(self, addr: Any) -> None:
        src, sport = _ip(addr)
        dst, dport = self.listener.local
        self.sess = Session(src=src, src_port=sport, dst=dst, dst_port=dport,
                            frontend=self.listener.frontend, listener=self.listener,
                            http_major=3, ssl=QuicTLS(self))
        self.sess.conn_glitches = self.glitches
        CONNECTIONS[id(self)] = self
        self.listener.engine.track(self, self.listener)

    def kick(self) -> None:
        """Send what the streams wrote, once per loop turn."""
        if self._transmit_task is None and not self.ended:
            self._transmit_task = self._loop.call_soon(self.transmit)

    def transmit(self) -> None:
        """Send what QUIC has to send (counted for ``show quic``), re-arm the timer."""
        self._transmit_task = None
        if self.ended:
            return
        if self.body_ready:
            ready, self.body_ready = self.body_ready, []
            for strm in ready:
                strm.flush()
        send = self._transport.sendto
        for data, addr in self._quic.datagrams_to_send(now=self._loop.time()):
            self.sent_pkts += 1
            self.sent_bytes += len(data)
            send(data, addr)
        cwnd = self.quic._loss.congestion_window
        if cwnd > self.max_cwnd:
            self.max_cwnd = cwnd
        timer_at = self._quic.get_timer()
        if self._timer is not None and self._timer_at != timer_at:
            self._timer.cancel()
            self._timer = None
        if self._timer is None and timer_at is not None:
            self._timer = self._loop.call_at(timer_at, self._handle_timer)
        self._timer_at = timer_at

    @property
    def lost_pkts(self) -> int:
        return self.quic.hx_lost

    # -- events -----------------------------------------------------------------------------
    def quic_event_received(self, event: events.QuicEvent) -> None:
        if isinstance(event, events.ProtocolNegotiated):
            if event.alpn_protocol in H3_ALPN:
                self.h3 = self.listener.h3_factory(self._quic)
            return
        if isinstance(event, events.HandshakeCompleted):
            self.handshake_done = True
            return
        if isinstance(event, events.ConnectionTerminated):
            self._terminated()
            return
        if isinstance(event, events.StreamReset):
            strm = self.streams.get(event.stream_id)
            if strm is not None:
                strm.client_reset()
        elif isinstance(event, events.StopSendingReceived):
            strm = self.streams.get(event.stream_id)
            if strm is not None:
                strm.client_stop_sending()
        if self.h3 is None:
            return
        for ev in self.h3.handle_event(event):
            if isinstance(ev, HeadersReceived):
                strm = self.streams.get(ev.stream_id)
                if strm is None:
                    self._new_stream(ev)
                else:
                    strm.trailers(ev.headers, ev.stream_ended)
            elif isinstance(ev, DataReceived):
                strm = self.streams.get(ev.stream_id)
                if strm is not None:
                    strm.data(ev.data, ev.stream_ended)
                else:
                    self.glitch()

    def _new_stream(self, ev: HeadersReceived) -> None:
        if self.stopping or self.sess is None:
            self._quic.reset_stream(ev.stream_id, ErrorCode.H3_REQUEST_REJECTED)
            self._quic.stop_stream(ev.stream_id, ErrorCode.H3_REQUEST_REJECTED)
            self.kick()
            return
        strm = H3Stream(self, ev.stream_id, self.nreq == 0)
        self.nreq += 1
        self.next_sid = max(self.next_sid, ev.stream_id + 4)
        self.streams[ev.stream_id] = strm
        strm.begin(ev.headers, ev.stream_ended)

    def stream_done(self, strm: H3Stream) -> None:
        self.streams.pop(strm.sid, None)
        self.tx_paused.discard(strm)
        self.quic.release(strm.sid)
        self.idle_since = time.monotonic()
        self.kick()
        self.close_if_done()

    def glitch(self, n: int = 1) -> None:
        """A protocol glitch (a request reset before its response, a malformed request,
        data for an unknown stream): past tune.quic.frontend.glitches-threshold, the
        connection is closed (H3_EXCESSIVE_LOAD).  The count is also the session's
        ``conn_glitches`` (what ``fc_glitches`` reads)."""
        self.glitches += n
        if self.sess is not None:
            self.sess.conn_glitches = self.glitches
        limit = self.settings.glitches_threshold
        if limit and self.glitches >= limit and not self.ended:
            for strm in list(self.streams.values()):
                strm.connection_killed()
            self.close_now(ErrorCode.H3_EXCESSIVE_LOAD, "too many glitches")

    # -- transmit memory --------------------------------------------------------------------
    def unacked(self, sid: int) -> int:
        """Bytes written on ``sid`` and not yet acknowledged by the client."""
        stream = self.quic._streams.get(sid)
        if stream is None:
            return 0
        return len(stream.sender._buffer)

    def check_tx(self) -> None:
        """Acknowledgements arrived: resume the streams whose pending bytes went down."""
        mem = self.listener.txmem
        for strm in list(self.tx_paused):
            strm.tx_progress()
        if not mem.over():
            for conn in list(CONNECTIONS.values()):
                if conn is not self and conn.tx_paused:
                    for strm in list(conn.tx_paused):
                        strm.tx_progress()

    def _terminated(self) -> None:
        if self.ended:
            return
        self.ended = True
        for strm in list(self.streams.values()):
            strm.connection_closed()
        self.streams.clear()
        self.tx_paused.clear()
        CONNECTIONS.pop(id(self), None)
        self.listener.conn_ended(self)
        if self.sess is not None:
            self.connection_lost(None)


class _Server(QuicServer):
    """aioquic's server, refusing new connections while the listener does not accept."""

    def __init__(self, listener: QuicListener, **kw: Any) -> None:
        super().__init__(**kw)
        self.listener = listener

    def datagram_received(self, data: bytes | str, addr: Any) -> None:
        listener = self.listener
        initial = listener.initial
        if not listener.accepting or initial is not None:
            try:
                header = pull_quic_header(Buffer(data=bytes(data)),
                                          host_cid_length=self._configuration.connection_id_length)
            except ValueError:
                return
            if header.packet_type == QuicPacketType.INITIAL and \
                    header.destination_cid not in self._protocols:
                if not listener.accepting:
                    return  # a new connection: the client retries later
                if initial is not None and len(data) >= 1200:
                    self._initial_rules(initial, header, data, addr)
                    return
        super().datagram_received(data, addr)

    def _initial_rules(self, initial: Any, header: Any, data: bytes | str, addr: Any) -> None:
        """``quic-initial`` rules on an Initial packet opening a new connection."""
        src, sport = _ip(addr)
        action = initial.verdict(src, sport, self.listener.ctx.proc)
        if action == "dgram-drop":
            return
        if action == "reject":
            if header.version is not None and header.version in \
                    self._configuration.supported_versions:
                self._transport.sendto(connection_refused(
                    header.version, header.destination_cid, header.source_cid), addr)
            return
        if action == "send-retry" and self._retry is None:
            # address validation for this packet only (a Retry, or its token checked)
            self._retry = self.listener.retry_tokens
            try:
                super().datagram_received(data, addr)
            finally:
                self._retry = None
            return
        super().datagram_received(data, addr)


class QuicListener:
    """The listener of one QUIC bind (what the engine pauses, resumes and closes)."""

    def __init__(self, engine: Any, frontend: Any, bind: Any, sock: Any,
                 settings: QuicSettings, ctx: Any, txmem: TxMemory) -> None:
        self.engine = engine
        self.frontend = frontend
        self.bind = bind
        self.sock = sock
        self.settings = settings
        self.ctx = ctx
        self.txmem = txmem
        self.closed = False
        self.accepting = False
        #: the bind's counters under ``option socket-stats`` (set by the engine), else None
        self.stats: Any = None
        self.conns: set[H3Connection] = set()
        self.local = _ip(sock.getsockname())
        codecs = [c for c in engine.config.registry.all(Codec) if c.protocol == "h3"]
        self.h3_factory = codecs[0].factory if codecs else AioH3
        sock.setblocking(False)
        _buffers(sock)
        rules = frontend.settings.get(INITIAL_KEY)
        #: quic-initial rules (None: none), and the Retry tokens of their send-retry
        self.initial = InitialRules(rules, frontend, self, self.local) if rules else None
        self.retry_tokens = QuicRetryTokenHandler()
        qcfg = configuration(settings, bind)
        # (aioquic asks it for a per-connection log: one only while quic/h3 traces run)
        qcfg.quic_logger = TraceLogger(frontend, self)
        self.server = _Server(self, configuration=qcfg, create_protocol=self._protocol,
                              retry=bool(bind.opt("quic-force-retry")))
        self.transport: Any = None
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(loop.create_datagram_endpoint(lambda: self.server,
                                                                    sock=sock))
        self._task.add_done_callback(self._bound)

    @property
    def name(self) -> str:
        return f"{self.local[0]}:{self.local[1]}"

    def _bound(self, task: asyncio.Task) -> None:
        if task.cancelled() or task.exception() is not None:
            self.closed = True
            return
        self.transport = task.result()[0]
        if self.closed and not self.conns:
            self.transport.close()

    def _protocol(self, quic: Any, stream_handler: Any = None) -> H3Connection:
        conn = adopt(quic, self.settings, getattr(self.bind, "tls", None))
        limit = conn._local_max_streams_bidi
        limit.value = limit.sent = self.settings.max_streams_bidi
        proto = H3Connection(conn, self)
        self.conns.add(proto)
        return proto

    def conn_ended(self, conn: H3Connection) -> None:
        self.conns.discard(conn)
        if self.closed and not self.conns and self.transport is not None:
            self.transport.close()

    # -- engine -----------------------------------------------------------------------------
    def resume(self) -> None:
        if not self.closed:
            self.accepting = True

    def pause(self) -> None:
        self.accepting = False

    def close(self) -> None:
        """Stop accepting; the UDP socket stays open for the connections still running
        (their datagrams arrive on it) and closes with the last one."""
        self.accepting = False
        if self.closed:
            return
        self.closed = True
        if not self.conns and self.transport is not None:
            self.transport.close()
