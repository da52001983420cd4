"""The proxy engine: opens the listeners of every frontend, hands accepted connections to
the frontend's mode (``tcp`` or ``http``), enforces ``maxconn`` and stops gracefully.

This module is a kernel plugin (registered by :mod:`hapx.core.loader` as ``engine``): its
lifecycle hooks run at ``hapx_startup`` / ``hapx_stopping`` / ``hapx_shutdown``.  Modes map to
protocol factories ``(engine, frontend) -> () -> asyncio.Protocol``; a protocol may define
``soft_stop()`` (called when a graceful stop begins: close when idle, finish what is in
flight).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import resource
import socket
import sys
import time
from typing import Any

from ..hookspecs import hookimpl
from ..net.listeners import BindError, Listener, listen_ip, open_sockets
from ..stats import Counters, account_connection, account_stream
from ..stream import ProcState, ProxyState
from . import handover
from .process import PROCESS
from .queue import prepare as prepare_queues

#: mode -> module providing ``frontend_factory(engine, frontend)``
MODES = {"tcp": "hapx.core.runtime.tcp", "http": "hapx.core.runtime.http1"}
EXT = "engine"
#: config.ext key: {id(bind): [(kind, socket)]} opened by the supervisor before forking
INHERITED = "engine.inherited"


class ListenerError(RuntimeError):
    """Some listeners could not be opened (each was reported in an [ALERT])."""


def mode_factory(mode: str) -> Any:
    """``frontend_factory`` of the module serving ``mode``, imported on first use."""
    try:
        module = importlib.import_module(MODES[mode])
    except KeyError:
        raise ListenerError(f"mode '{mode}' cannot serve a frontend") from None
    return module.frontend_factory


def proxy_state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


def default_maxconn() -> int:
    """HAProxy derives the default from the file descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 100000
    return max(100, (soft - 100) // 2)


def _say(level: str, text: str) -> None:
    label = {"alert": "[ALERT]   ", "warning": "[WARNING] ", "notice": "[NOTICE]  "}[level]
    print(f"{label} ({PROCESS.pid}) : {text}", file=sys.stderr, flush=True)


def _bind_params(fe: Any, bind: Any, reuseport: bool) -> tuple[dict[str, Any], int]:
    backlog = int(bind.opt("backlog") or fe.settings.get("backlog") or
                  fe.settings.get("maxconn") or 1024)
    opts = dict(bind.options)
    opts.setdefault("reuseport", reuseport)
    return opts, backlog


def _active_binds(config: Any) -> list[tuple[Any, Any]]:
    return [(fe, bind) for fe in config.frontends
            if not fe.settings.get("disabled") and fe.binds for bind in fe.binds]


def open_bind(fe: Any, bind: Any, reuseport: bool) -> list[tuple[str, socket.socket]] | None:
    """The listening sockets of one bind line; None when the bind failed (reported in
    HAProxy's words)."""
    opts, backlog = _bind_params(fe, bind, reuseport)
    try:
        return open_sockets(bind.address, opts, backlog)
    except BindError as exc:
        _say("alert", f"Binding [{bind.file}:{bind.line}] for {fe.kind} {fe.name}: "
                      f"{exc.strerror or exc}")
        return None


def _has_reuseport(kind: str, sock: socket.socket, bind: Any) -> bool:
    """A socket other workers bind again for themselves (SO_REUSEPORT) rather than
    share: an IP listening socket hapx bound with SO_REUSEPORT."""
    if kind != "listen" or sock.family not in (socket.AF_INET, socket.AF_INET6) or \
            getattr(bind.address, "family", "") not in ("inet", "inet6") or \
            not hasattr(socket, "SO_REUSEPORT"):
        return False
    try:
        return bool(sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT))
    except OSError:
        return False


