"""Listening sockets handed from one generation of workers to the next (master-worker).

Under a master (``-W``) every generation of workers is a child process the master starts
with three descriptors, named in its environment:

``HAPX_MWORKER_CHAN``
    a ``SOCK_SEQPACKET`` socket to the master.  Each listening socket the generation opens
    (bind lines, stats sockets) is sent over it at once with ``SCM_RIGHTS`` under its key
    (:func:`expose`), and ``R`` when the generation is ready (:func:`ready`).  The master
    keeps the sockets of the last ready generation open (HAProxy's ``expose-fd listeners``:
    a socket stays open while one process holds it), so the next generation accepts on the
    very sockets the old one still holds and the kernel's accept queue is never closed.
``HAPX_MWORKER_FDS``
    ``key=fd`` pairs (``;``-separated): the sockets the previous generation exposed, which
    :func:`take` returns instead of binding again.  Those nobody took are closed once the
    generation is ready (:func:`release_untaken`): a bind removed from the configuration
    stops listening then.
``HAPX_MWORKER_CLI``
    a socket over which the master sends one connected socket per master-CLI session to
    forward (``@<n>``, ``@@<n>``); the runtime API serves each as an admin session.

Keys are ``<proto>@<address>`` strings built from the bind address (``tcp4@1.2.3.4:80``,
``tcp6@[::1]:80``, ``unix@/path``, ``abns@name``).  Nothing here runs per request.

Between independent processes (HAProxy's ``-x``, :mod:`hapx.core.net.sockxfer`) the same
object holds the sockets received from the old process (:attr:`Handover.xfer`, handed by a
master to its first generation in ``HAPX_XFER_FDS``), which :func:`take` matches on the
bind's address *and* options, and every listening socket this process opened
(:func:`register`), which the ``_getsocks`` runtime command sends to a new process
(:func:`exported`).  Once they were sent (:func:`mark_handed_over`) this process no
longer removes its unix socket files when it stops: the new process listens on them.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any
from urllib.parse import quote, unquote

from ..net.sockxfer import XferSocket

CHAN_ENV = "HAPX_MWORKER_CHAN"
FDS_ENV = "HAPX_MWORKER_FDS"
CLI_ENV = "HAPX_MWORKER_CLI"
XFER_ENV = "HAPX_XFER_FDS"
READY = b"R"


def _env_fd(name: str) -> int | None:
    value = os.environ.pop(name, "")
    return int(value) if value.isdigit() else None


def _env_fds() -> dict[str, int]:
    out: dict[str, int] = {}
    for item in os.environ.pop(FDS_ENV, "").split(";"):
        key, sep, fd = item.rpartition("=")
        if sep and fd.isdigit():
            out[key] = int(fd)
    return out


class Handover:
    """This process's side of the handover (a module-level singleton, :data:`HANDOVER`)."""

    def __init__(self) -> None:
        self.chan: socket.socket | None = None
        self.inherited: dict[str, int] = {}
        self.cli_fd: int | None = None
        self.active = False
        #: sockets received from an old process (``-x``), not taken yet
        self.xfer: list[XferSocket] = []
        #: this process's listening sockets: (socket, namespace, interface)
        self.exports: list[tuple[socket.socket, str, str]] = []
        #: its sockets were sent to another process (``_getsocks``)
        self.handed_over = False

    def load_env(self) -> None:
        chan = _env_fd(CHAN_ENV)
        self.inherited = _env_fds()
        self.cli_fd = _env_fd(CLI_ENV)
        self.xfer.extend(decode_xfer_env(os.environ.pop(XFER_ENV, "")))
        if chan is not None:
            self.chan = socket.socket(fileno=chan)
            self.active = True

    # -- in a generation --------------------------------------------------------------------
    def take(self, key: str, want: tuple[int, str, str] | None = None
             ) -> socket.socket | None:
        """The previous generation's listening socket for ``key``, or else the old
        process's (``-x``) whose address is ``key`` and whose (options, namespace,
        interface) are ``want``; None when there is none."""
        fd = self.inherited.pop(key, None)
        if fd is None and want is not None:
            for xs in self.xfer:
                if xs.matches(key, want):
                    self.xfer.remove(xs)
                    fd = xs.fd
                    break
        if fd is None:
            return None
        try:
            sock = socket.socket(fileno=fd)
        except OSError:
            return None
        if sock.type != socket.SOCK_DGRAM and \
                not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            sock.close()
            return None
        return sock

    def expose(self, key: str, sock: socket.socket) -> None:
        """Hand ``sock`` to the master (it keeps it for the next generation)."""
        if self.chan is None:
            return
        with contextlib.suppress(OSError):
            socket.send_fds(self.chan, [key.encode()], [sock.fileno()])

    def ready(self, *, tell: bool = True) -> None:
        """The generation is ready: say so (``tell``) and stop exposing."""
        if self.chan is None:
            return
        if tell:
            with contextlib.suppress(OSError):
                self.chan.send(READY)
        self.chan.close()
        self.chan = None

    def release_untaken(self) -> None:
        """Close the inherited (and ``-x``) sockets no bind line took."""
        for fd in self.inherited.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self.inherited.clear()
        for xs in self.xfer:
            xs.close()
        self.xfer.clear()

    def register(self, sock: socket.socket, opts: dict[str, Any]) -> None:
        """A listening socket of this process, for ``_getsocks``."""
        self.exports.append((sock, str(opts.get("namespace") or ""),
                             str(opts.get("interface") or "")))

    def exported(self) -> list[tuple[int, str, str]]:
        """The open listening sockets of this process: (fd, namespace, interface), in
        descriptor order (as HAProxy lists them)."""
        self.exports = [e for e in self.exports if e[0].fileno() >= 0]
        return sorted((s.fileno(), ns, iface) for s, ns, iface in self.exports)


