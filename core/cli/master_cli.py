"""The master CLI (``-S <addr>[,<opt>,<val>...]``): HAProxy's master command line.

It runs the runtime API's interpreter (:class:`~hapx.core.runtime.cli_api.CliSession`) with
the master's own commands (``show proc``, ``reload``, ``hard-reload``, ``show startup-logs``,
``show version``, the level commands, ``help``/``prompt``/``quit``) and routes to workers:

``@<n> <cmd>`` / ``@!<pid> <cmd>``
    run one command in the n-th current worker (from 1) or in the worker with that pid (old
    workers too); alone on a line (``@1``), switch the session's context to that worker
    until ``@`` or ``@master``.  Each forwarded command opens its own runtime API session in
    the worker: the master sends it a connected socket over the generation's CLI channel.
``@@<n> [<line>]`` / ``@@!<pid> [<line>]`` (3.2)
    deliver the rest of the line, ``;`` included, to the worker and stay attached until the
    worker closes the session: data sent meanwhile goes to the worker.  Alone, it opens an
    interactive session on the worker with the master session's prompt mode (``i``, ``p``,
    ``timed``); ``quit`` there comes back to the master.

The session starts non-interactive (one line, then close); ``prompt`` toggles the prompt
(``master> ``, ``master[ReloadFailed]> `` after a refused reload, ``<pid>> `` in a worker's
context), ``prompt i`` is the silent interactive mode for agents, ``prompt p`` the prompt,
``timed`` adds the uptime; ``n`` is refused here as in HAProxy.  ``@@`` is recognised at the
start of a line; payloads (``<<``) are not forwarded.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from typing import Any

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from ..records import CliCommand
from ..runtime.cli_api import (
    LEVELS,
    PERMISSION_DENIED,
    SESSION_COMMANDS,
    CliError,
    CliSession,
    Commands,
    split_commands,
)
from ..runtime.statdump import VERSION
from .master import Master, Worker, uptime

#: longest accepted command line
MAX_LINE = 16384
DEFAULT_LEVEL = "admin"


def escape(word: str) -> str:
    """A word as the worker's command splitter reads it back."""
    return word.replace("\\", "\\\\").replace(";", "\\;").replace(" ", "\\ ")


def show_proc(master: Master) -> str:
    """HAProxy's ``show proc`` table (every field ``%-15s``)."""
    def row(*fields: Any) -> str:
        return " ".join(f"{str(f):<15}" for f in fields).rstrip(" ") + "\n"

    out = ["#" + f"{'<PID>':<14} " + " ".join(f"{h:<15}" for h in (
        "<type>", "<reloads>", "<uptime>", "<version>")) + "\n"]
    out.append(row(os.getpid(), "master", f"{master.reloads} [failed: "
                   f"{master.failed_reloads}]", uptime(master.started), VERSION))
    out.append("# workers\n")
    for w in master.current():
        out.append(row(w.pid, "worker", w.reloads, uptime(w.started), w.version))
    old = [w for w in master.workers if w.old]
    if old:
        out.append("# old workers\n")
        for w in old:
            out.append(row(w.pid, "worker", w.reloads, uptime(w.started), w.version))
    out.append("# programs\n")
    return "".join(out)


