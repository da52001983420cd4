"""``check-reuse-pool``: an HTTP check over an idle connection of the server's pool.

The connection (a :class:`hapx.core.runtime.http_server.ServerConnection`) keeps its own
response parser; while the check uses it, :class:`PooledChannel` is its owner and receives
the response events.  A connection that ends the exchange reusable goes back to the pool.
It implements the owner interface ServerConnection calls (the transaction's side of
core/runtime/http_txn.py): ``client.cork/uncork``, ``finished``, ``touch_server_timer``,
``on_response_*``, ``server_closed``, ``server_error``, ``server_pause/resume_writing``;
a change there must be mirrored here (tests/test_health_checks.py::test_check_reuse_pool).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from hapx.core.runtime.http_server import pool_of


@dataclass
class PooledResponse:
    status_code: int
    reason: bytes


class _NoCork:
    """The data path corks the client while parsing; a check has no client."""

    def cork(self) -> None:
        pass

    def uncork(self) -> None:
        pass


class PooledChannel:
    """The check's view of a pooled server connection."""

    client = _NoCork()
    #: read by ServerConnection.data_received (True once the check let the connection go)
    finished = False

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.head: PooledResponse | None = None
        self.body = bytearray()
        self.complete = False
        self.closed = False
        self.keep = True
        self.changed = anyio.Event()
        conn.owner = self

    # -- the check side --------------------------------------------------------------------------
    async def request(self, method: str, data: bytes) -> None:
        self.conn.parser.expect(method, False)
        self.conn.write(data)

    async def response(self, need_body: bool) -> tuple[Any, bytes, bool]:
        while True:
            if self.head is not None and (not need_body or self.complete):
                return self.head, bytes(self.body), self.complete
            if self.closed:
                return self.head, bytes(self.body), True
            self.changed = anyio.Event()
            await self.changed.wait()

    async def close(self) -> None:
        """Give the connection back to the pool when the exchange ended cleanly."""
        conn = self.conn
        self.finished = True
        if conn.owner is self:
            conn.owner = None
        if self.complete and self.keep and not self.closed and not conn.closed:
            pool_of(conn.server).put(conn)
        elif not conn.closed:
            conn.close()

    def _wake(self) -> None:
        self.changed.set()

    # -- ServerConnection callbacks ----------------------------------------------------------------
    def on_response_headers(self, status: Any, reason: str, version: str,
                            headers: list[tuple[str, str]]) -> None:
        code = int(status)
        if 100 <= code < 200:
            return
        self.head = PooledResponse(code, (reason or "").encode("latin-1", "replace"))
        for name, value in headers:
            if name.lower() == "connection" and "close" in value.lower():
                self.keep = False
        if version in ("1.0", "HTTP/1.0"):
            self.keep = self.keep and any(
                n.lower() == "connection" and "keep-alive" in v.lower() for n, v in headers)
        self._wake()

    def on_response_body(self, chunk: bytes) -> None:
        self.body += chunk
        self._wake()

    def on_response_complete(self) -> None:
        self.complete = True
        self._wake()

    def on_response_upgrade(self, rest: bytes) -> None:
        self.keep = False
        self.complete = True
        self._wake()

    def server_closed(self, conn: Any) -> None:
        self.closed = True
        self._wake()

    def server_error(self, conn: Any, why: str) -> None:
        self.closed = True
        self.keep = False
        conn.close()
        self._wake()

    def touch_server_timer(self) -> None:
        """The check's own deadline bounds the exchange (no ``timeout server`` here)."""

    def server_pause_writing(self) -> None:
        pass

    def server_resume_writing(self) -> None:
        pass


def take_idle(srv: Any) -> PooledChannel | None:
    """An idle connection of ``srv``'s pool, owned by a new channel; None when none."""
    conn = pool_of(srv).take(shared=True, target=None)
    if conn is None or conn.closed:
        return None
    return PooledChannel(conn)
