"""``core.tcp()``: the Socket class of HAProxy's Lua API, on asyncio streams.

``connect(addr[, port])`` takes ``ip:port``, ``ipv4@``/``ipv6@`` prefixes, ``[v6]:port``,
a host name, or ``unix@/path``; ``connect_ssl`` adds TLS without certificate checks (as
HAProxy's).  ``receive`` reads a line (``*l``, default, without its end of line), all
until the peer closes (``*a``) or a number of bytes; on failure it returns
``nil, "closed" | "timeout", partial``.  ``settimeout(sec)`` bounds every later wait.
Each wait yields to the event loop (the coroutine machinery of core.sleep), so only the
calling script waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import Any

from .values import as_text

LUA = (Path(__file__).parent / "sockets.lua").read_text()


def split_addr(addr: str, port: Any) -> tuple[str, str | None, int | None]:
    """("tcp", host, port) or ("unix", path, None) from a Socket address."""
    if addr.startswith("unix@"):
        return "unix", addr[5:], None
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if addr.startswith(prefix):
            addr = addr[len(prefix):]
            break
    host, sep, tail = addr.rpartition(":")
    if addr.startswith("[") and "]" in addr:
        end = addr.index("]")
        host, tail = addr[1:end], addr[end + 2:] if addr[end + 1:end + 2] == ":" else ""
    elif not sep or ":" in host:  # no port, or a bare IPv6 address
        host, tail = addr, ""
    p = int(port) if port is not None else (int(tail) if tail else None)
    if p is None or not 0 < p < 65536:
        raise ValueError(f"connect: no port in '{addr}'")
    return "tcp", host, p


class SockHandle:
    """The connection of one Lua Socket."""

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.timeout: float | None = None

    async def _wait(self, aw: Any) -> Any:
        if self.timeout is None:
            return await aw
        return await asyncio.wait_for(aw, self.timeout)

    async def connect(self, addr: Any, port: Any, tls: bool) -> tuple[Any, ...]:
        try:
            kind, host, p = split_addr(as_text(addr), port)
        except ValueError as exc:
            return None, str(exc)
        ctx = None
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        try:
            if kind == "unix":
                assert host is not None
                self.reader, self.writer = await self._wait(
                    asyncio.open_unix_connection(host, ssl=ctx))
            else:
                self.reader, self.writer = await self._wait(
                    asyncio.open_connection(host, p, ssl=ctx))
        except TimeoutError:
            return None, "timeout"
        except OSError as exc:
            return None, f"connection refused ({exc.strerror or exc})"
        return (1,)

    async def send(self, data: Any) -> tuple[Any, ...]:
        if self.writer is None or self.writer.is_closing():
            return None, "closed"
        raw = as_text(data).encode("latin-1")
        try:
            self.writer.write(raw)
            await self._wait(self.writer.drain())
        except TimeoutError:
            return None, "timeout"
        except OSError:
            return None, "closed"
        return (len(raw),)

    async def receive(self, pattern: Any) -> tuple[Any, ...]:
        if self.reader is None:
            return None, "closed", ""
        pat = as_text(pattern)
        rd = self.reader
        try:
            if pat == "*a":
                return (self._s(await self._wait(rd.read())),)
            if pat == "*l":
                line = await self._wait(rd.readline())
                if not line.endswith(b"\n"):
                    return None, "closed", self._s(line)
                return (self._s(line.rstrip(b"\n").rstrip(b"\r")),)
            n = int(float(pat))
            try:
                return (self._s(await self._wait(rd.readexactly(n))),)
            except asyncio.IncompleteReadError as exc:
                return None, "closed", self._s(exc.partial)
        except TimeoutError:
            return None, "timeout", ""
        except ValueError:
            return None, f"invalid receive pattern '{pat}'", ""
        except OSError:
            return None, "closed", ""

    @staticmethod
    def _s(data: bytes) -> str:
        return data.decode("latin-1")

    def close(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        self.reader = self.writer = None

    def name(self, peer: bool) -> tuple[Any, ...]:
        if self.writer is None:
            return (None,)
        info = self.writer.get_extra_info("peername" if peer else "sockname")
        if isinstance(info, tuple):
            return info[0], info[1]
        return (info,)


def lua_api(api: Any) -> None:
    """core.tcp and the Socket class."""

    def settimeout(h: SockHandle, t: Any) -> None:
        h.timeout = None if t is None or float(t) < 0 else float(t)

    api.define(LUA, {"new": SockHandle, "settimeout": settimeout,
                     "close": SockHandle.close, "name": SockHandle.name})
    api.blocking("sock_connect", lambda h, *a: h.connect(*a))
    api.blocking("sock_send", lambda h, data: h.send(data))
    api.blocking("sock_receive", lambda h, pat: h.receive(pat))