class Engine:
    """The running proxies of one configuration."""

    def __init__(self, config: Any, runtime: Any = None) -> None:
        self.config = config
        self.runtime = runtime
        self.proc = ProcState()
        g = config.global_.settings
        self.maxconn = int(g.get("maxconn") or getattr(runtime, "maxconn", 0) or
                           default_maxconn())
        self.hard_stop_after = g.get("hard-stop-after")
        self.listeners: list[Listener] = []
        self.factories: dict[int, Any] = {}
        #: open client connections: protocol -> frontend
        self.conns: dict[Any, Listener] = {}
        #: connections per bind line (bind ``maxconn``), listeners per frontend
        self.bind_conns: dict[int, int] = {}
        self.by_frontend: dict[int, list[Listener]] = {}
        self.global_paused = False
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.idle = asyncio.Event()

    # -- starting ----------------------------------------------------------------------------
    def start(self) -> None:
        """Open every listener; report each bind that fails as HAProxy does and raise
        :class:`ListenerError` when one did."""
        self.loop = asyncio.get_running_loop()
        prepare_queues(self.config, self.maxconn)
        reuseport = not self.config.global_.settings.get("noreuseport")
        failed = False
        for fe in self.config.frontends:
            if fe.settings.get("disabled") or not fe.binds:
                continue
            self.factories[id(fe)] = mode_factory(fe.mode)(self, fe)
            proxy_state(fe)
            if account_stream not in fe.stream_end:
                fe.stream_end.insert(0, account_stream)
            for bind in fe.binds:
                failed = not self._open(fe, bind, reuseport) or failed
        if failed:
            self.close_listeners()
            raise ListenerError("Some protocols failed to start their listeners! Exiting.")
        for lst in self.listeners:
            lst.resume()

    def _open(self, fe: Any, bind: Any, reuseport: bool) -> bool:
        inherited = self.config.ext.get(INHERITED)
        if inherited is not None:
            socks = self._inherit(fe, bind, reuseport, inherited.get(id(bind), []))
        else:
            socks = open_bind(fe, bind, reuseport)
        if socks is None:
            return False
        stats = None
        if fe.options.get("socket-stats"):
            # option socket-stats: the bind's own counters (listener rows of show stat)
            stats = getattr(bind, "counters", None)
            if stats is None:
                stats = bind.counters = Counters()
        for kind, sock in socks:
            if kind == "dgram":
                # a datagram transport (QUIC): served by the plugin that set
                # bind.datagram_server(engine, frontend, bind, sock) at configure time; the
                # listener it returns has frontend, bind, closed, pause(), resume(), close()
                if PROCESS.thread != 0:
                    # the datagrams of one connection must reach the process holding its
                    # state: the first worker alone serves datagram transports
                    sock.close()
                    continue
                serve = getattr(bind, "datagram_server", None)
                if serve is None:
                    _say("alert", f"Binding [{bind.file}:{bind.line}] for {fe.kind} {fe.name}: "
                                  f"no plugin serves '{bind.address.text}'")
                    sock.close()
                    return False
                lst = serve(self, fe, bind, sock)
                lst.stats = stats
                self.listeners.append(lst)
                self.by_frontend.setdefault(id(fe), []).append(lst)
                continue
            lst = Listener(sock, kind, bind, fe, self._accepted)
            lst.stats = stats
            self.listeners.append(lst)
            self.by_frontend.setdefault(id(fe), []).append(lst)
        return True

    def _inherit(self, fe: Any, bind: Any, reuseport: bool,
                 socks: list[tuple[str, socket.socket]]) -> list[tuple[str, socket.socket]] | None:
        """A worker's sockets for one bind from those the supervisor opened: the first
        worker takes them all; the others share the inherited ones, except IP sockets with
        SO_REUSEPORT, which each binds again on the same address (the kernel then spreads
        the connections over the workers' sockets); under a master (reloads) they all share
        the sockets the generation hands over."""
        if PROCESS.thread == 0 or handover.under_master():
            # under a master every worker accepts on the generation's sockets: a socket
            # bound by one worker alone would close, its queue with it, when it stops
            return list(socks)
        out: list[tuple[str, socket.socket]] = []
        for kind, sock in socks:
            if not _has_reuseport(kind, sock, bind):
                out.append((kind, sock))
                continue
            opts, backlog = _bind_params(fe, bind, reuseport)
            port = sock.getsockname()[1]
            sock.close()  # the first worker's socket: this worker accepts on its own
            try:
                out.append((kind, listen_ip(bind.address, port, opts, backlog)))
            except BindError as exc:
                _say("alert", f"Binding [{bind.file}:{bind.line}] for {fe.kind} {fe.name}: "
                              f"{exc.strerror or exc}")
                for _kind, opened in out:
                    opened.close()
                return None
        return out

    # -- accepting -----------------------------------------------------------------------------
    def _accepted(self, sock: socket.socket, listener: Listener) -> None:
        fe = listener.frontend
        if self.stopping:
            sock.close()
            return
        proto = self.factories[id(fe)]()
        if hasattr(proto, "listener"):
            proto.listener = listener
        self._track(proto, listener)
        assert self.loop is not None
        task = self.loop.create_task(self._adopt(proto, sock, listener))
        task.add_done_callback(lambda t, p=proto: self._adopt_failed(t, p))
        self._update_accepting(listener)

    def _adopt(self, proto: Any, sock: socket.socket, listener: Listener) -> Any:
        """Connect the protocol to the accepted socket, through TLS when the bind has an
        ``ssl_context`` (the handshake must end within the frontend's ``timeout client``)."""
        assert self.loop is not None
        ctx = getattr(listener.bind, "ssl_context", None)
        if ctx is None:
            return self.loop.connect_accepted_socket(lambda: proto, sock)
        timeout = listener.frontend.timeouts.get("client") or 60000
        adopt = self.loop.connect_accepted_socket(lambda: proto, sock, ssl=ctx,
                                                  ssl_handshake_timeout=timeout / 1000)
        observers = getattr(listener.bind, "tls_observers", None)
        if not observers:
            return adopt
        return self._observed_handshake(adopt, observers, listener)

    @staticmethod
    async def _observed_handshake(adopt: Any, observers: list[Any], listener: Listener) -> Any:
        """Tell the bind's ``tls_observers`` (``fn(transport, exc, listener)``, set by the
        plugin that owns TLS) how the handshake of an accepted connection ended."""
        try:
            transport, proto = await adopt
        except Exception as exc:
            for fn in observers:
                fn(None, exc, listener)
            raise
        for fn in observers:
            fn(transport, None, listener)
        return transport, proto

    def track(self, proto: Any, listener: Any) -> None:
        """Count a connection a plugin's listener accepted (a QUIC connection) as an
        accepted one: maxconn, the frontend's and bind's counters, soft and hard stops.
        ``proto`` has ``connection_lost(exc)`` (called once when it ends), ``transport``
        (``abort()`` on a hard stop) and optionally ``soft_stop()``."""
        self._track(proto, listener)
        self._update_accepting(listener)

    def _adopt_failed(self, task: asyncio.Task, proto: Any) -> None:
        if task.cancelled() or task.exception() is not None:
            self._release(proto)

    def _track(self, proto: Any, listener: Listener) -> None:
        fe = listener.frontend
        self.conns[proto] = listener
        self.proc.act_conn += 1
        st = proxy_state(fe)
        st.cur_conn += 1
        st.cum_conn = getattr(st, "cum_conn", 0) + 1
        account_connection(fe, st.cur_conn)
        cur = self.bind_conns[id(listener.bind)] = self.bind_conns.get(id(listener.bind), 0) + 1
        if listener.stats is not None:
            listener.stats.session()
            if cur > listener.stats.smax:
                listener.stats.smax = cur
        lost = proto.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            try:
                lost(exc)
            finally:
                self._release(proto)
        proto.connection_lost = connection_lost

    def _release(self, proto: Any) -> None:
        listener = self.conns.pop(proto, None)
        if listener is None:
            return
        self.proc.act_conn -= 1
        proxy_state(listener.frontend).cur_conn -= 1
        self.bind_conns[id(listener.bind)] -= 1
        if self.stopping:
            if not self.conns:
                self.idle.set()
            return
        self._update_accepting(listener)

    def _full(self, lst: Listener, full_global: bool) -> bool:
        if full_global:
            return True
        limit = int(lst.frontend.settings.get("maxconn") or 0)
        if limit and proxy_state(lst.frontend).cur_conn >= limit:
            return True
        return bool(lst.bind.maxconn) and self.bind_conns.get(id(lst.bind), 0) >= \
            lst.bind.maxconn

    def _update_accepting(self, changed: Listener) -> None:
        """Pause listeners while a limit is reached (the connections wait in the kernel's
        accept queue); resume them when a slot frees."""
        if self.stopping:
            return
        full_global = self.proc.act_conn >= self.maxconn
        if not full_global and not self.global_paused:
            # only the limits of the listener's frontend and bind may have changed
            for lst in self.by_frontend.get(id(changed.frontend), ()):
                if not lst.closed:
                    (lst.pause if self._full(lst, False) else lst.resume)()
            return
        self.global_paused = full_global
        for lst in self.listeners:
            if not lst.closed:
                (lst.pause if self._full(lst, full_global) else lst.resume)()

    # -- stopping ----------------------------------------------------------------------------
    def close_listeners(self) -> None:
        for lst in self.listeners:
            lst.close()

    def soft_stop(self) -> None:
        """Stop accepting; ask every connection to finish what it is doing."""
        if self.stopping:
            return
        self.stopping = True
        self.proc.stopping = True
        self.close_listeners()
        for proto in list(self.conns):
            stop = getattr(proto, "soft_stop", None)
            if stop is not None:
                with contextlib.suppress(Exception):
                    stop()
        if not self.conns:
            self.idle.set()

    async def drain(self) -> None:
        """Wait for the connections to end, at most ``hard-stop-after``."""
        limit = self.hard_stop_after
        if limit:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.idle.wait(), limit / 1000)
        else:
            await self.idle.wait()
        self.hard_stop()

    def hard_stop(self) -> None:
        self.stopping = True
        self.close_listeners()
        for proto in list(self.conns):
            transport = getattr(proto, "transport", None)
            if transport is not None:
                transport.abort()
            self._release(proto)
        self.idle.set()


