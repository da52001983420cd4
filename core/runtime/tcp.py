"""``mode tcp``: one stream per client connection.

At accept, ``tcp-request connection`` then ``tcp-request session`` rules run; then the
frontend's ``tcp-request content`` rules, which may wait for data up to ``tcp-request
inspect-delay``; the backend comes from the frontend's switching rules, then the backend's
own ``tcp-request content`` rules run; the server comes from the backend's balancer and the
connection to it is opened with ``timeout connect``, ``retries`` and ``option redispatch``.
Data then flows both ways with backpressure (a side stops reading while the other side's
write buffer is above its high-water mark), a half-close on one side is passed to the other
and the stream ends when both directions are done.  ``tcp-response content`` rules of the
backend see the server's first data (up to ``tcp-response inspect-delay``).

Timeouts follow HAProxy: a side's inactivity timeout (``timeout client`` for the client,
``timeout server`` for the server, both replaced by the backend's ``timeout tunnel`` once
the server is connected) is pushed back by any transfer on that side, and in TCP mode data
moving one way counts as activity on both; once a side is half-closed its timeout becomes
``timeout client-fin`` / ``timeout server-fin``.

A ``use-service`` action leaves ``strm.ext["service"]``: a TCP service applet is a callable
``applet(strm, transport) -> asyncio.Protocol`` that serves the rest of the connection (the
data received so far is passed to its ``data_received`` first).

At the end the stream's timers, byte counts and termination state are set and the
frontend's ``stream_end`` observers run (logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import time
from typing import Any

from ..records import ActResult
from ..rules import run_rules
from ..stream import ServerConn, Session, Stream
from ..trace import PROTO
from . import live, tevents
from .accounting import assign_backend, release
from .backend import ConnectError, choose_backend, connect_server
from .ktraces import STREAM_TRACE, stream_detail, stream_lock
from .queue import (
    NoSlot,
    Pending,
    acquire,
    conn_closed,
    conn_opened,
    free_slot,
    hash_based,
    is_direct,
)
from .retry import conn_error, policy_for
from .timers import timers_of
from .waits import take_wake

TCP_CONN = "tcp-request connection"
TCP_SESS = "tcp-request session"
TCP_CONTENT = "tcp-request content"
TCP_RES_CONTENT = "tcp-response content"
#: bytes buffered from a side while the other is not ready (rules, connection)
PENDING_MAX = 256 * 1024
_STOP = (ActResult.DENY, ActResult.ABORT, ActResult.ERROR)

# phases of a stream
FE_RULES, BE_RULES, CONNECTING, FORWARDING, SERVICE, DONE = range(6)


def _addr(info: Any) -> tuple[Any, int]:
    if isinstance(info, tuple) and len(info) >= 2:
        try:
            return ipaddress.ip_address(info[0]), int(info[1])
        except ValueError:
            return None, 0
    return None, 0


class _Side:
    """One end of the stream: its transport, whether it sent EOF (``eof``), whether we shut
    our writing towards it (``shut``), whether it is closed, and the bytes it sent."""

    __slots__ = ("transport", "eof", "shut", "closed", "bytes", "pending", "pending_len",
                 "strm", "back")

    def __init__(self, back: bool = False) -> None:
        #: the stream whose termination events this side's shutdowns go to, and its side
        self.strm: Any = None
        self.back = back
        self.transport: Any = None
        self.eof = False
        self.shut = False
        self.closed = False
        self.bytes = 0
        self.pending: list[bytes] = []
        self.pending_len = 0

    def write(self, data: bytes) -> None:
        if not self.closed and not self.shut:
            self.transport.write(data)

    def _shut_event(self) -> None:
        strm = self.strm
        if strm is None:
            return
        if self.back:
            tevents.back(strm, tevents.SHUTW)
            tevents.bse(strm, tevents.SHUTW)
            tevents.bc(strm, tevents.SHUTW)
        else:
            tevents.front(strm, tevents.SHUTW)
            tevents.fse(strm, tevents.SHUTW)

    def write_eof(self) -> None:
        if self.closed or self.shut:
            return
        self.shut = True
        self._shut_event()
        with contextlib.suppress(OSError, RuntimeError, AttributeError):
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:  # TLS: no half-close, close_notify after the pending data
                self.transport.close()

    def pause(self) -> None:
        if self.transport is not None and not self.closed:
            with contextlib.suppress(RuntimeError, AttributeError):
                self.transport.pause_reading()

    def resume(self) -> None:
        if self.transport is not None and not self.closed:
            with contextlib.suppress(RuntimeError, AttributeError):
                self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None and not self.closed:
            if not self.shut:
                self._shut_event()
            self.transport.abort()


class TcpFrontendContext:
    """What every connection of one frontend shares, computed once."""

    def __init__(self, engine: Any, frontend: Any) -> None:
        self.engine = engine
        self.frontend = frontend
        t = frontend.timeouts
        self.t_client = t.get("client")
        self.t_client_fin = t.get("client-fin")
        self.conn_rules = frontend.rules.get(TCP_CONN, [])
        self.sess_rules = frontend.rules.get(TCP_SESS, [])
        self.content_rules = frontend.rules.get(TCP_CONTENT, [])
        self.inspect_delay = frontend.settings.get("tcp-request inspect-delay") or 0


class TcpClient(asyncio.Protocol):
    """The client side of a TCP stream, and the owner of the whole stream."""

    #: the engine's Listener that accepted the connection (set before connection_made)
    listener: Any = None

    def __init__(self, ctx: TcpFrontendContext) -> None:
        self.ctx = ctx
        self.cli = _Side()
        self.srv = _Side(back=True)
        self.strm: Stream | None = None
        self.phase = FE_RULES
        self.t0 = time.monotonic()
        self.wheel = timers_of()
        self.timer: Any = None
        self.idle_ms = 0
        self.idle_term = "cD"
        self.inspect: Any = None
        self.res_deciding = False
        self.res_inspect: Any = None
        self.service: Any = None
        self.srv_counted = False
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
                       frontend=ctx.frontend, listener=self.listener,
                       ssl=transport.get_extra_info("ssl_object"))
        strm = self.strm = Stream(sess=sess, frontend=ctx.frontend, proc=ctx.engine.proc)
        self.cli.strm = self.srv.strm = strm
        strm.timers.update({"Tw": -1, "Tc": -1, "Tt": -1})
        # rejected connections and sessions are not logged, as in HAProxy
        if ctx.conn_rules and run_rules(ctx.conn_rules, strm, final=True) in _STOP:
            strm.counters["denied_conn"] = 1
            self.drop()
            return
        if ctx.sess_rules and run_rules(ctx.sess_rules, strm, final=True) in _STOP:
            strm.counters["denied_sess"] = 1
            self.drop()
            return
        live.add(self)
        self.idle_ms, self.idle_term = ctx.t_client or 0, "cR"
        if self.idle_ms:
            self.timer = self.wheel.schedule(self.deadline(), self.expire)
        self.decide()

    def kill(self) -> None:
        """``shutdown session``: abort both sides (termination state K)."""
        if self.term == "--":
            self.term = "KD"
        self.srv.abort()
        self.cli.abort()

    def drop(self) -> None:
        """A connection rejected by tcp-request rules: not a stream that ends (no
        ``stream_end`` observers, no log), but what plugins attached to it in ``strm.ext`` is
        let go now (objects releasing a resource when freed do so)."""
        self.finished = True
        self.phase = DONE
        if self.strm is not None:
            self.strm.ext.clear()
            self.strm.sess.ext.clear()
        self.cli.abort()

    def data_received(self, data: bytes) -> None:
        self.cli.bytes += len(data)
        if self.timer is not None:
            self.timer.reschedule(self.deadline())
        phase = self.phase
        if phase == FORWARDING:
            self.srv.write(data)
            return
        if phase == SERVICE:
            self.service.data_received(data)
            return
        if phase == DONE:
            return
        cli = self.cli
        cli.pending.append(data)
        cli.pending_len += len(data)
        if phase != CONNECTING:
            assert self.strm is not None
            self.strm.req_buffer += data
        if cli.pending_len > PENDING_MAX:
            cli.pause()
        if phase in (FE_RULES, BE_RULES):
            self.decide()

    def eof_received(self) -> bool:
        strm = self.strm
        if strm is not None and not self.cli.eof:
            tevents.fc(strm.sess, tevents.SHUTR)
            tevents.fse(strm, tevents.EOS)
            tevents.front(strm, tevents.EOS)
        self.cli.eof = True
        if self.phase == SERVICE:
            return bool(self.service.eof_received())
        if self.phase in (FE_RULES, BE_RULES):
            self.decide(final=True)
        elif self.phase == FORWARDING:
            self.srv.write_eof()
            self.update_timeouts()
        self.maybe_close()
        return True  # keep our write side open for the server's answer

    def connection_lost(self, exc: Exception | None) -> None:
        strm = self.strm
        if exc is not None and strm is not None and not self.finished:
            tevents.fc(strm.sess, tevents.RCV_ERR)
            tevents.fse(strm, tevents.RCV_ERR)
            tevents.front(strm, tevents.RCV_ERR)
        self.cli.closed = True
        if self.phase == SERVICE:
            with contextlib.suppress(Exception):
                self.service.connection_lost(exc)
        elif not self.finished and self.term == "--":
            clean = exc is None and self.cli.eof
            if self.phase in (FE_RULES, BE_RULES):
                self.term = "CR"
            elif self.phase == CONNECTING:
                self.term = "CC"
            elif not clean:
                self.term = "CD"
        if self.srv.transport is not None and not self.srv.closed:
            if self.cli.eof and exc is None:
                self.srv.write_eof()
                if self.srv.eof:
                    self.srv.close()
            else:
                self.srv.abort()
        if self.connect_task is not None and not self.connect_task.done():
            self.connect_task.cancel()
        # the stream ends with its client connection (the server side is closing now):
        # observers see it still counted, as HAProxy logs before releasing the connection
        self.finish()

    def pause_writing(self) -> None:
        self.srv.pause()

    def resume_writing(self) -> None:
        if not self.res_deciding:
            self.srv.resume()

    def soft_stop(self) -> None:
        """TCP streams are left to finish by themselves on a graceful stop."""

    # -- timeouts ------------------------------------------------------------------------------
    def deadline(self) -> float:
        return self.wheel.loop.time() * 1000 + self.idle_ms

    def update_timeouts(self) -> None:
        """Recompute the inactivity limit after a change of phase or a half-close."""
        ctx = self.ctx
        strm = self.strm
        assert strm is not None
        bt = strm.backend.timeouts if strm.backend is not None else {}
        tunnel = bt.get("tunnel")
        client = tunnel or ctx.t_client
        server = tunnel or bt.get("server")
        if (self.cli.eof or self.cli.shut) and ctx.t_client_fin:
            client = ctx.t_client_fin
        if (self.srv.eof or self.srv.shut) and bt.get("server-fin"):
            server = bt.get("server-fin")
        if client and (not server or client <= server):
            self.idle_ms, self.idle_term = client, "cD"
        elif server:
            self.idle_ms, self.idle_term = server, "sD"
        else:
            self.idle_ms = 0
        if not self.idle_ms:
            if self.timer is not None:
                self.timer.cancel()
            return
        if self.timer is None:
            self.timer = self.wheel.schedule(self.deadline(), self.expire)
        else:
            self.timer.reschedule(self.deadline())

    def expire(self) -> None:
        if self.finished or self.phase == SERVICE:
            return
        phase = self.phase
        if phase in (FE_RULES, BE_RULES):
            self.term = "cR"
        elif phase == CONNECTING:
            self.term = "cC"
        else:
            self.term = self.idle_term
        if self.strm is not None:
            if self.term[0] == "s":
                tevents.back(self.strm, tevents.TOUT)
            else:
                tevents.front(self.strm, tevents.TOUT)
        self.phase = DONE
        self.cli.abort()
        self.srv.abort()
        if self.connect_task is not None and not self.connect_task.done():
            self.connect_task.cancel()

    # -- content rules, backend and server ----------------------------------------------------
    def decide(self, final: bool = False) -> None:
        strm = self.strm
        assert strm is not None
        if self.phase == FE_RULES:
            rules = self.ctx.content_rules
            if rules and not self.run_content(rules, self.ctx.inspect_delay, final):
                return
            if self.phase != FE_RULES:
                return
            if strm.ext.get("service") is not None:
                self.start_service(strm.ext["service"])
                return
            backend = choose_backend(self.ctx.frontend, strm)
            if backend is None:
                self.term = "SC"
                self.phase = DONE
                self.cli.abort()
                return
            strm.backend = backend
            assign_backend(strm, backend)
            self.phase = BE_RULES
            if self.inspect is not None:
                self.inspect.cancel()
                self.inspect = None
        if self.phase == BE_RULES:
            backend = strm.backend
            rules = backend.rules.get(TCP_CONTENT, []) if backend is not self.ctx.frontend \
                else []
            if rules and not self.run_content(
                    rules, backend.settings.get("tcp-request inspect-delay") or 0, final):
                return
            if self.phase != BE_RULES:
                return
            if self.inspect is not None:
                self.inspect.cancel()
                self.inspect = None
            if strm.ext.get("service") is not None:
                self.start_service(strm.ext["service"])
                return
            self.phase = CONNECTING
            self.connect_task = asyncio.get_running_loop().create_task(self.connect(backend))

    def _arm_wake(self, again: Any) -> None:
        """A rule that yielded may wait for something besides data (core/runtime/waits.py):
        run the rules again (``again()``) once it happened."""
        strm = self.strm
        wake = take_wake(strm) if strm is not None else None
        if wake is None or wake.kind == "body":
            return  # more data, or the inspect delay, runs the rules again

        def woken(_fut: Any = None) -> None:
            if self.phase not in (DONE, SERVICE):
                again()

        if wake.kind == "future":
            wake.future.add_done_callback(woken)
        else:
            asyncio.get_running_loop().call_later(wake.ms / 1000, woken)

    def run_content(self, rules: list[Any], delay: int, final: bool) -> bool:
        """Run content rules; True when evaluation is over and the stream goes on."""
        strm = self.strm
        assert strm is not None
        if self.inspect is None and delay and not final:
            self.inspect = self.wheel.schedule(self.wheel.loop.time() * 1000 + delay,
                                               self.decide, True)
        final = final or not delay or self.cli.pending_len > PENDING_MAX
        verdict = run_rules(rules, strm, final=final)
        if verdict == ActResult.YIELD:
            self._arm_wake(self.decide)
            return False
        if verdict in _STOP:
            self.term = "PR"
            strm.counters["denied_req"] = 1
            self.phase = DONE
            if self.inspect is not None:
                self.inspect.cancel()
            self.cli.abort()
            return False
        return True

    def start_service(self, applet: Any) -> None:
        """Hand the connection to a TCP service (``use-service``)."""
        self.phase = SERVICE
        if self.timer is not None:
            self.timer.cancel()
        if self.inspect is not None:
            self.inspect.cancel()
        strm = self.strm
        assert strm is not None
        self.service = applet(strm, self.cli.transport)
        data = b"".join(self.cli.pending)
        self.cli.pending.clear()
        self.cli.pending_len = 0
        self.cli.resume()
        if data:
            self.service.data_received(data)
        if self.cli.eof:
            self.service.eof_received()

    async def connect(self, backend: Any) -> None:
        """Take a server slot (waiting in a queue when the servers are full), then connect
        with ``timeout connect``, ``retries`` and ``option redispatch`` (see retry.py)."""
        strm = self.strm
        assert strm is not None
        pol = policy_for(backend)
        timeout = backend.timeouts.get("connect")
        lb_only = False
        prev = None
        while True:
            try:
                srv = acquire(backend, strm, lb_only)
                if type(srv) is Pending:
                    srv = await srv
            except NoSlot as exc:
                self.fail(exc.term)
                return
            if strm.timers["Tw"] < 0:
                strm.timers["Tw"] = 0
            if prev is not None:
                pol.count(strm, prev, srv)
            t_start = time.monotonic()
            while True:
                try:
                    await connect_server(srv, strm, lambda: TcpServer(self), timeout)
                except ConnectError as exc:
                    conn_error(strm, srv, backend)
                    tevents.new_server_conn(strm)
                    tevents.bc(strm, tevents.CONN_ERR)
                    if not pol.conn or strm.conn_retries >= pol.retries:
                        tevents.back(strm, tevents.SHUTW)
                        self.fail(exc.term)
                        return
                    strm.conn_retries += 1
                    if pol.redispatch(strm, srv, is_direct(strm), hash_based(backend)):
                        free_slot(strm)
                        prev, lb_only = srv, True
                        break
                    pol.count(strm, srv, srv)
                    if exc.term == "SC":
                        # HAProxy's turn-around timer: a server that refused will likely
                        # refuse again at once, so wait min(timeout connect, 1s)
                        await asyncio.sleep(pol.turn_around / 1000)
                    continue
                strm.timers["Tc"] = int((time.monotonic() - t_start) * 1000)
                self.connected()
                return

    def fail(self, term: str) -> None:
        self.term = term
        self.phase = DONE
        self.cli.abort()

    def connected(self) -> None:
        if self.cli.closed or self.phase != CONNECTING:
            self.srv.abort()
            return
        self.phase = FORWARDING
        strm = self.strm
        assert strm is not None
        res_rules = strm.backend.rules.get(TCP_RES_CONTENT)
        if res_rules:
            self.res_deciding = True
            delay = strm.backend.settings.get("tcp-response inspect-delay") or 0
            if delay:
                self.res_inspect = self.wheel.schedule(
                    self.wheel.loop.time() * 1000 + delay, self.decide_response, True)
        for chunk in self.cli.pending:
            self.srv.transport.write(chunk)
        self.cli.pending.clear()
        self.cli.pending_len = 0
        self.cli.resume()
        if self.cli.eof:
            self.srv.write_eof()
        self.update_timeouts()
        if self.res_deciding and (self.srv.pending or self.srv.eof):
            # the server spoke before the connection attempt returned
            self.decide_response()

    # -- server events (called by TcpServer) ------------------------------------------------------
    def server_made(self, transport: Any) -> None:
        self.srv.transport = transport
        strm = self.strm
        assert strm is not None
        if strm.backend.rules.get(TCP_RES_CONTENT):
            # its first data may come before connected(): held for the response rules
            self.res_deciding = True
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        src, sport = _addr(transport.get_extra_info("sockname"))
        dst, dport = _addr(transport.get_extra_info("peername"))
        strm.srv_conn = ServerConn(src=src, src_port=sport, dst=dst, dst_port=dport,
                                   ssl=transport.get_extra_info("ssl_object"))
        conn_opened(strm.server, transport)
        self.srv_counted = True

    def server_data(self, data: bytes) -> None:
        self.srv.bytes += len(data)
        if self.timer is not None:
            self.timer.reschedule(self.deadline())
        if self.res_deciding:
            srv = self.srv
            srv.pending.append(data)
            srv.pending_len += len(data)
            assert self.strm is not None
            self.strm.res_buffer += data
            self.decide_response(srv.pending_len > PENDING_MAX)
            return
        self.cli.write(data)

    def decide_response(self, final: bool = False) -> None:
        if not self.res_deciding or self.phase != FORWARDING:
            return
        strm = self.strm
        assert strm is not None
        delay = strm.backend.settings.get("tcp-response inspect-delay") or 0
        final = final or not delay or self.srv.eof
        verdict = run_rules(strm.backend.rules[TCP_RES_CONTENT], strm, final=final)
        if verdict == ActResult.YIELD:
            self._arm_wake(self.decide_response)
            if self.srv.pending_len > PENDING_MAX:
                self.srv.pause()
            return
        self.res_deciding = False
        if self.res_inspect is not None:
            self.res_inspect.cancel()
        if verdict in _STOP:
            self.term = "PD"
            self.phase = DONE
            self.cli.abort()
            self.srv.abort()
            return
        for chunk in self.srv.pending:
            self.cli.write(chunk)
        self.srv.pending.clear()
        self.srv.pending_len = 0
        self.srv.resume()
        if self.srv.eof:
            self.cli.write_eof()
            self.maybe_close()

    def server_eof(self) -> None:
        strm = self.strm
        if strm is not None and not self.srv.eof:
            tevents.bc(strm, tevents.SHUTR)
            tevents.bse(strm, tevents.EOS)
            tevents.back(strm, tevents.EOS)
        self.srv.eof = True
        if self.res_deciding:
            self.decide_response(True)
        if not self.res_deciding:
            self.cli.write_eof()
        self.update_timeouts()
        self.maybe_close()

    def server_lost(self, exc: Exception | None) -> None:
        self.srv.closed = True
        strm = self.strm
        assert strm is not None
        if exc is not None and not self.finished:
            tevents.bc(strm, tevents.RCV_ERR)
            tevents.bse(strm, tevents.RCV_ERR)
            tevents.back(strm, tevents.RCV_ERR)
        if self.srv_counted:
            self.srv_counted = False
            conn_closed(strm.server, self.srv.transport)
        if not self.cli.closed and self.phase != DONE:
            if exc is not None or not self.srv.eof:
                if self.term == "--":
                    self.term = "SD"
                self.phase = DONE
                self.cli.abort()
            else:
                self.cli.write_eof()
                if self.cli.eof:
                    self.cli.close()
        self.maybe_finish()

    def server_pause_writing(self) -> None:
        self.cli.pause()

    def server_resume_writing(self) -> None:
        self.cli.resume()

    # -- end ---------------------------------------------------------------------------------------
    def maybe_close(self) -> None:
        """Both directions are done: close both ends (pending writes are flushed first)."""
        if self.cli.eof and self.srv.eof and not self.res_deciding:
            self.cli.close()
            self.srv.close()

    def maybe_finish(self) -> None:
        if self.cli.closed and (self.srv.transport is None or self.srv.closed):
            self.finish()

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self.phase = DONE
        for handle in (self.timer, self.inspect, self.res_inspect):
            if handle is not None:
                handle.cancel()
        strm = self.strm
        if strm is None:
            return
        strm.timers["Tt"] = int((time.monotonic() - self.t0) * 1000)
        strm.counters["bytes_in"] = self.cli.bytes
        strm.counters["bytes_out"] = self.srv.bytes
        strm.term_state = self.term
        release(strm)
        live.discard(self)
        if STREAM_TRACE.on:
            STREAM_TRACE.trace(PROTO, "strm_free", "releasing stream", stream_detail(strm),
                               stream_lock(strm))
        for observer in self.ctx.frontend.stream_end:
            observer(strm)
        strm.sess.ext.clear()  # the session ends with its one stream


class TcpServer(asyncio.Protocol):
    """The server side of a TCP stream: forwards its events to the client side."""

    __slots__ = ("owner",)

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
