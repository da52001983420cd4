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
import os
import resource
import socket
import sys
import time
from typing import Any

from ..hookspecs import hookimpl
from ..net.listeners import BindError, Listener, open_sockets
from ..stream import ProcState, ProxyState

#: mode -> module providing ``frontend_factory(engine, frontend)``
MODES = {"tcp": "hapx.core.runtime.tcp", "http": "hapx.core.runtime.http1"}
EXT = "engine"


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
    print(f"{label} ({os.getpid()}) : {text}", file=sys.stderr, flush=True)


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
        self.conns: dict[Any, Any] = {}
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.idle = asyncio.Event()

    # -- starting ----------------------------------------------------------------------------
    def start(self) -> None:
        """Open every listener; raise BindError (already reported) when one fails."""
        self.loop = asyncio.get_running_loop()
        for fe in self.config.frontends:
            if fe.settings.get("disabled") or not fe.binds:
                continue
            module = importlib.import_module(MODES.get(fe.mode, MODES["tcp"]))
            self.factories[id(fe)] = module.frontend_factory(self, fe)
            proxy_state(fe)
            for bind in fe.binds:
                self._open(fe, bind)
        for lst in self.listeners:
            lst.resume()

    def _open(self, fe: Any, bind: Any) -> None:
        backlog = int(bind.opt("backlog") or fe.settings.get("backlog") or
                      fe.settings.get("maxconn") or 1024)
        try:
            socks = open_sockets(bind.address, bind.options, backlog)
        except BindError as exc:
            self.close_listeners()
            msg = f"Starting {fe.kind} {fe.name}: {exc.strerror or exc}"
            _say("alert", msg)
            raise BindError(exc.errno, msg) from None
        for kind, sock in socks:
            self.listeners.append(Listener(sock, kind, bind, fe, self._accepted))

    # -- accepting -----------------------------------------------------------------------------
    def _accepted(self, sock: socket.socket, listener: Listener) -> None:
        fe = listener.frontend
        if self.stopping:
            sock.close()
            return
        proto = self.factories[id(fe)]()
        self._track(proto, fe)
        assert self.loop is not None
        task = self.loop.create_task(self.loop.connect_accepted_socket(lambda: proto, sock))
        task.add_done_callback(lambda t, p=proto: self._adopt_failed(t, p))
        self._update_accepting(fe)

    def _adopt_failed(self, task: asyncio.Task, proto: Any) -> None:
        if task.cancelled() or task.exception() is not None:
            self._release(proto)

    def _track(self, proto: Any, fe: Any) -> None:
        self.conns[proto] = fe
        self.proc.act_conn += 1
        st = proxy_state(fe)
        st.cur_conn += 1
        st.cum_conn = getattr(st, "cum_conn", 0) + 1
        lost = proto.connection_lost

        def connection_lost(exc: Exception | None) -> None:
            try:
                lost(exc)
            finally:
                self._release(proto)
        proto.connection_lost = connection_lost

    def _release(self, proto: Any) -> None:
        fe = self.conns.pop(proto, None)
        if fe is None:
            return
        self.proc.act_conn -= 1
        proxy_state(fe).cur_conn -= 1
        if self.stopping:
            if not self.conns:
                self.idle.set()
            return
        self._update_accepting(fe)

    def _frontend_full(self, fe: Any) -> bool:
        limit = int(fe.settings.get("maxconn") or 0)
        return bool(limit) and proxy_state(fe).cur_conn >= limit

    def _update_accepting(self, fe: Any) -> None:
        """Pause listeners while a limit is reached; resume when a slot frees."""
        if self.stopping:
            return
        full_global = self.proc.act_conn >= self.maxconn
        for lst in self.listeners:
            if lst.closed:
                continue
            if lst.frontend is not fe and not full_global and lst.accepting:
                continue
            full = full_global or self._frontend_full(lst.frontend)
            if lst.bind.maxconn and not full:
                mine = sum(1 for f in self.conns.values() if f is lst.frontend)
                full = mine >= lst.bind.maxconn
            if full:
                lst.pause()
            else:
                lst.resume()

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
