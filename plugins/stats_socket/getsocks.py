"""``_getsocks``: send this process's listening sockets to a new process (HAProxy's
seamless restart; the new process runs with ``-x <this socket>``).

Allowed on a stats socket with ``expose-fd listeners`` whatever its level (as in HAProxy:
its management guide's hitless-reload example uses ``level user``), and on the sessions a
master forwards (its socketpairs expose the listeners); elsewhere the connection closes
without a reply, as HAProxy does.  The wire format is
:mod:`hapx.core.net.sockxfer`'s.  The command is not listed by ``help``.
"""

from __future__ import annotations

import os
import socket
import sys

import anyio
import anyio.abc
from hapx.core.net import sockxfer
from hapx.core.records import CliCommand
from hapx.core.runtime import handover
from hapx.core.runtime.cli_api import CliSession
from hapx.core.runtime.process import PROCESS

from .server import STREAM


def exposes_listeners(cli: CliSession) -> bool:
    """The session's socket may hand listening sockets over."""
    if cli.bind is None:
        return True  # a session forwarded by the master (its socketpair exposes them)
    return cli.bind.options.get("expose-fd") == "listeners"


def _warn(text: str) -> None:
    print(f"[WARNING]  ({PROCESS.pid or os.getpid()}) : {text}", file=sys.stderr, flush=True)


async def _getsocks(cli: CliSession, args: list[str]) -> str:
    cli.closing = True  # the connection ends after the sockets, whatever happens
    stream = cli.ext.get(STREAM)
    if stream is None or not exposes_listeners(cli):
        return ""
    raw = stream.extra(anyio.abc.SocketAttribute.raw_socket)
    # a socket object of our own on the same connection (uvloop's is a pseudo-socket
    # without sendmsg); the stream reads the acknowledgements
    conn = socket.socket(fileno=os.dup(raw.fileno()))
    conn.setblocking(False)

    async def wait_ack() -> bool:
        with anyio.move_on_after(sockxfer.TIMEOUT):
            try:
                return bool(await stream.receive(4))
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return False
        return False

    try:
        entries = handover.exported()
        await sockxfer.send_sockets(conn, entries, wait_ack, anyio.wait_socket_writable)
        if entries:
            handover.mark_handed_over()
    except sockxfer.XferError as exc:
        _warn(str(exc))
    finally:
        conn.close()
    return ""


COMMANDS = [
    CliCommand("_getsocks", words=("_getsocks",), level="user", handler=_getsocks,
               doc="_getsocks\n\nSend the process's listening sockets (bind lines and stats "
                   "sockets) over this connection with SCM_RIGHTS, in HAProxy's format: the "
                   "count, then batches of descriptors with their namespace and interface "
                   "names.  Used by a new process started with '-x <socket>'.  Only on a "
                   "stats socket with 'expose-fd listeners' (any level); elsewhere the "
                   "connection closes without a reply.  Not listed by 'help'."),
]
