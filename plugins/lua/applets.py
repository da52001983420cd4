"""Lua services: ``core.register_service(name, "http"|"tcp", fn)``.

An HTTP service is used by ``http-request use-service lua.<name>``: the applet sees the
whole request (its body is awaited first), and what it sends becomes the response, handed
to the data path as ``strm.ext["http_reply"]`` (the same way ``return`` answers).  The
response is produced once the Lua function ends (the body is buffered, not streamed).

A TCP service is used by ``tcp-request content use-service lua.<name>``: the applet is the
protocol of the rest of the client connection; ``receive``/``getline`` wait for data (the
3.2 ``receive`` timeout included) without blocking the process, and the connection is
closed when the function returns.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from hapx.core.records import ActResult
from hapx.core.stream import HttpMessage

from .calls import _NO_WAITS, WAITING, _waits
from .runtime import LuaState, alert


def _reason(code: int) -> str:
    from hapx.core.proto.pages import reason

    return reason(code)


class HttpApplet:
    """The state of one AppletHTTP (what the Lua side calls through the bridge)."""

    def __init__(self, req: HttpMessage) -> None:
        self.status = 200
        self.reason: str | None = None
        self.headers: list[tuple[str, str]] = []
        self.started = False
        self.out: list[str] = []
        self.body = (req.body or b"").decode("latin-1")
        self.pos = 0

    def set_status(self, code: int, reason: str | None) -> None:
        if not 100 <= code <= 599:
            from lupa.lua54 import LuaError

            raise LuaError(f"invalid status code ({code}), must be between 100 and 599")
        self.status, self.reason = code, reason

    def add_header(self, name: str, value: str) -> None:
        self.headers.append((name, value))

    def start_response(self) -> None:
        self.started = True

    def send(self, data: str) -> None:
        self.out.append(data)

    def try_receive(self) -> Any:
        return self.read(-1)

    def read(self, size: int) -> str:
        end = len(self.body) if size is None or size < 0 else self.pos + int(size)
        data = self.body[self.pos:end]
        self.pos += len(data)
        return data

    def now(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """Serve a blocking call at once (the body is all there)."""
        if op == "getline":
            nl = self.body.find("\n", self.pos)
            return (self.read(-1 if nl < 0 else nl + 1 - self.pos),)
        return (self.read(args[0] if args else -1),)

    async def serve(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        res = self.now(op, args)
        assert res is not None
        return res

    def reply(self) -> HttpMessage:
        body = "".join(self.out).encode("latin-1")
        return HttpMessage(status=self.status, reason=self.reason or _reason(self.status),
                           headers=list(self.headers), body=body, body_complete=True)


def _has_body(req: HttpMessage) -> bool:
    if req.get("transfer-encoding") is not None:
        return True
    length = req.get("content-length")
    return bool(length and length.strip() not in ("", "0"))


class HttpService:
    """The applet of one ``use-service lua.<name>`` rule (HTTP)."""

    def __init__(self, state: LuaState, name: str, fn: Any) -> None:
        self.state, self.name, self.fn = state, name, fn

    def run(self, strm: Any) -> ActResult:
        waiting = strm.ext.get(WAITING)
        if waiting:
            pending = waiting.pop(id(self), None)
            if pending is not None:
                task, ap = pending
                return self.finish(strm, ap, task.result())
        req = strm.req
        if _has_body(req) and not req.body_complete:
            wake_on_body = _waits("wake_on_body")
            if wake_on_body is not None:
                return wake_on_body(strm, 0)
        st = self.state
        ap = HttpApplet(req)
        query = req.query
        fields = {"method": req.method, "version": req.version, "path": req.path,
                  "qs": query or "", "length": len(ap.body),
                  "headers": self._headers(req)}
        lap = st.new_applet("http", strm, ap, st.lua.table_from(fields))
        co = st.start(self.fn, st.service_ms, lap)
        res = st.step_once(co)
        while res[0] == "yield" and res[1] in ("receive", "getline"):
            res = st.step_once(co, *ap.now(res[1], res[3:]))
        if res[0] == "yield":
            wake_on = _waits("wake_on")
            if wake_on is None:
                return self.finish(strm, ap, ("error", _NO_WAITS))
            task = asyncio.get_running_loop().create_task(st.drive(co, res))
            strm.ext.setdefault(WAITING, {})[id(self)] = (task, ap)
            return wake_on(strm, task)
        return self.finish(strm, ap, res)

    def _headers(self, req: HttpMessage) -> Any:
        lua = self.state.lua
        return self.state.headers_table(lua.table_from([lua.table_from([n, v])
                                                        for n, v in req.headers]))

    def finish(self, strm: Any, ap: HttpApplet, res: tuple[Any, ...]) -> ActResult:
        if res[0] == "error":
            alert(f"Lua applet http '{self.name}': runtime error: {res[1]}")
            if not ap.started:
                strm.ext["http_reply"] = HttpMessage(
                    status=500, reason=_reason(500), body=b"", body_complete=True,
                    headers=[("content-type", "text/plain")])
                return ActResult.DONE
        strm.ext["http_reply"] = ap.reply()
        return ActResult.DONE


class TcpApplet(asyncio.Protocol):
    """One AppletTCP: the protocol of a client connection handed to a Lua TCP service."""

    def __init__(self, service: TcpService, strm: Any, transport: Any) -> None:
        self.service, self.strm, self.transport = service, strm, transport
        self.buf = bytearray()
        self.eof = False
        self.waiter: asyncio.Future[None] | None = None
        st = service.state
        lap = st.new_applet("tcp", strm, self, None)
        self.co = st.start(service.fn, st.service_ms, lap)
        self.task = asyncio.get_running_loop().create_task(self.main())

    async def main(self) -> None:
        st = self.service.state
        res = st.step_once(self.co)
        res = await st.drive(self.co, res)
        if res[0] == "error":
            alert(f"Lua applet tcp '{self.service.name}': runtime error: {res[1]}")
        with contextlib.suppress(Exception):
            if not self.transport.is_closing():
                self.transport.close()

    # -- connection events ---------------------------------------------------------------------
    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._wake()

    # -- what Lua calls ---------------------------------------------------------------------------
    def send(self, data: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(data.encode("latin-1"))

    def _take(self, n: int) -> str:
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data.decode("latin-1")

    def try_receive(self) -> Any:
        if self.buf:
            return self._take(len(self.buf))
        return "" if self.eof else None

    async def serve(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        loop = asyncio.get_running_loop()
        if op == "getline":
            size, timeout = -1, -1
        else:
            size = int(args[0]) if args and args[0] is not None else -1
            timeout = int(args[1]) if len(args) > 1 and args[1] is not None else -1
        deadline = loop.time() + timeout / 1000 if timeout >= 0 else None
        while True:
            if op == "getline":
                nl = self.buf.find(b"\n")
                if nl >= 0:
                    return (self._take(nl + 1),)
                if self.eof:
                    return (self._take(len(self.buf)),)
            elif size < 0:
                if self.eof:
                    return (self._take(len(self.buf)),)
            elif len(self.buf) >= size or (self.eof and self.buf):
                return (self._take(size),)
            elif self.eof:
                return ("",)
            self.waiter = loop.create_future()
            try:
                if deadline is None:
                    await self.waiter
                else:
                    left = deadline - loop.time()
                    if left <= 0:
                        raise TimeoutError
                    await asyncio.wait_for(self.waiter, left)
            except TimeoutError:
                if size > 0 and self.buf:
                    return (self._take(size),)
                return (None,)
            finally:
                self.waiter = None


class TcpService:
    """The applet of one ``tcp-request content use-service lua.<name>`` rule: called by
    the TCP data path as ``applet(strm, transport)``."""

    def __init__(self, state: LuaState, name: str, fn: Any) -> None:
        self.state, self.name, self.fn = state, name, fn

    def __call__(self, strm: Any, transport: Any) -> TcpApplet:
        return TcpApplet(self, strm, transport)
