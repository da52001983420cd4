"""``core.httpclient()``: HAProxy's HTTPClient class (``get``, ``head``, ``put``, ``post``,
``delete`` with ``{url=, headers=, body=, timeout=, dst=}``) on an HTTP/1.1 client over
asyncio (h11 for the protocol).

The request yields to the event loop until the whole response is read; the call returns
``{status=, reason=, headers={name={[0]=v...}}, body=}`` or ``nil, err``.  ``dst`` (an
``ip:port`` or ``unix@path``) connects somewhere else than the URL's host; ``timeout`` is
in milliseconds (HAProxy's default for the whole exchange is 5 s here as well).  https
URLs use TLS without certificate checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11

from .sockets import split_addr
from .values import as_text

LUA = (Path(__file__).parent / "httpclient.lua").read_text()
DEFAULT_TIMEOUT_MS = 5000


async def exchange(method: str, url: str, headers: list[tuple[str, str]], body: bytes,
                   dst: str | None) -> tuple[int, str, list[tuple[str, str]], bytes]:
    """One HTTP/1.1 request on a new connection; the response."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"invalid URL '{url}'")
    tls = parts.scheme == "https"
    port = parts.port or (443 if tls else 80)
    ctx = None
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if dst:
        kind, host, p = split_addr(dst, None if ":" in dst.split("@")[-1] else port)
    else:
        kind, host, p = "tcp", parts.hostname, port
    if kind == "unix":
        assert host is not None
        reader, writer = await asyncio.open_unix_connection(host, ssl=ctx)
    else:
        reader, writer = await asyncio.open_connection(host, p, ssl=ctx)
    try:
        conn = h11.Connection(h11.CLIENT)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        names = {n.lower() for n, _ in headers}
        hdrs = list(headers)
        if "host" not in names:
            hdrs.insert(0, ("Host", parts.netloc))
        if body and "content-length" not in names and "transfer-encoding" not in names:
            hdrs.append(("Content-Length", str(len(body))))
        elif not body and method in ("POST", "PUT") and "content-length" not in names:
            hdrs.append(("Content-Length", "0"))
        hdrs.append(("Connection", "close"))
        out = conn.send(h11.Request(method=method, target=target, headers=hdrs))
        if body:
            out += conn.send(h11.Data(data=body))
        out += conn.send(h11.EndOfMessage())
        writer.write(out)
        await writer.drain()
        status, reason, res_headers, chunks = 0, "", [], []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.Response):
                status, reason = event.status_code, event.reason.decode("latin-1")
                res_headers = [(n.decode("latin-1"), v.decode("latin-1"))
                               for n, v in event.headers]
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        return status, reason, res_headers, b"".join(chunks)
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def lua_api(api: Any) -> None:
    """core.httpclient and the HTTPClient class."""
    state = api.state

    async def request(method: Any, url: Any, headers: Any, body: Any, timeout: Any,
                      dst: Any) -> tuple[Any, ...]:
        hdrs = [(as_text(nv[1]), as_text(nv[2])) for nv in headers.values()] if headers else []
        data = as_text(body).encode("latin-1") if body is not None else b""
        limit = (float(timeout) if timeout is not None else DEFAULT_TIMEOUT_MS) / 1000
        try:
            status, reason, res_hdrs, res_body = await asyncio.wait_for(
                exchange(as_text(method), as_text(url), hdrs, data,
                         as_text(dst) if dst is not None else None), limit)
        except TimeoutError:
            return None, "timeout"
        except (OSError, ValueError, h11.ProtocolError) as exc:
            return None, str(exc) or type(exc).__name__
        lua = state.lua
        return (lua.table_from({
            "status": status, "reason": reason, "body": res_body.decode("latin-1"),
            "headers": lua.table_from([lua.table_from([n, v]) for n, v in res_hdrs])}),)

    api.define(LUA, {})
    api.blocking("http_request", request)
