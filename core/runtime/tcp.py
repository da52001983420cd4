"""``mode tcp``: one stream per client connection.

At accept, ``tcp-request connection`` rules run; then ``tcp-request content`` rules, which may
wait for data up to ``tcp-request inspect-delay``; the backend comes from the frontend's
switching rules, the server from the backend's balancer; the connection to it is opened
with ``timeout connect`` and ``retries``.  Data then flows both ways with backpressure (a
side stops reading while the other side's write buffer is above its high-water mark), and a
half-close on one side is passed to the other.  At the end the stream's timers, byte counts
and termination state are set and the frontend's ``stream_end`` observers run (logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from typing import Any

from ..records import ActResult
from ..rules import run_rules
from ..stream import Session, Stream
from .accounting import assign_backend, assign_server, release
from .http_server import pick_server, server_state

TCP_CONN = "tcp-request connection"
TCP_CONTENT = "tcp-request content"
#: bytes buffered from the client while the server connection is being set up
PENDING_MAX = 256 * 1024


def _addr(info: Any) -> tuple[Any, int]:
    import ipaddress

    if isinstance(info, tuple) and len(info) >= 2:
        try:
            return ipaddress.ip_address(info[0]), int(info[1])
        except ValueError:
            return None, 0
    return None, 0


class _Side:
    """State of one direction's end: transport, EOF seen, bytes moved."""

    __slots__ = ("transport", "eof", "closed", "bytes")

    def __init__(self) -> None:
        self.transport: Any = None
        self.eof = False
        self.closed = False
        self.bytes = 0


class TcpFrontendContext:
    """What every connection of one frontend shares, computed once."""

    def __init__(self, engine: Any, frontend: Any) -> None:
        self.engine = engine
        self.frontend = frontend
        self.config = engine.config
        t = frontend.timeouts
        self.t_client = t.get("client")
        self.t_client_fin = t.get("client-fin")
        self.conn_rules = frontend.rules.get(TCP_CONN, [])
        self.content_rules = frontend.rules.get(TCP_CONTENT, [])
        self.inspect_delay = frontend.settings.get("tcp-request inspect-delay") or 0
        self.switching = frontend.settings.get("switching")


