"""Backends and servers for the data path (mode tcp and mode http).

Interface::

    choose_backend(frontend, strm) -> Proxy | None
        # the frontend's switching rules (use_backend / default_backend); a ``listen``
        # section without either serves itself; None: no backend (HAProxy answers 503 in
        # HTTP, closes in TCP with term state "SC")
    picker_for(backend) -> picker          # one per backend, cached in backend.ext["picker"]
    pick_server(backend, strm) -> Server | None
        # use-server rules first, then the balancer; DOWN/disabled servers are skipped
    server_target(srv, strm) -> ("unix", path) | ("inet", (host, port))
        # a port-less server uses the client's destination port, +N/-N is relative to it
    await connect_server(srv, strm, factory, timeout_ms) -> (transport, protocol)
        # raises ConnectError: .term is "SC" (refused/unreachable) or "sC" (timeout connect)
    server_state(srv) -> ServerState       # srv.live, created on first use
    connect_options(srv, strm) -> dict     # extra create_connection arguments (transport)

A server's *transport* (``srv.transport``, set at configuration time by a plugin, e.g. TLS)
is an object with ``options(strm) -> dict``: keyword arguments added to asyncio's
``create_connection``/``create_unix_connection`` for every connection to the server
(``ssl``, ``server_hostname``, ``ssl_handshake_timeout``), and ``pool_key(strm)``: what,
besides the address, an idle connection must match to be reused (None: anything); an
optional ``alpn`` list (the ALPN protocols offered) lets the server's choice pick the HTTP
version of a server without ``proto`` (``http_server.AlpnChooser``).  A failed handshake
is a failed connection (an ``OSError``), as for HAProxy.

Server live counters (``cur_conn``) are the protocols' business: ``queue.conn_opened`` in
``connection_made``, ``queue.conn_closed`` in ``connection_lost``.  Server slots, queues and
``maxconn`` are :mod:`hapx.core.runtime.queue`'s (``acquire`` wraps the choice made here).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from ..stream import ServerState

PICKER = "picker"


class ConnectError(Exception):
    """A server connection that could not be established; ``term`` is the termination
    state it gives the stream ("SC" refused or unreachable, "sC" connect timeout)."""

    def __init__(self, term: str, reason: str) -> None:
        super().__init__(reason)
        self.term = term


def choose_backend(frontend: Any, strm: Any) -> Any:
    switching = frontend.settings.get("switching")
    if switching is not None:
        backend = switching(strm)
        if backend is not None:
            return backend
    return frontend if frontend.is_backend else None


class _RoundRobin:
    """Used only for a backend without a ``balance`` setting (none is registered)."""

    def __init__(self, servers: list[Any]) -> None:
        self.servers = servers
        self.it = itertools.cycle(range(len(servers))) if servers else None

    def pick(self, strm: Any = None) -> Any:
        if self.it is None:
            return None
        for _ in range(len(self.servers)):
            srv = self.servers[next(self.it)]
            if getattr(srv, "usable", True) and not getattr(srv, "disabled", False):
                return srv
        return None


def picker_for(backend: Any) -> Any:
    picker = backend.ext.get(PICKER)
    if picker is None:
        setting = backend.settings.get("balance")
        picker = setting.build(backend) if setting is not None else None
        if picker is None:
            picker = _RoundRobin([s for s in backend.servers if not s.backup])
        backend.ext[PICKER] = picker
    return picker


SERVERS_CHANGED = "servers_changed"


def on_servers_changed(backend: Any, callback: Callable[[Any], None]) -> None:
    """Call ``callback(backend)`` each time the backend's server list changes at run time
    (``add server``/``del server``): whatever caches the list or the picker refreshes."""
    backend.ext.setdefault(SERVERS_CHANGED, []).append(callback)


def servers_changed(backend: Any) -> Any:
    """The backend's server list changed: rebuild its picker and tell the subscribers.
    Returns the new picker."""
    backend.ext.pop(PICKER, None)
    picker = picker_for(backend)
    for callback in backend.ext.get(SERVERS_CHANGED, ()):
        callback(backend)
    return picker


def pick_server(backend: Any, strm: Any) -> Any:
    switch = backend.settings.get("server_switching")
    if switch is not None:
        srv = switch(strm)
        if srv is not None and getattr(srv, "usable", True):
            return srv
    return picker_for(backend).pick(strm)


def server_state(srv: Any) -> ServerState:
    st = getattr(srv, "live", None)
    if st is None:
        st = srv.live = ServerState()
    return st


def server_target(srv: Any, strm: Any) -> tuple[str, Any]:
    addr = srv.address
    if addr.family in ("unix", "abns", "abnsz"):
        return "unix", addr.sockaddr()
    host = str(addr.ip) if addr.ip is not None else addr.host
    port = addr.port
    if addr.port_offset is not None:
        port = int(strm.sess.dst_port or 0) + addr.port_offset
    elif port is None:
        port = strm.sess.dst_port
    return "inet", (host, port)


def connect_options(srv: Any, strm: Any) -> dict[str, Any]:
    """The extra connection arguments of the server's transport (none: plain TCP)."""
    transport = getattr(srv, "transport", None)
    return transport.options(strm) if transport is not None else {}


async def connect_server(srv: Any, strm: Any, factory: Callable[[], asyncio.Protocol],
                         timeout_ms: int | None) -> tuple[Any, Any]:
    loop = asyncio.get_running_loop()
    kind, target = server_target(srv, strm)
    extra = connect_options(srv, strm)
    if kind == "unix":
        coro = loop.create_unix_connection(factory, target, **extra)
    else:
        coro = loop.create_connection(factory, *target, **extra)
    try:
        if timeout_ms:
            return await asyncio.wait_for(coro, timeout_ms / 1000)
        return await coro
    except TimeoutError:
        raise ConnectError("sC", f"timeout connect to {srv.name}") from None
    except OSError as exc:
        raise ConnectError("SC", f"{srv.name}: {exc.strerror or exc}") from None
