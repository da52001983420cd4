"""Forwarding a ring's events to its ``server`` lines (HAProxy's sink forward applets).

One task per server keeps a TCP connection open (re-established one second after a
failure, within ``timeout connect``; ``timeout server`` bounds each send) and sends every event of the ring, starting with the
oldest one still stored, then each new one: framed with a LF (``log-proto legacy``, the
default) or octet-counted as RFC 6587 (``log-proto octet-count``: ``<len> <event>``).
Events that were overwritten while the server was unreachable are lost, as in HAProxy.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hapx.core.sinks import RingSink

RETRY_DELAY = 1.0


def frame(data: bytes, proto: str) -> bytes:
    if proto == "octet-count":
        return str(len(data)).encode() + b" " + data
    return data + b"\n"


class Forwarder:
    """The link from one ring to one syslog server."""

    def __init__(self, ring: RingSink, srv: Any, connect_timeout: float,
                 send_timeout: float | None = None) -> None:
        self.ring = ring
        self.srv = srv
        self.proto = srv.options.get("log-proto") or "legacy"
        self.connect_timeout = connect_timeout
        #: ``timeout server``: longest wait for the server to take what was sent
        self.send_timeout = send_timeout
        self.seq = 0
        self.task: asyncio.Task | None = None
        self.sent = 0

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    async def _connect(self) -> asyncio.StreamWriter:
        addr = self.srv.address
        host = str(addr.ip) if addr.ip is not None else addr.host
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(host, addr.port or 514), self.connect_timeout)
        return writer

    async def run(self) -> None:
        while True:
            try:
                writer = await self._connect()
            except (OSError, TimeoutError):
                await asyncio.sleep(RETRY_DELAY)
                continue
            try:
                await self._pump(writer)
            except (OSError, ConnectionError, TimeoutError):
                pass
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            await asyncio.sleep(RETRY_DELAY)

    async def _pump(self, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        while True:
            events = self.ring.events_after(self.seq)
            if events:
                writer.write(b"".join(frame(data, self.proto) for _, data in events))
                self.seq = events[-1][0]
                self.sent += len(events)
                await asyncio.wait_for(writer.drain(), self.send_timeout)
                continue
            if writer.transport.is_closing():
                raise ConnectionError("closed")
            woken = loop.create_future()

            def wake(f: asyncio.Future = woken) -> None:
                if not f.done():
                    f.set_result(None)
            self.ring.add_waiter(wake)
            try:
                # wake up now and then to notice a connection the server closed
                await asyncio.wait_for(asyncio.shield(woken), 1.0)
            except TimeoutError:
                pass
            finally:
                self.ring.remove_waiter(wake)