#: this process's handover state (filled from the environment by :func:`load`)
HANDOVER = Handover()


def load() -> Handover:
    """Read the master's descriptors from the environment (once, at start)."""
    if not HANDOVER.active and HANDOVER.cli_fd is None:
        HANDOVER.load_env()
    return HANDOVER


def under_master() -> bool:
    return HANDOVER.active


def take(key: str, want: tuple[int, str, str] | None = None) -> socket.socket | None:
    return HANDOVER.take(key, want)


def expose(key: str, sock: socket.socket) -> None:
    HANDOVER.expose(key, sock)


def register(sock: socket.socket, opts: dict[str, Any]) -> None:
    HANDOVER.register(sock, opts)


def exported() -> list[tuple[int, str, str]]:
    return HANDOVER.exported()


def mark_handed_over() -> None:
    HANDOVER.handed_over = True


def keeps_paths() -> bool:
    """Unix socket files stay when this process closes its listeners: the next generation
    (master-worker) or the process that took them over (``-x``) listens on them."""
    return HANDOVER.active or HANDOVER.handed_over


def encode_xfer_env(socks: list[XferSocket]) -> str:
    """``HAPX_XFER_FDS``: ``fd,namespace,interface`` items (``;``-separated, quoted)."""
    return ";".join(f"{xs.fd},{quote(xs.namespace, safe='')},{quote(xs.interface, safe='')}"
                    for xs in socks)


def decode_xfer_env(text: str) -> list[XferSocket]:
    out = []
    for item in text.split(";"):
        parts = item.split(",")
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        try:
            out.append(XferSocket.from_fd(int(parts[0]), unquote(parts[1]), unquote(parts[2])))
        except OSError:
            continue
    return out


def master_cli_fd() -> int | None:
    """The descriptor the master sends forwarded CLI sessions over (None without one)."""
    return HANDOVER.cli_fd


def ip_key(addr: Any, port: int) -> str:
    if addr.family == "inet6":
        ip = str(addr.ip) if addr.ip is not None else "::"
        return f"tcp6@[{ip}]:{port}"
    ip = str(addr.ip) if addr.ip is not None else "0.0.0.0"
    return f"tcp4@{ip}:{port}"


def path_key(addr: Any) -> str:
    """Key of a unix or abstract socket address."""
    if addr.family == "unix":
        return f"unix@{os.path.abspath(addr.path)}"
    return f"{addr.family}@{addr.path}"


def ready(*, tell: bool = True) -> None:
    HANDOVER.ready(tell=tell)


def release_untaken() -> None:
    HANDOVER.release_untaken()
