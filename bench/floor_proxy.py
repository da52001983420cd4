"""The floor: the least a Python HTTP/1 keep-alive proxy can cost on this machine.

    python bench/run.py --scenarios http-ka-100 --hapx "python bench/floor_proxy.py {cfg}"

Not part of hapx: a yardstick for the benchmark.  It reads only the first ``bind`` and
``server`` addresses of a configuration rendered by bench/scenarios.py, and proxies
HTTP/1.1 keep-alive requests without a body the way the shape of hapx's data path does
(asyncio Protocols on uvloop, httptools parsing, header names lower-cased on output, one
server connection per client connection) and with none of its features: no rules, no
log, no counters, no timeouts, no balancing, no pool, no error handling.  Whatever hapx
costs above this proxy per request is the price of its features; the ratio this proxy
reaches against haproxy is the ceiling of any Python proxy of that shape here.
"""

from __future__ import annotations

import asyncio
import re
import sys
from http import HTTPStatus
from pathlib import Path

import httptools
import uvloop

_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}


class Upstream(asyncio.Protocol):
    """The server side of one client connection."""

    def __init__(self, client: Downstream) -> None:
        self.client = client
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []
        self.lines: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for data in self.pending:
            transport.write(data)  # type: ignore[attr-defined]
        self.pending = []

    def send(self, data: bytes) -> None:
        if self.transport is None:
            self.pending.append(data)
        else:
            self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_status(self, _reason: bytes) -> None:
        self.lines = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.lines.append(name.lower() + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        start = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b""))
        self.client.write(start + b"".join(self.lines) + b"\r\n")

    def on_body(self, body: bytes) -> None:
        self.client.write(body)

    def connection_lost(self, _exc: Exception | None) -> None:
        self.client.close()


class Downstream(asyncio.Protocol):
    """One client connection."""

    server: tuple[str, int] = ("127.0.0.1", 80)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.parser = httptools.HttpRequestParser(self)
        self.upstream = Upstream(self)
        self.url = b""
        self.lines: list[bytes] = []
        loop = asyncio.get_running_loop()
        loop.create_task(loop.create_connection(lambda: self.upstream, *self.server))

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url
        self.lines = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.lines.append(name.lower() + b": " + value + b"\r\n")

    def on_headers_complete(self) -> None:
        start = self.parser.get_method() + b" " + self.url + b" HTTP/1.1\r\n"
        self.upstream.send(start + b"".join(self.lines) + b"\r\n")

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def close(self) -> None:
        self.transport.close()

    def connection_lost(self, _exc: Exception | None) -> None:
        if self.upstream.transport is not None:
            self.upstream.transport.close()


def addresses(cfg: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """(listening address, server address): the first ``bind`` and ``server`` lines."""
    bind = re.search(r"^\s*bind\s+([\d.]+):(\d+)", cfg, re.M)
    server = re.search(r"^\s*server\s+\S+\s+([\d.]+):(\d+)", cfg, re.M)
    if bind is None or server is None:
        raise SystemExit("floor_proxy: no 'bind <ip>:<port>' or 'server <name> <ip>:<port>'")
    return (bind[1], int(bind[2])), (server[1], int(server[2]))


async def serve(listen: tuple[str, int]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_server(Downstream, *listen)
    await asyncio.Event().wait()


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    if len(args) != 1:
        raise SystemExit(__doc__)
    listen, Downstream.server = addresses(Path(args[0]).read_text())
    uvloop.run(serve(listen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