class TcpClient(asyncio.Protocol):
    """The client side of a TCP stream (and the owner of the whole stream)."""

    def __init__(self, ctx: TcpFrontendContext) -> None:
        self.ctx = ctx
        self.cli = _Side()
        self.srv = _Side()
        self.server_proto: TcpServer | None = None
        self.pending: list[bytes] = []
        self.pending_len = 0
        self.strm: Stream | None = None
        self.t0 = time.monotonic()
        self.timer: asyncio.TimerHandle | None = None
        self.inspect_deadline = 0.0
        self.inspect_timer: asyncio.TimerHandle | None = None
        self.deciding = True
        self.finished = False
        self.term = "--"
        self.connect_task: asyncio.Task | None = None

    # -- client events -------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.cli.transport = transport
        ctx = self.ctx
        src, sport = _addr(transport.get_extra_info("peername"))
        dst, dport = _addr(transport.get_extra_info("sockname"))
        sess = Session(src=src, src_port=sport, dst=dst, dst_port=dport,
                       frontend=ctx.frontend)
        self.strm = Stream(sess=sess, frontend=ctx.frontend, proc=ctx.engine.proc)
        self.strm.timers.update({"Tw": -1, "Tc": -1, "Tt": -1})
        if ctx.conn_rules:
            verdict = run_rules(ctx.conn_rules, self.strm)
            if verdict in (ActResult.DENY, ActResult.ABORT, ActResult.ERROR):
                self.strm.counters["denied_conn"] = 1
                transport.abort()
                self.finished = True  # HAProxy does not log rejected connections
                return
        self.inspect_deadline = self.t0 + ctx.inspect_delay / 1000
        self.arm_client_timeout()
        self.decide()

    def data_received(self, data: bytes) -> None:
        self.cli.bytes += len(data)
        self.arm_client_timeout()
        if self.deciding or self.srv.transport is None:
            self.pending.append(data)
            self.pending_len += len(data)
            assert self.strm is not None
            self.strm.req_buffer += data
            if self.pending_len > PENDING_MAX:
                self.cli.transport.pause_reading()
            if self.deciding:
                self.decide()
            return
        self.srv.transport.write(data)

    def eof_received(self) -> bool:
        self.cli.eof = True
        if self.deciding:
            self.decide(final=True)
        elif self.srv.transport is not None and not self.pending:
            with contextlib.suppress(OSError, RuntimeError):
                self.srv.transport.write_eof()
        self.maybe_finish()
        return True  # keep our write side open for the server's answer

    def connection_lost(self, exc: Exception | None) -> None:
        self.cli.closed = True
        if not self.finished and self.term == "--":
            self.term = "CD" if self.srv.transport is not None else "CC"
            if exc is None and self.cli.eof:
                self.term = "--"
        if self.srv.transport is not None and not self.srv.closed:
            if self.srv.eof or self.cli.eof:
                with contextlib.suppress(OSError, RuntimeError):
                    self.srv.transport.write_eof()
                self.srv.transport.close()
            else:
                self.srv.transport.abort()
        if self.connect_task is not None and not self.connect_task.done():
            self.connect_task.cancel()
        self.finish()

    def pause_writing(self) -> None:
        if self.srv.transport is not None:
            self.srv.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.srv.transport is not None and not self.srv.closed:
            self.srv.transport.resume_reading()

    def soft_stop(self) -> None:
        """TCP streams are left to finish by themselves on a graceful stop."""

    # -- timeouts ------------------------------------------------------------------------------
    def arm_client_timeout(self) -> None:
        timeout = self.ctx.t_client
        if self.cli.eof and self.ctx.t_client_fin:
            timeout = self.ctx.t_client_fin
        self.arm(timeout, "cD")

    def arm(self, ms: int | None, term: str) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if ms:
            loop = asyncio.get_running_loop()
            self.timer = loop.call_later(ms / 1000, self.expire, term)

    def expire(self, term: str) -> None:
        self.timer = None
        if self.deciding:
            self.decide(final=True)
            return
        self.term = term if self.srv.transport is not None else "cR"
        self.abort_both()

    def abort_both(self) -> None:
        if self.cli.transport is not None and not self.cli.closed:
            self.cli.transport.abort()
        if self.srv.transport is not None and not self.srv.closed:
            self.srv.transport.abort()

    # -- content rules, backend and server ----------------------------------------------------
    def decide(self, final: bool = False) -> None:
        ctx = self.ctx
        strm = self.strm
        assert strm is not None
        if ctx.content_rules:
            final = final or time.monotonic() >= self.inspect_deadline
            verdict = run_rules(ctx.content_rules, strm, final=final)
            if verdict == ActResult.YIELD:
                if self.inspect_timer is None:
                    loop = asyncio.get_running_loop()
                    self.inspect_timer = loop.call_later(
                        max(0.0, self.inspect_deadline - time.monotonic()), self.decide, True)
                return
            if verdict in (ActResult.DENY, ActResult.ABORT, ActResult.ERROR):
                self.deciding = False
                self.term = "PR"
                strm.counters["denied_req"] = 1
                self.cli.transport.abort()
                return
        if not self.deciding:
            return
        self.deciding = False
        if self.inspect_timer is not None:
            self.inspect_timer.cancel()
            self.inspect_timer = None
        backend = ctx.switching(strm) if ctx.switching is not None else None
        if backend is None and ctx.frontend.is_backend:
            backend = ctx.frontend
        if backend is None:
            self.term = "SC"
            self.cli.transport.abort()
            return
        strm.backend = backend
        assign_backend(strm, backend)
        self.connect_task = asyncio.get_running_loop().create_task(self.connect(backend))

    async def connect(self, backend: Any) -> None:
        strm = self.strm
        assert strm is not None
        retries = int(backend.settings.get("retries", 3))
        timeout = backend.timeouts.get("connect")
        t_start = time.monotonic()
        strm.timers["Tw"] = 0
        last_error = "SC"
        interval = backend.settings.get("redispatch", -1) if backend.options.get(
            "redispatch") else 0
        for attempt in range(retries + 1):
            redispatch = attempt > 0 and interval != 0 and (
                attempt % interval == 0 if interval > 0 else attempt == retries)
            srv = strm.server if attempt and not redispatch else None
            if srv is None:
                srv = pick_server(backend, strm)
            if redispatch:
                strm.redispatched = True
            if srv is None:
                last_error = "SC"
                break
            strm.server = srv
            assign_server(strm, srv)
            try:
                await self.open(srv, strm, timeout)
            except (OSError, TimeoutError):
                strm.conn_retries = attempt + 1 if attempt < retries else attempt
                last_error = "SC"
                continue
            strm.timers["Tc"] = int((time.monotonic() - t_start) * 1000)
            self.connected()
            return
        self.term = last_error
        if not self.cli.closed:
            self.cli.transport.abort()

    async def open(self, srv: Any, strm: Stream, timeout: int | None) -> None:
        loop = asyncio.get_running_loop()
        addr = srv.address
        proto = TcpServer(self)
        if addr.family == "unix":
            coro = loop.create_unix_connection(lambda: proto, addr.path)
        else:
            host = str(addr.ip) if addr.ip is not None else addr.host
            port = addr.port
            if port is None:
                port = strm.sess.dst_port
            if getattr(addr, "port_offset", None):
                port = strm.sess.dst_port + addr.port_offset
            coro = loop.create_connection(lambda: proto, host, port)
        if timeout:
            await asyncio.wait_for(coro, timeout / 1000)
        else:
            await coro
        self.server_proto = proto

    def connected(self) -> None:
        if self.cli.closed:
            self.srv.transport.close()
            return
        for chunk in self.pending:
            self.srv.transport.write(chunk)
        self.pending.clear()
        self.pending_len = 0
        self.cli.transport.resume_reading()
        if self.cli.eof:
            with contextlib.suppress(OSError, RuntimeError):
                self.srv.transport.write_eof()
        self.arm_data_timeout()

    def arm_data_timeout(self) -> None:
        backend = self.strm.backend if self.strm is not None else None
        t = backend.timeouts if backend is not None else {}
        tunnel = t.get("tunnel") or self.ctx.frontend.timeouts.get("tunnel")
        if tunnel:
            self.arm(tunnel, "cD")
            return
        # the shorter of both sides' inactivity timeouts triggers first
        client, server = self.ctx.t_client, t.get("server")
        if client and (not server or client <= server):
            self.arm(client, "cD")
        elif server:
            self.arm(server, "sD")

    # -- server events (called by TcpServer) ------------------------------------------------------
    def server_made(self, transport: Any) -> None:
        self.srv.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.strm is not None
        server_state(self.strm.server).cur_conn += 1

    def server_data(self, data: bytes) -> None:
        self.srv.bytes += len(data)
        self.arm_data_timeout()
        if not self.cli.closed:
            self.cli.transport.write(data)

    def server_eof(self) -> None:
        self.srv.eof = True
        if not self.cli.closed:
            with contextlib.suppress(OSError, RuntimeError):
                self.cli.transport.write_eof()
        self.maybe_finish()

    def server_lost(self, exc: Exception | None) -> None:
        self.srv.closed = True
        assert self.strm is not None
        if self.strm.server is not None:
            server_state(self.strm.server).cur_conn -= 1
        if not self.cli.closed:
            if exc is not None and not self.srv.eof:
                if self.term == "--":
                    self.term = "SD"
                self.cli.transport.abort()
            else:
                with contextlib.suppress(OSError, RuntimeError):
                    self.cli.transport.write_eof()
                if self.cli.eof:
                    self.cli.transport.close()

    def server_pause_writing(self) -> None:
        if not self.cli.closed:
            self.cli.transport.pause_reading()

    def server_resume_writing(self) -> None:
        if not self.cli.closed:
            self.cli.transport.resume_reading()

    # -- end ---------------------------------------------------------------------------------------
    def maybe_finish(self) -> None:
        if self.cli.eof and self.srv.eof:
            if not self.cli.closed:
                self.cli.transport.close()
            if self.srv.transport is not None and not self.srv.closed:
                self.srv.transport.close()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        strm = self.strm
        if strm is None:
            return
        strm.timers["Tt"] = int((time.monotonic() - self.t0) * 1000)
        strm.counters["bytes_in"] = self.cli.bytes
        strm.counters["bytes_out"] = self.srv.bytes
        strm.term_state = self.term
        release(strm)
        for observer in self.ctx.frontend.stream_end:
            observer(strm)


class TcpServer(asyncio.Protocol):
    """The server side of a TCP stream: forwards its events to the client side."""

    def __init__(self, owner: TcpClient) -> None:
        self.owner = owner

    def connection_made(self, transport: Any) -> None:
        self.owner.server_made(transport)

    def data_received(self, data: bytes) -> None:
        self.owner.server_data(data)

    def eof_received(self) -> bool:
        self.owner.server_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner.server_lost(exc)

    def pause_writing(self) -> None:
        self.owner.server_pause_writing()

    def resume_writing(self) -> None:
        self.owner.server_resume_writing()


def frontend_factory(engine: Any, frontend: Any) -> Any:
    """The protocol factory for ``frontend``'s listeners (``mode tcp``)."""
    ctx = TcpFrontendContext(engine, frontend)

    def factory() -> TcpClient:
        return TcpClient(ctx)
    return factory
