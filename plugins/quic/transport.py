"""What hapx changes in aioquic's QUIC connection: receive windows that follow what the
proxy consumed, pacing on or off, and the certificate chosen by SNI with its TLS options
(:mod:`.tlsopts`).

aioquic grants flow-control credit as data *arrives* (it doubles a window once half of it is
used), so a client could push any amount into a proxy that cannot forward it.  Here credit
follows what the HTTP/3 layer *released*: a request stream whose server side is paused
holds its bytes (``hold``), and the windows advertised are ``consumed + window`` for the
connection (MAX_DATA) and for each stream (MAX_STREAM_DATA).  The stream window is
``tune.quic.frontend.stream-data-ratio`` percent of the connection window (HAProxy 3.2's
upload speed-up: one stream may use most of the connection's credit instead of a single
buffer).

aioquic's ``QuicServer`` creates plain ``QuicConnection`` objects; :func:`adopt` turns one
into a :class:`HapxQuicConnection` (same state, the methods below) before its first
datagram is processed.
"""

from __future__ import annotations

from typing import Any

from aioquic.buffer import Buffer
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import AlertHandshakeFailure, pull_client_hello
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from .settings import QuicSettings
from .tlsopts import options_of


class _NoPacing:
    """aioquic's pacer, disabled (tune.quic.disable-tx-pacing): every packet may leave at
    once, the congestion window still applies."""

    def __init__(self, pacer: Any) -> None:
        self._pacer = pacer

    def next_send_time(self, now: float) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pacer, name)


def configuration(settings: QuicSettings, bind: Any) -> QuicConfiguration:
    """The aioquic server configuration of one QUIC bind (the default certificate of the
    bind's TLS set: the first one, as on TCP binds; SNI picks others per connection)."""
    alpn = list(bind.opt("alpn") or ["h3"])
    cfg = QuicConfiguration(is_client=False, alpn_protocols=alpn,
                            congestion_control_algorithm=settings.cc_algo,
                            idle_timeout=settings.idle_timeout,
                            max_data=settings.conn_window,
                            max_stream_data=settings.stream_window)
    entry = bind.tls.entries[0]
    cfg.certificate, cfg.certificate_chain, cfg.private_key = _cert(entry.ck)
    return cfg


_KEYS: dict[int, Any] = {}


def _cert(ck: Any) -> tuple[Any, list[Any], Any]:
    key = _KEYS.get(id(ck))
    if key is None:
        key = _KEYS[id(ck)] = load_pem_private_key(ck.key_pem, password=None)
    return ck.leaf, list(ck.certs[1:]), key


class HapxQuicConnection(QuicConnection):
    """A server-side QUIC connection with hapx's flow control, pacing and SNI."""

    hx_settings: QuicSettings
    hx_tls: Any
    #: request stream id -> bytes received but not released by the HTTP/3 layer
    hx_held: dict[int, int]
    hx_held_total: int
    hx_sni: str | None
    #: packets declared lost (show quic)
    hx_lost: int

    def hold(self, stream_id: int, size: int) -> None:
        """``size`` bytes of ``stream_id`` were received and are not consumed yet."""
        self.hx_held[stream_id] = self.hx_held.get(stream_id, 0) + size
        self.hx_held_total += size

    def release(self, stream_id: int) -> int:
        """The bytes held for ``stream_id`` were consumed: grant the credit again."""
        size = self.hx_held.pop(stream_id, 0)
        self.hx_held_total -= size
        return size

    # -- flow control -----------------------------------------------------------------------
    def _write_connection_limits(self, builder: Any, space: Any) -> None:
        limit = self._local_max_data
        target = limit.used - self.hx_held_total + self.hx_settings.conn_window
        if target > limit.value:
            limit.value = target
        used = limit.used
        limit.used = 0  # (aioquic would double the window on what arrived)
        try:
            super()._write_connection_limits(builder, space)
        finally:
            limit.used = used

    def _write_stream_limits(self, builder: Any, space: Any, stream: Any) -> None:
        if stream.max_stream_data_local:
            receiver = stream.receiver
            seen = receiver.highest_offset
            target = seen - self.hx_held.get(stream.stream_id, 0) + \
                self.hx_settings.stream_window
            if target > stream.max_stream_data_local:
                stream.max_stream_data_local = target
            receiver.highest_offset = 0  # (aioquic would double the window on arrival)
            try:
                super()._write_stream_limits(builder, space, stream)
            finally:
                receiver.highest_offset = seen
        else:
            super()._write_stream_limits(builder, space, stream)

    # -- TLS: the certificate chosen by SNI -------------------------------------------------------
    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        loss = self._loss
        if not self.hx_settings.pacing:
            loss._pacer = _NoPacing(loss._pacer)
        lost = loss._on_packets_lost

        def on_lost(**kw: Any) -> None:
            packets = kw.get("packets") or ()
            packets = list(packets)
            kw["packets"] = packets
            self.hx_lost += len(packets)
            lost(**kw)

        loss._on_packets_lost = on_lost
        tls = self.tls
        handle_hello = tls._server_handle_hello
        bind_tls = self.hx_tls

        def server_hello(input_buf: Buffer, initial_buf: Buffer,
                         handshake_buf: Buffer) -> None:
            pos = input_buf.tell()
            try:
                hello = pull_client_hello(input_buf)
                name = hello.server_name
            except Exception:  # noqa: BLE001 - aioquic reports the bad hello itself
                name = None
            input_buf.seek(pos)
            self.hx_sni = name
            entry = bind_tls.select(name.lower() if name else None) if bind_tls else None
            if entry is None and bind_tls is not None:
                raise AlertHandshakeFailure("no certificate matches the SNI (strict-sni)")
            if entry is not None:
                tls.certificate, tls.certificate_chain, tls.certificate_private_key = \
                    _cert(entry.ck)
                opts = options_of(entry)
                if opts is None:
                    raise AlertHandshakeFailure("the certificate's TLS options cannot "
                                                "apply to QUIC")
                if not opts.empty:
                    opts.apply(tls)
            handle_hello(input_buf, initial_buf, handshake_buf)

        tls._server_handle_hello = server_hello


def adopt(conn: QuicConnection, settings: QuicSettings, bind_tls: Any) -> HapxQuicConnection:
    """Give a connection aioquic's server just created hapx's behaviour."""
    conn.__class__ = HapxQuicConnection
    assert isinstance(conn, HapxQuicConnection)
    conn.hx_settings = settings
    conn.hx_tls = bind_tls
    conn.hx_held = {}
    conn.hx_held_total = 0
    conn.hx_sni = None
    conn.hx_lost = 0
    return conn