class MasterSession(CliSession):
    """One master CLI connection."""

    def __init__(self, master: Master, level: str, commands: Commands) -> None:
        super().__init__(None, master, level, commands=commands)
        self.master = master
        #: the worker commands go to (None: the master)
        self.target: Worker | None = None
        #: the line's remaining commands are dropped (reload, unknown target)
        self.stop_line = False

    def prompt(self) -> str:
        if self.mode != "p":
            return ""
        head = ""
        if self.timed:
            up = int(time.time() - self.master.started)
            d, rest = divmod(up, 86400)
            h, rest = divmod(rest, 3600)
            m, s = divmod(rest, 60)
            head = f"[{d}:{h:02d}:{m:02d}:{s:02d}] "
        if self.target is not None:
            return f"{head}{self.target.pid}> "
        return head + ("master[ReloadFailed]> " if self.master.reload_failed else "master> ")

    async def forward(self, worker: Worker, line: str) -> str:
        """Run ``line`` in ``worker``'s runtime API; its whole reply."""
        conn = await self.connect(worker)
        if conn is None:
            return f"Can't connect to the target CLI of process {worker.pid}!\n"
        async with conn:
            prefix = "" if self.level == "admin" else f"{self.level}; "
            await conn.send((prefix + line + "\n").encode("latin-1", "replace"))
            chunks = []
            with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError,
                                     ConnectionError):
                while True:
                    chunks.append(await conn.receive())
        reply = b"".join(chunks).decode("latin-1")
        return reply.removeprefix("\n") if prefix else reply

    @staticmethod
    async def connect(worker: Worker) -> anyio.abc.SocketStream | None:
        """A new runtime API session in ``worker`` (a socket sent over its CLI channel)."""
        ours, theirs = socket.socketpair()
        try:
            socket.send_fds(worker.cli, [b"S"], [theirs.fileno()])
        except OSError:
            ours.close()
            return None
        finally:
            theirs.close()
        return await anyio.abc.SocketStream.from_socket(ours)

    def resolve(self, word: str) -> tuple[bool, Worker | None]:
        """``@...`` (or ``@@...``) prefix: (known, worker or None for the master)."""
        target = word.lstrip("@")
        if target in ("", "master"):
            return True, None
        worker = self.master.find(target)
        return worker is not None, worker

    async def run_args(self, args: list[str]) -> str | None:
        """One command of a line: its output, or None when it prints nothing at all (a
        context switch, an empty output)."""
        if args[0].startswith("@"):
            return await _route(self, args)
        if self.target is not None and args[0] != "prompt":
            if self.target not in self.master.workers:
                self.stop_line = True
                return f"Can't find the target PID matching the prefix '@!{self.target.pid}'\n"
            return await self.forward(self.target, " ".join(escape(a) for a in args))
        reply = await self.run(args)
        # the master's own outputs end with an empty line; nothing for an empty output
        return reply + "\n" if reply else None

    async def run_line(self, line: str) -> str:
        out = []
        self.stop_line = False
        for args in split_commands(line):
            reply = await self.run_args(args)
            if reply is not None:
                out.append(reply)
            if self.closing or self.stop_line:
                break
        return "".join(out)


# -- the master's commands ---------------------------------------------------------------------

def _session(cli: CliSession) -> MasterSession:
    assert isinstance(cli, MasterSession)
    return cli


def _show_proc(cli: CliSession, args: list[str]) -> str:
    return show_proc(_session(cli).master)


async def _reload(cli: CliSession, args: list[str]) -> str:
    master = _session(cli).master
    ok = await master.reload(hard=args[0] == "hard-reload")
    cli.closing = True
    return f"Success={1 if ok else 0}\n--\n" + "".join(master.startup_logs)


def _startup_logs(cli: CliSession, args: list[str]) -> str:
    return "".join(_session(cli).master.startup_logs)


def _version(cli: CliSession, args: list[str]) -> str:
    return VERSION + "\n"


def _prompt(cli: CliSession, args: list[str]) -> str:
    opts = args[1:]
    if not opts:
        cli.mode = "n" if cli.mode == "p" else "p"
        return ""
    for opt in opts:
        if opt in ("i", "p"):
            cli.mode = opt
        elif opt == "timed":
            cli.timed = not cli.timed
        else:
            raise CliError(f"Unknown prompt mode '{opt}'. The master CLI accepts: i "
                           "(interactive without prompt), p (interactive with prompt), "
                           "timed (toggle the uptime in the prompt).")
    return ""


