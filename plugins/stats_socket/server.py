"""Serving the ``stats socket`` listeners on the control plane (anyio tasks started from
``hapx_startup``; never on the per-request path).

Each connection gets a :class:`~hapx.core.runtime.cli_api.CliSession` at the level of its
socket.  Non-interactive sessions run one line and close; interactive ones (``prompt``)
loop until ``quit``, the peer closes, or ``stats timeout`` expires while waiting for a line.
``stats maxconn`` bounds the concurrent sessions (others wait to be served).  Under a
master (``-W``) the sessions it forwards (``@<n>``, ``@@<n>``) arrive as sockets over the
descriptor :func:`hapx.core.runtime.handover.master_cli_fd` names, at level admin.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream
from hapx.core.net.listeners import BindError, open_sockets
from hapx.core.runtime import handover
from hapx.core.runtime.cli_api import CliSession

#: the session's key in ``cli.ext`` for its connection (an anyio socket stream)
STREAM = "stats_socket.stream"
#: longest accepted command line (HAProxy's buffer size)
MAX_LINE = 16384
DEFAULT_TIMEOUT_MS = 10000


class StatsServer:
    """The stats sockets of one configuration."""

    def __init__(self, config: Any, runtime: Any) -> None:
        self.config = config
        self.runtime = runtime
        g = config.global_.settings
        self.binds = list(g.get("stats socket") or [])
        self.timeout = (g.get("stats timeout") or DEFAULT_TIMEOUT_MS) / 1000
        self.limiter = anyio.CapacityLimiter(int(g.get("stats maxconn") or 10))
        self.sockets: list[tuple[Any, Any]] = []
        self.scope = anyio.CancelScope()
        self.paths: list[str] = []

    def open(self) -> list[str]:
        """Open every socket now (errors are reported as HAProxy does); return them."""
        errors = []
        for bind in self.binds:
            try:
                for _kind, sock in open_sockets(bind.address, dict(bind.options), 10):
                    self.sockets.append((bind, sock))
                    if bind.address.family == "unix":
                        self.paths.append(bind.address.path)
            except BindError as exc:
                errors.append(f"Binding [{bind.file}:{bind.line}] for stats socket: "
                              f"{exc.strerror or exc}")
        return errors

    async def serve(self) -> None:
        with self.scope:
            async with anyio.create_task_group() as tg:
                for bind, sock in self.sockets:
                    listener = await anyio.abc.SocketListener.from_socket(sock)
                    tg.start_soon(self._accept, listener, bind)
                fd = handover.master_cli_fd()
                if fd is not None:
                    tg.start_soon(self._master_sessions, fd, tg)

    async def _master_sessions(self, fd: int, tg: anyio.abc.TaskGroup) -> None:
        """The master CLI's forwarded sessions (``@<n>``, ``@@<n>``): the master sends one
        connected socket per session over ``fd``; each is an admin session."""
        chan = socket.socket(fileno=fd)
        chan.setblocking(False)
        with chan:
            while True:
                await anyio.wait_readable(chan)
                try:
                    msg, fds, _flags, _addr = socket.recv_fds(chan, 16, 8)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    return
                if not msg and not fds:
                    return  # the master closed its end
                for conn_fd in fds:
                    conn = socket.socket(fileno=conn_fd)
                    stream = await anyio.abc.SocketStream.from_socket(conn)
                    tg.start_soon(self._session, stream, None)

    async def _accept(self, listener: Any, bind: Any) -> None:
        async with listener:
            await listener.serve(lambda stream: self._session(stream, bind))

    def stop(self) -> None:
        self.scope.cancel()
        if handover.keeps_paths():
            return  # the next generation or process serves these sockets (their paths stay)
        for path in self.paths:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def _session(self, stream: Any, bind: Any) -> None:
        async with self.limiter, stream:
            level = bind.options.get("level", "operator") if bind is not None else "admin"
            cli = CliSession(self.config, self.runtime, level, bind=bind)
            cli.ext[STREAM] = stream  # the connection itself (_getsocks sends over it)
            reader = BufferedByteReceiveStream(stream)

            async def send(text: str) -> None:
                if text:
                    await stream.send(text.encode("latin-1", "replace"))
            cli.send = send

            async def wait_input() -> None:
                """Data or the end of the client's side (what stops a streamed output);
                what was sent stays for the next command."""
                if reader.buffer:
                    return
                try:
                    data = await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError,
                        anyio.ClosedResourceError):
                    return
                reader._buffer.extend(data)  # noqa: SLF001
            cli.wait_input = wait_input
            try:
                await self._loop(cli, reader, stream)
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError,
                    anyio.ClosedResourceError, anyio.DelimiterNotFound, TimeoutError,
                    ConnectionError):
                return

    async def _readline(self, reader: BufferedByteReceiveStream) -> str:
        with anyio.fail_after(self.timeout):
            try:
                data = await reader.receive_until(b"\n", MAX_LINE)
            except anyio.IncompleteRead:
                data = reader.buffer
                if not data:
                    raise
                # a last line without a line feed still runs (echo -n | socat)
                reader._buffer.clear()  # noqa: SLF001
        return data.decode("latin-1").rstrip("\r")

    async def _loop(self, cli: CliSession, reader: BufferedByteReceiveStream,
                    stream: Any) -> None:
        while True:
            line = await self._readline(reader)
            if line.rstrip().endswith("<<"):
                line = line.rstrip()[:-2]
                payload = []
                while True:
                    if cli.mode == "p":
                        await stream.send(b"+ ")
                    more = await self._readline(reader)
                    if more == "":
                        break
                    payload.append(more)
                cli.payload = "\n".join(payload) + ("\n" if payload else "")
            else:
                cli.payload = None
            out = await cli.run_line(line)
            if await cli.answer(stream, out):
                return
