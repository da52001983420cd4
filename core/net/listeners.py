"""Listening sockets and the accept loop.

:func:`open_sockets` turns one bind address into listening sockets: IPv4/IPv6 (one socket
per port of a range), unix paths (with mode/uid/gid), abstract sockets, an inherited
listening descriptor (``fd@<n>``, adopted as is, never bound again) and ``sockpair@<n>``
(a unix socket over which another process sends accepted connections).  A socket the
previous generation (master-worker) or the old process (``-x``) hands over is used instead
of binding again.  :func:`listen_ip`
binds one more socket on an IP address already listened on (SO_REUSEPORT), for the other
worker processes.

:class:`Listener` accepts with its own reader callback rather than ``create_server``, so the
engine can stop accepting while ``maxconn`` is reached: the connections then wait in the
kernel's accept queue, none is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import grp
import os
import pwd
import socket
from collections.abc import Callable
from typing import Any

from ..runtime import handover
from . import sockxfer

#: connections accepted per readiness event before giving the loop back
ACCEPT_BURST = 64
#: seconds an accept loop rests when the process is out of descriptors or memory
RESOURCE_PAUSE = 0.1


class BindError(OSError):
    """A bind that failed; ``str()`` is HAProxy's wording without the prefix."""


def _ip_socket(addr: Any, port: int, opts: dict[str, Any], backlog: int) -> socket.socket:
    family = socket.AF_INET6 if addr.family == "inet6" else socket.AF_INET
    host = str(addr.ip) if addr.ip is not None else ("::" if family == socket.AF_INET6 else "")
    dgram = _datagram(addr)
    sock = socket.socket(family, socket.SOCK_DGRAM if dgram else socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if opts.get("reuseport") and hasattr(socket, "SO_REUSEPORT"):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            v6only = 1 if opts.get("v6only") else 0
            if opts.get("v4v6"):
                v6only = 0
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        if opts.get("transparent") and hasattr(socket, "IP_TRANSPARENT"):
            sock.setsockopt(socket.SOL_IP, socket.IP_TRANSPARENT, 1)
        if opts.get("defer-accept") and hasattr(socket, "TCP_DEFER_ACCEPT") and not dgram:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
        sock.bind((host, port))
        if not dgram:
            sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, f"cannot bind socket ({exc.strerror}) for [{_show(addr, port)}]"
                        ) from None
    return sock


def _datagram(addr: Any) -> bool:
    """A bind address served over UDP datagrams (``quic4@``/``quic6@``): its sockets are
    handed to the plugin serving the transport (``bind.datagram_server``) rather than to
    an accept loop."""
    return getattr(addr, "transport", "stream") == "quic"


def listen_ip(addr: Any, port: int, opts: dict[str, Any], backlog: int = 1024
              ) -> socket.socket:
    """One listening IP socket of ``addr`` on ``port`` (a worker binding again, with
    SO_REUSEPORT, the address the first worker listens on)."""
    sock = _ip_socket(addr, port, opts, backlog)
    handover.register(sock, opts)
    return sock


def _show(addr: Any, port: int | None) -> str:
    if addr.family in ("inet", "inet6"):
        ip = str(addr.ip) if addr.ip is not None else ("::" if addr.family == "inet6"
                                                       else "0.0.0.0")
        return f"[{ip}]:{port}" if addr.family == "inet6" else f"{ip}:{port}"
    return addr.text


def _unix_socket(addr: Any, opts: dict[str, Any], backlog: int) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = addr.sockaddr()
    try:
        if addr.family == "unix":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        sock.bind(path)
        if addr.family == "unix":
            _unix_perms(path, opts)
        sock.listen(backlog)
    except (OSError, KeyError) as exc:
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) else f"unknown user or group {exc}"
        raise BindError(getattr(exc, "errno", 0) or 0,
                        f"cannot bind UNIX socket ({reason}) [{addr.path}]") from None
    return sock


def _unix_perms(path: str, opts: dict[str, Any]) -> None:
    mode = opts.get("mode")
    if mode is not None:
        os.chmod(path, int(str(mode), 8) if not isinstance(mode, int) else mode)
    uid = opts.get("uid")
    gid = opts.get("gid")
    if opts.get("user") is not None:
        uid = pwd.getpwnam(str(opts["user"])).pw_uid
    if opts.get("group") is not None:
        gid = grp.getgrnam(str(opts["group"])).gr_gid
    if uid is not None or gid is not None:
        os.chown(path, int(uid) if uid is not None else -1, int(gid) if gid is not None else -1)


def _inherited(addr: Any) -> socket.socket:
    try:
        sock = socket.socket(fileno=int(addr.fd))
    except OSError as exc:
        raise BindError(exc.errno, f"cannot use inherited fd {addr.fd} ({exc.strerror}) "
                                   f"[{addr.text}]") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET,
                                                              socket.SO_ACCEPTCONN):
        sock.detach()
        raise BindError(0, f"inherited fd {addr.fd} is not a listening stream socket "
                           f"[{addr.text}]")
    return sock


def _handed(key: str, backlog: int, bind: Callable[[], socket.socket],
            want: tuple[int, str, str]) -> socket.socket:
    """The previous generation's socket for ``key`` (master-worker reload), the old
    process's one with the same address and options (``-x``), or a new one; either way the
    master is handed it for the next generation, and ``_getsocks`` may send it."""
    sock = handover.take(key, want)
    if sock is not None:
        if sock.type != socket.SOCK_DGRAM:
            with contextlib.suppress(OSError):
                sock.listen(backlog)
    else:
        sock = bind()
    handover.expose(key, sock)
    return sock