async def _route(cli: CliSession, args: list[str]) -> str | None:
    """``@<n>``, ``@!<pid>``, ``@``/``@master`` [<command>]: run the command there (its
    reply, framing included), or alone switch the session's context (None).  ``@@<n>``
    after a ``;`` forwards the rest of its command only (at the start of a line the session
    attaches instead, :meth:`MasterCli.attach`)."""
    session = _session(cli)
    known, worker = session.resolve(args[0])
    if not known:
        session.stop_line = True
        return f"Can't find the target PID matching the prefix '{args[0]}'\n"
    if len(args) == 1:
        session.target = worker
        return None
    if worker is None:
        reply = await session.run(args[1:])
        return reply + "\n" if reply else None
    return await session.forward(worker, " ".join(escape(a) for a in args[1:]))


MASTER_COMMANDS = (
    CliCommand("@<relative pid>", words=("@<relative pid>",), level="user", handler=_route,
               usage="@<relative pid>",
               doc="@<relative pid> [<command>]\n\nSend a command to the <relative pid> "
                   "process (the n-th current worker, from 1); alone, switch to it."),
    CliCommand("@!<pid>", words=("@!<pid>",), level="user", handler=_route,
               usage="@!<pid>",
               doc="@!<pid> [<command>]\n\nSend a command to the <pid> process (old "
                   "workers too); alone, switch to it."),
    CliCommand("@@<relative pid>", words=("@@<relative pid>",), level="user",
               handler=_route, usage="@@<relative pid>",
               doc="@@<relative pid>|@@!<pid> [<line>]\n\nSend the rest of the line to the "
                   "process and stay attached until it ends; alone, an interactive "
                   "session."),
    CliCommand("@master", words=("@master",), level="user", handler=_route,
               usage="@master",
               doc="@master [<command>]\n\nSend a command to the master process; alone, "
                   "switch back to it."),
    CliCommand("show proc", words=("show", "proc"), level="user", handler=_show_proc,
               usage="show proc",
               doc="show proc\n\nShow processes status: the master, the workers, the old "
                   "workers still finishing, with their reloads, uptime and version."),
    CliCommand("reload", words=("reload",), level="operator", handler=_reload,
               usage="reload",
               doc="reload\n\nReload haproxy: start a new worker with the configuration "
                   "files as they are now, then stop the old one gracefully; answers "
                   "Success=1 or Success=0 and the startup logs, then closes."),
    CliCommand("hard-reload", words=("hard-reload",), level="operator", handler=_reload,
               usage="hard-reload",
               doc="hard-reload\n\nReload haproxy and terminate the old worker at once "
                   "(-st rather than -sf)."),
    CliCommand("show startup-logs", words=("show", "startup-logs"), level="operator",
               handler=_startup_logs, usage="show startup-logs",
               doc="show startup-logs\n\nShow the messages of the last start or reload."),
    CliCommand("show version", words=("show", "version"), level="user", handler=_version,
               usage="show version",
               doc="show version\n\nShow version of the current process."),
    CliCommand("prompt", words=("prompt",), level="user", handler=_prompt,
               doc="prompt [i | p | timed]*\n\nToggle the prompt; i: interactive without "
                   "prompt (for agents), p: interactive with prompt, timed: toggle the "
                   "uptime in the prompt."),
    *SESSION_COMMANDS,
)


# -- serving -----------------------------------------------------------------------------------

