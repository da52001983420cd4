"""``strict-maxconn`` (HAProxy 3.2): a server's ``maxconn`` also caps its TCP connections.

Normally ``maxconn`` counts the requests a server is serving, so idle pooled connections come
on top of it.  With ``strict-maxconn`` no more than ``maxconn`` connections to the server
exist at any time, idle ones included: a request that finds every slot in use waits in the
queue, and one that needs a new connection while the server's connections are all open
takes an idle one's place (the idle connection is closed first) or waits for one to close.
A request may fail when no connection can be opened and no idle one can be closed within
``timeout connect`` (idle connections private to another client, ``http-reuse never``).

The plugin plugs a :class:`~hapx.core.runtime.queue.ConnLimit` into each such server (the
kernel's extension point for what counts against maxconn).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.runtime.http_server import pool_of
from hapx.core.runtime.queue import ConnLimit, dynamic_maxconn, set_conn_limit
from hapx.plugins.servers.options import add_server_option

OPTION = "strict-maxconn"
DOC = ("strict-maxconn\n\nmaxconn also caps the TCP connections to the server, idle pooled "
       "ones included (3.2): a request waits, or an idle connection is closed to make room, "
       "rather than a connection above the limit being opened.")


class StrictMaxconn(ConnLimit):
    """Connections to one server: established (``live.cur_conn``, idle ones included)
    plus those being opened stay within the server's maxconn."""

    __slots__ = ("opening", "waiters")

    def __init__(self) -> None:
        self.opening = 0
        self.waiters: list[asyncio.Future] = []

    async def reserve(self, srv: Any, strm: Any, timeout_ms: int | None) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_ms / 1000 if timeout_ms else None
        live = srv.live
        while live.cur_conn + self.opening >= max(dynamic_maxconn(srv), 1):
            victim = _oldest_idle(srv)
            if victim is not None:
                victim.close()
            fut = loop.create_future()
            self.waiters.append(fut)
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise TimeoutError("no connection slot")
            try:
                await asyncio.wait_for(fut, left)
            finally:
                if fut in self.waiters:
                    self.waiters.remove(fut)
        self.opening += 1

    def done(self, srv: Any) -> None:
        self.opening -= 1
        self._wake()

    def conn_closed(self, srv: Any) -> None:
        self._wake()

    def _wake(self) -> None:
        waiters, self.waiters = self.waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)


def _oldest_idle(srv: Any) -> Any:
    """The oldest idle pooled connection of the server, taken out of the pool."""
    pool = pool_of(srv)
    idle = pool.idle
    while idle:
        conn = idle.pop(0)
        if not conn.closed and not getattr(conn, "attached", 0):
            # (a multiplexed connection carrying streams is not idle: left alone)
            return conn
    return None


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    # the option belongs to the server line; declared when the plugin loads
    add_server_option(OPTION, 0, None, DOC, negatable=True)


@hookimpl
def hapx_configure(config: Any) -> None:
    for px in config.proxies:
        if not px.is_backend:
            continue
        for srv in px.servers:
            if srv.options.get(OPTION) and srv.maxconn:
                set_conn_limit(srv, px, StrictMaxconn())