def open_sockets(addr: Any, opts: dict[str, Any], backlog: int = 1024
                 ) -> list[tuple[str, socket.socket]]:
    """Listening sockets for one bind address: (kind, socket) pairs where kind is
    ``listen`` (accept on it), ``sockpair`` (receive accepted connections over it) or
    ``dgram`` (a bound UDP socket for the transport's plugin: QUIC)."""
    if addr.family in ("inet", "inet6"):
        out = []
        dgram = _datagram(addr)
        kind = "dgram" if dgram else "listen"
        try:
            for port in addr.ports:
                key = handover.ip_key(addr, port)
                if dgram:
                    key = "quic" + key[3:]
                sock = _handed(key, backlog,
                               lambda p=port: _ip_socket(addr, p, opts, backlog),
                               sockxfer.wanted(addr.family, opts, dgram=dgram, ip=addr.ip))
                handover.register(sock, opts)
                out.append((kind, sock))
        except BindError:
            for _kind, sock in out:
                sock.close()
            raise
        return out
    if addr.family in ("unix", "abns", "abnsz"):
        sock = _handed(handover.path_key(addr), backlog,
                       lambda: _unix_socket(addr, opts, backlog),
                       sockxfer.wanted(addr.family, opts))
        handover.register(sock, opts)
        if addr.family == "unix" and handover.under_master():
            with contextlib.suppress(OSError, KeyError):
                _unix_perms(addr.path, opts)
        return [("listen", sock)]
    if addr.family == "fd":
        return [("listen", _inherited(addr))]
    if addr.family == "sockpair":
        try:
            return [("sockpair", socket.socket(fileno=int(addr.fd)))]
        except OSError as exc:
            raise BindError(exc.errno, f"cannot use socketpair fd {addr.fd} "
                                       f"({exc.strerror})") from None
    raise BindError(0, f"'{addr.text}' cannot be used to accept connections")


def listener_id(frontend: Any, bind: Any) -> int:
    """A bind's listener id in its frontend: its ``id`` option, else its position (from 1)
    among the frontend's binds, as HAProxy numbers listeners."""
    given = getattr(bind, "options", {}).get("id")
    if given:
        return int(given)
    for pos, other in enumerate(getattr(frontend, "binds", ()) or (), 1):
        if other is bind:
            return pos
    return 1


class Listener:
    """One listening socket feeding accepted connections to ``on_accept(sock, listener)``."""

    def __init__(self, sock: socket.socket, kind: str, bind: Any, frontend: Any,
                 on_accept: Callable[[socket.socket, Listener], None]) -> None:
        self.sock = sock
        self.kind = kind
        self.bind = bind
        self.frontend = frontend
        self.on_accept = on_accept
        self.loop: asyncio.AbstractEventLoop | None = None
        self.accepting = False
        self.resting = False
        self.closed = False
        #: the bind's counters when its frontend has ``option socket-stats``, else None
        self.stats: Any = None
        sock.setblocking(False)

    @property
    def name(self) -> str | None:
        """HAProxy's listener name: the bind's ``name`` option (None without one)."""
        return getattr(self.bind, "name", None)

    @property
    def luid(self) -> int:
        """The listener's id in its frontend (bind ``id``, else its position from 1)."""
        return listener_id(self.frontend, self.bind)

    def _rested(self) -> None:
        if self.resting:
            self.resting = False
            self.resume()

    def resume(self) -> None:
        if self.accepting or self.closed:
            return
        self.loop = self.loop or asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._ready)
        self.accepting = True

    def pause(self) -> None:
        self.resting = False  # the engine's decision wins over a rest in progress
        if self.accepting and self.loop is not None:
            self.loop.remove_reader(self.sock.fileno())
        self.accepting = False

    def close(self) -> None:
        self.pause()
        if not self.closed:
            self.closed = True
            path = None
            if self.sock.family == socket.AF_UNIX:
                with contextlib.suppress(OSError):
                    name = self.sock.getsockname()
                    path = name if isinstance(name, str) and name else None
            self.sock.close()
            # under a master the next generation accepts on this socket, and after
            # _getsocks the new process does: its path stays
            if path and getattr(self.bind.address, "family", "") == "unix" and \
                    not handover.keeps_paths():
                with contextlib.suppress(OSError):
                    os.unlink(path)

    def _ready(self) -> None:
        for _ in range(ACCEPT_BURST):
            if not self.accepting:
                return
            try:
                if self.kind == "sockpair":
                    conn = self._receive_fd()
                    if conn is None:
                        return
                else:
                    conn, _peer = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    # out of resources: stop polling a ready socket for a moment rather
                    # than spinning; the connections wait in the kernel's queue
                    self.pause()
                    self.resting = True
                    if self.loop is not None:
                        self.loop.call_later(RESOURCE_PAUSE, self._rested)
                return  # ECONNABORTED...: try again on the next event
            conn.setblocking(False)
            self.on_accept(conn, self)

    def _receive_fd(self) -> socket.socket | None:
        _msg, fds, _flags, _addr = socket.recv_fds(self.sock, 1, 1)
        if not fds:
            if not _msg:  # the other end closed the socketpair
                self.pause()
            return None
        return socket.socket(fileno=fds[0])