def engine_of(config: Any) -> Engine | None:
    return config.ext.get(EXT)


@hookimpl
def hapx_prefork(config: Any, runtime: Any) -> None:
    """Open every listener once, in the supervisor: bind errors are reported once, before
    any worker starts; the workers inherit the sockets."""
    reuseport = not config.global_.settings.get("noreuseport")
    opened: dict[int, list[tuple[str, socket.socket]]] = {}
    failed = False
    for fe, bind in _active_binds(config):
        socks = open_bind(fe, bind, reuseport)
        if socks is None:
            failed = True
        else:
            opened[id(bind)] = socks
    if failed:
        for socks in opened.values():
            for _kind, sock in socks:
                sock.close()
        raise ListenerError("Some protocols failed to start their listeners! Exiting.")
    config.ext[INHERITED] = opened


@hookimpl
def hapx_forked(config: Any, runtime: Any) -> None:
    """The supervisor keeps no listener: a worker closing its sockets really closes them
    (a unix socket's path stays: the workers use it)."""
    for socks in config.ext.pop(INHERITED, {}).values():
        for _kind, sock in socks:
            sock.close()


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    engine = Engine(config, runtime)
    config.ext[EXT] = engine
    engine.start()
    engine.started = time.time()  # type: ignore[attr-defined]


@hookimpl
def hapx_stopping(config: Any, runtime: Any) -> None:
    engine = engine_of(config)
    if engine is None:
        return
    if getattr(runtime, "soft", True):
        engine.soft_stop()
        runtime.start_soon(engine.drain)
    else:
        engine.hard_stop()


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    engine = engine_of(config)
    if engine is not None:
        engine.hard_stop()