class MasterCli:
    def __init__(self, master: Master, level: str) -> None:
        self.master = master
        self.level = level
        self.commands = Commands(MASTER_COMMANDS)

    async def session(self, stream: anyio.abc.ByteStream) -> None:
        async with stream:
            cli = MasterSession(self.master, self.level, self.commands)
            reader = BufferedByteReceiveStream(stream)
            with contextlib.suppress(anyio.EndOfStream, anyio.IncompleteRead,
                                     anyio.BrokenResourceError, anyio.ClosedResourceError,
                                     anyio.DelimiterNotFound, ConnectionError):
                await self.loop(cli, reader, stream)

    async def readline(self, reader: BufferedByteReceiveStream) -> str:
        try:
            data = await reader.receive_until(b"\n", MAX_LINE)
        except anyio.IncompleteRead:
            data = bytes(reader.buffer)
            if not data:
                raise
            reader._buffer.clear()  # noqa: SLF001 - a last line without a line feed
        return data.decode("latin-1").rstrip("\r")

    async def loop(self, cli: MasterSession, reader: BufferedByteReceiveStream,
                   stream: anyio.abc.ByteStream) -> None:
        while True:
            line = await self.readline(reader)
            head = line.lstrip()
            if head.startswith("@@"):
                word, _, rest = head.partition(" ")
                out = await self.attach(cli, word, rest, reader, stream)
            else:
                out = await cli.run_line(line)
            if await cli.answer(stream, out):
                return

    async def attach(self, cli: MasterSession, word: str, rest: str,
                     reader: BufferedByteReceiveStream, stream: anyio.abc.ByteStream) -> str:
        """``@@<target> [<line>]``: a session in the worker, relayed both ways until the
        worker closes it."""
        known, worker = cli.resolve(word)
        if not known or worker is None:
            return f"Can't find the target PID matching the prefix '{word}'\n"
        if not cli.has_level("admin") and rest.strip():
            rest = f"{cli.level}; {rest}"
        conn = await cli.connect(worker)
        if conn is None:
            return f"Can't connect to the target CLI of process {worker.pid}!\n"
        if rest.strip():
            first = rest + "\n"
        else:
            mode = "p" if cli.mode == "p" else "i"
            first = f"prompt {mode}{' timed' if cli.timed else ''}\n"
            if not cli.has_level("admin"):
                first = f"{cli.level}\n" + first
        async with conn:
            await conn.send(first.encode("latin-1", "replace"))
            pending = bytes(reader.buffer)
            reader._buffer.clear()  # noqa: SLF001 - what followed the line is the worker's
            if pending:
                await conn.send(pending)
            async with anyio.create_task_group() as tg:
                async def upstream() -> None:
                    with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError,
                                             anyio.ClosedResourceError, ConnectionError):
                        while True:
                            await conn.send(await stream.receive())
                tg.start_soon(upstream)
                with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError,
                                         anyio.ClosedResourceError, ConnectionError):
                    while True:
                        await stream.send(await conn.receive())
                tg.cancel_scope.cancel()
        return ""


async def open_master_cli(spec: str) -> tuple[anyio.abc.Listener, str]:
    """``-S <bind>[,<opt>,<val>...]``: a unix socket path (``unix@`` optional; ``mode``,
    ``uid``/``gid``/``user``/``group``, ``level``) or ``ipv4@host:port`` / ``ipv6@...``."""
    parts = spec.split(",")
    addr, opts = parts[0], parts[1:]
    settings = dict(zip(opts[::2], opts[1::2], strict=False))
    level = settings.get("level", DEFAULT_LEVEL)
    if level not in LEVELS:
        level = DEFAULT_LEVEL
    for prefix in ("ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"):
        if addr.startswith(prefix):
            host, _, port = addr[len(prefix):].rpartition(":")
            listener = await anyio.create_tcp_listener(local_host=host.strip("[]") or None,
                                                       local_port=int(port))
            return listener, level
    path = addr.removeprefix("unix@")
    if os.path.exists(path):
        os.unlink(path)
    listener = await anyio.create_unix_listener(path)
    if "mode" in settings:
        os.chmod(path, int(settings["mode"], 8))
    uid = settings.get("uid")
    gid = settings.get("gid")
    if "user" in settings:
        import pwd

        uid = str(pwd.getpwnam(settings["user"]).pw_uid)
    if "group" in settings:
        import grp

        gid = str(grp.getgrnam(settings["group"]).gr_gid)
    if uid is not None or gid is not None:
        os.chown(path, int(uid) if uid else -1, int(gid) if gid else -1)
    return listener, level


async def serve_master_cli(master: Master, spec: str, *,
                           task_status: anyio.abc.TaskStatus[None]
                           = anyio.TASK_STATUS_IGNORED) -> None:
    listener, level = await open_master_cli(spec)
    task_status.started()
    mcli = MasterCli(master, level)
    async with listener:
        await listener.serve(mcli.session)


__all__ = ["MASTER_COMMANDS", "MasterCli", "MasterSession", "PERMISSION_DENIED",
           "serve_master_cli", "show_proc"]
