"""The server side of the HTTP/1 data path: server connections (an asyncio Protocol with a
response parser), the pool of idle connections shared across clients, server choice and
connection establishment with ``timeout connect`` and retries.
"""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

from ..proto.h1 import H1Error, H1Limits, chunk
from ..trace import USER
from .backend import connect_options, server_target
from .errcapture import capture
from .ktraces import H1_TRACE, h1_head_detail
from .queue import conn_closed, conn_opened


class ServerConnection(asyncio.Protocol):
    """One connection to a server.  ``owner`` is the transaction using it (it receives the
    response events), None while the connection is idle in a pool."""

    #: False: one request at a time.  A multiplexed connection (HTTP/2) in a pool has
    #: ``open_stream()`` (a new stream: the server side of one transaction, or None) and
    #: ``available()``; its streams have ``release()`` (the response ended).
    multiplexed = False

    def __init__(self, server: Any, codec: Any, limits: H1Limits,
                 relaxed: bool = False) -> None:
        self.server = server
        self.transport: Any = None
        #: ``relaxed``: the backend's option accept-unsafe-violations-in-http-response
        self.parser = codec(self, response=True, limits=limits, relaxed=relaxed)
        self.owner: Any = None
        self.closed = False
        self.tunnel: Any = None
        self.reused = False
        self.uses = 0
        self.private_to: Any = None
        self.write_paused = False
        #: the port of the server's address (0 when unknown)
        self.peer_port = 0
        #: (host, port) for a server written without a fixed port (see target_key)
        self.target: Any = None
        #: True when the connection ended on an error (reset) rather than a close
        self.reset = False
        #: HTTP major version spoken on the connection
        self.http_major = 1

    # -- asyncio -----------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
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

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.from_server(data)
            return
        owner = self.owner
        if owner is None:
            # an idle connection receiving data is unusable
            self.close()
            return
        client = owner.client
        # what this data makes the transaction send to its client goes out in one write
        client.cork()
        try:
            self.parser.feed(data)
        except H1Error:
            if owner.backend is not None:
                capture(owner.backend, data, response=True, sess=owner.strm.sess,
                        other=owner.ctx.frontend, server=self.server,
                        bufsize=owner.ctx.bufsize)
            owner.server_error(self, "bad")
        finally:
            client.uncork()
        if self.owner is owner and not owner.finished:
            # the response goes on in a later read: timeout server counts from now
            owner.touch_server_timer()

    def eof_received(self) -> bool:
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.reset = exc is not None
        conn_closed(self.server, self.transport)
        pool = getattr(self.server, "_hapx_pool", None)
        if pool is not None and self in pool.idle:
            pool.idle.remove(self)
        if self.tunnel is not None:
            self.tunnel.server_closed()
        elif self.owner is not None:
            self.owner.server_closed(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.owner is not None:
            self.owner.server_pause_writing()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.owner is not None:
            self.owner.server_resume_writing()

    # -- response parser callbacks (forwarded to the owner) ---------------------------------------
    def on_message_begin(self) -> None:
        pass

    def on_headers(self, status: Any, reason: str, version: str,
                   headers: list[tuple[str, str]]) -> None:
        if H1_TRACE.on:
            H1_TRACE.trace(USER, "rx_headers", "rcvd H1 response headers", h1_head_detail(
                "B", f"HTTP/{version} {status} {reason}", headers), self._lock())
        self.owner.on_response_headers(status, reason, version, headers)

    def on_body(self, chunk: bytes) -> None:
        self.owner.on_response_body(chunk)

    def on_trailers(self, fields: list[tuple[str, str]]) -> None:
        res = self.owner.strm.res if self.owner is not None else None
        if res is not None:
            res.trailers = fields

    def on_message_complete(self) -> None:
        self.owner.on_response_complete()

    def on_upgrade(self, rest: bytes) -> None:
        if self.owner is not None:
            self.owner.on_response_upgrade(rest)

    # -- the request towards the server (the server side of the message model) -------------------
    # Every server side of a transaction (this HTTP/1 connection, a stream of an HTTP/2
    # connection) offers send_head, send_data, send_end, pause_reading and resume_reading.
    def send_head(self, txn: Any, upgrade: bool) -> int:
        """Send the request head of ``txn``; returns its size."""
        self.parser.expect(txn.req.method, upgrade)
        head = txn._request_head(upgrade)
        if H1_TRACE.on:
            req = txn.req
            H1_TRACE.trace(USER, "tx_headers", "sending request headers", h1_head_detail(
                "B", f"{req.method} {req.uri} HTTP/{req.version}", req.headers), self._lock())
        if not self.closed:
            self.transport.write(head)  # (self.write)
        return len(head)

    def _lock(self) -> dict[str, Any]:
        """The lock-on objects of this connection's trace events."""
        strm = getattr(self.owner, "strm", None)
        return {"server": self.server, "connection": self,
                "backend": getattr(strm, "backend", None),
                "frontend": getattr(strm, "frontend", None)}

    def send_data(self, txn: Any, data: bytes) -> None:
        self.write(chunk(data) if txn.req_chunked else data)

    def send_end(self, txn: Any) -> None:
        """The request ended: the last chunk (with trailers) of a chunked one."""
        if txn.req_chunked:
            self.write(txn._req_last_chunk())

    def pause_reading(self) -> None:
        if not self.closed:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.closed:
            self.transport.resume_reading()

    # -- helpers -----------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.closed:
            self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


class AlpnChooser(asyncio.Protocol):
    """The protocol of a TLS server connection whose HTTP version the server chooses by
    ALPN (``server … ssl alpn h2,http/1.1``): once the handshake is done it reads the
    negotiated protocol, builds the connection object speaking it (a multiplexed codec's
    connection from ``muxes[alpn]``, else ``h1()``: HTTP/1.1, as when no ALPN is agreed)
    and hands it the transport.  ``chosen`` is that object.  ``expect`` is a connection
    object made in advance for the protocol ``token`` the server chose last time (so that
    streams could share it while it was being established): it is chosen when the server
    chooses ``token`` again, else it fails (its streams are retried).  The server's
    choice is remembered as ``server._hapx_alpn_seen``."""

    def __init__(self, server: Any, muxes: dict[str, Any], h1: Any, shared: bool,
                 expect: Any = None, token: str | None = None) -> None:
        self.server = server
        self.muxes = muxes
        self.h1 = h1
        self.shared = shared
        self.expect = expect
        self.token = token
        self.chosen: Any = None

    def connection_made(self, transport: Any) -> None:
        tls = transport.get_extra_info("ssl_object")
        alpn = tls.selected_alpn_protocol() if tls is not None else None
        self.server._hapx_alpn_seen = alpn
        if self.expect is not None and alpn == self.token:
            proto = self.expect
        else:
            if self.expect is not None:
                self.expect.failed()
            mux = self.muxes.get(alpn) if alpn else None
            proto = mux("backend", self.server).new_connection(self.shared) \
                if mux is not None else self.h1()
        self.chosen = proto
        transport.set_protocol(proto)
        proto.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.chosen is not None:
            self.chosen.connection_lost(exc)


class ServerPool:
    """Idle connections of one server, shared by every client (http-reuse)."""

    __slots__ = ("idle",)

    def __init__(self) -> None:
        self.idle: list[ServerConnection] = []

    def take(self, private_to: Any = None, shared: bool = True,
             target: Any = None) -> ServerConnection | None:
        idle = self.idle
        if idle and shared:
            conn = idle[-1]
            if not conn.closed and conn.private_to is None and conn.target == target and \
                    not conn.multiplexed:
                # the common case: the last idle connection is shared and fits (what the
                # loop below finds first)
                del idle[-1]
                return conn
        for i in range(len(self.idle) - 1, -1, -1):
            conn = self.idle[i]
            if conn.closed:
                del self.idle[i]
                continue
            if conn.private_to is not None and conn.private_to is not private_to:
                continue
            if conn.private_to is None and not shared:
                continue
            if conn.target != target:
                continue
            if conn.multiplexed:
                stream = conn.open_stream()
                if stream is None or not conn.available():
                    del self.idle[i]
                if stream is None:
                    continue
                return stream
            del self.idle[i]
            return conn
        return None

    def put(self, conn: ServerConnection, private_to: Any = None) -> None:
        if conn.multiplexed:
            # a stream: its connection goes back to the pool while it can take more
            conn.release()
            return
        conn.owner = None
        conn.private_to = private_to
        conn.reused = True
        if conn.write_paused:
            conn.close()
            return
        self.idle.append(conn)

    def drop_private(self, private_to: Any) -> None:
        keep = []
        for conn in self.idle:
            if conn.private_to is private_to:
                conn.close()
            else:
                keep.append(conn)
        self.idle = keep


def pool_of(srv: Any) -> ServerPool:
    pool = getattr(srv, "_hapx_pool", None)
    if pool is None:
        pool = ServerPool()
        srv._hapx_pool = pool
    return pool


def target_key(srv: Any, strm: Any) -> Any:
    """None for a server with a fixed address; for a server written without a port (or
    with a ``+N``/``-N`` offset) the (host, port) this stream goes to, since the port
    follows the client's destination port: idle connections are reused only for the
    same target.  A server transport's ``pool_key(strm)`` (e.g. the TLS SNI sent) is part
    of the key: a connection made with another SNI is not reused."""
    transport = getattr(srv, "transport", None)
    extra = transport.pool_key(strm) if transport is not None else None
    addr = srv.address
    if (addr.port is not None and addr.port_offset is None) or \
            addr.family in ("unix", "abns", "abnsz"):
        where = None
    else:
        where = server_target(srv, strm)[1]
    return where if extra is None else (where, extra)


async def connect(srv: Any, factory: Any, timeout_ms: int | None,
                  strm: Any = None) -> ServerConnection:
    """Open a connection to ``srv`` within ``timeout_ms`` (None: no limit).  A server
    written without a port uses the client's destination port (``strm.sess.dst_port``),
    ``+N``/``-N`` offsets are relative to it."""
    loop = asyncio.get_running_loop()
    addr = srv.address
    target = None
    extra = connect_options(srv, strm)
    if addr.family == "unix" or addr.path:
        coro = loop.create_unix_connection(factory, addr.path, **extra)
    elif strm is not None and (addr.port is None or addr.port_offset is not None):
        kind, target = server_target(srv, strm)
        coro = loop.create_connection(factory, *target, **extra)
    else:
        host = str(addr.ip) if addr.ip is not None else addr.host
        coro = loop.create_connection(factory, host, addr.port, **extra)
    t0 = time.monotonic()
    if timeout_ms:
        _tr, proto = await asyncio.wait_for(coro, timeout_ms / 1000)
    else:
        _tr, proto = await coro
    # an ALPN-chosen connection: the object speaking the negotiated protocol
    proto = getattr(proto, "chosen", None) or proto
    proto.connect_ms = int((time.monotonic() - t0) * 1000)
    proto.target = target_key(srv, strm) if strm is not None else target
    return proto
