"""Log senders: the syslog header of each format, and the non-blocking transports.

A line is ``header + message`` cut to ``len - 1`` bytes, then ``\\n`` (HAProxy 3.2's
``__do_send_log``: every target gets the final LF, UDP datagrams included).

Headers (HAProxy's ``build_log_header``), ``PRI`` = facility * 8 + level:

- unspecified format (no ``format`` word): ``rfc3164`` when ``log-send-hostname`` is set,
  else ``local``;
- ``local``: ``<PRI>Mmm dd hh:mm:ss tag[pid]: msg``;
- ``rfc3164``: ``<PRI>Mmm dd hh:mm:ss host tag[pid]: msg`` (host ``localhost`` when
  ``log-send-hostname`` is not set);
- ``rfc5424``: ``<PRI>1 <iso time> host|- tag pid - sd|- msg``;
- ``priority``: ``<PRI>msg``; ``short``: ``<level>msg``; ``timed``: ``<level><iso time> msg``;
  ``iso``: ``<iso time> msg``; ``raw``: ``msg``.

The time is the sending time, in local time (``Jan  2 03:04:05``, or
``2026-01-02T03:04:05.123456+01:00``).

Transports never block the caller: UDP and unix datagrams are one ``sendto`` each on a
non-blocking socket (a full socket buffer drops the line and counts it); TCP keeps one
connection open on the event loop, LF-framed, re-established after a failure, with a bounded
buffer that drops (and counts) when full; file descriptors (stdout, stderr, fd@N) are written
by a writer thread fed through a bounded queue.
"""

from __future__ import annotations

import asyncio
import errno
import os
import queue
import socket
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_PRI_FORMATS = frozenset(("", "local", "rfc3164", "rfc5424", "priority"))


# -- timestamps -------------------------------------------------------------------------

class _Clock:
    """Formatted local timestamps, rebuilt once per second."""

    def __init__(self) -> None:
        self._sec = -1
        self._legacy = ""
        self._iso_head = ""
        self._iso_tz = ""

    def _refresh(self, sec: int) -> None:
        tm = time.localtime(sec)
        self._sec = sec
        self._legacy = (f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:"
                        f"{tm.tm_min:02d}:{tm.tm_sec:02d}")
        self._iso_head = (f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
                          f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}")
        off = tm.tm_gmtoff or 0
        sign = "+" if off >= 0 else "-"
        off = abs(off) // 60
        self._iso_tz = f"{sign}{off // 60:02d}:{off % 60:02d}"

    def legacy(self, now: float) -> str:
        """``Mmm dd hh:mm:ss`` (day padded with a space)."""
        sec = int(now)
        if sec != self._sec:
            self._refresh(sec)
        return self._legacy

    def iso(self, now: float) -> str:
        """``YYYY-MM-DDThh:mm:ss.uuuuuu+hh:mm``."""
        sec = int(now)
        if sec != self._sec:
            self._refresh(sec)
        return f"{self._iso_head}.{int((now - sec) * 1_000_000):06d}{self._iso_tz}"


CLOCK = _Clock()


def build_header(fmt: str, facility: int, level: int, *, now: float, tag: str, pid: str,
                 host: str | None, sd: str = "") -> str:
    """The header that precedes the message for format ``fmt`` ("" = unspecified).
    ``host`` is the ``log-send-hostname`` value (None when not set); ``sd`` the rendered
    structured data (rfc5424 only; trailing spaces are dropped, empty gives ``-``)."""
    if fmt == "":
        fmt = "rfc3164" if host else "local"
    pri = facility * 8 + level if fmt in _PRI_FORMATS else level
    if fmt == "local":
        stamp = f"<{pri}>{CLOCK.legacy(now)} "
        return stamp + (f"{tag}[{pid}]: " if tag else "")
    if fmt == "rfc3164":
        stamp = f"<{pri}>{CLOCK.legacy(now)} {host or 'localhost'} "
        return stamp + (f"{tag}[{pid}]: " if tag else "")
    if fmt == "rfc5424":
        sd = sd.rstrip(" ")
        return (f"<{pri}>1 {CLOCK.iso(now)} {host or '-'} {tag or '-'} {pid or '-'} - "
                f"{sd or '-'} ")
    if fmt in ("priority", "short"):
        return f"<{pri}>"
    if fmt == "timed":
        return f"<{pri}>{CLOCK.iso(now)} "
    if fmt == "iso":
        return f"{CLOCK.iso(now)} "
    return ""


def frame(header: str, message: bytes, maxlen: int) -> bytes:
    """``header + message`` cut to ``maxlen - 1`` bytes, then LF (trailing LF and NUL of
    the message are removed first, as HAProxy does)."""
    message = message.rstrip(b"\n\x00")
    data = header.encode("latin-1", "replace") + message
    if len(data) > maxlen - 1:
        data = data[:maxlen - 1]
    return data + b"\n"


class Sampler:
    """``sample <ranges>:<size>``: which lines a target takes (HAProxy's smp_log_range
    state machine: lines are numbered 1..size cyclically; a line is sent when its number
    falls in the current range, and the range advances once its last number is sent)."""

    def __init__(self, ranges: tuple[tuple[int, int], ...], size: int) -> None:
        self.ranges = tuple(sorted(ranges))
        self.size = size
        self.idx = 0
        self.rg = 0

    def take(self) -> bool:
        nxt = self.idx + 1
        low, high = self.ranges[self.rg]
        ok = low <= nxt <= high
        if ok and nxt == high:
            self.rg = (self.rg + 1) % len(self.ranges)
        self.idx = nxt % self.size
        return ok


# -- transports -------------------------------------------------------------------------

def _alert(text: str) -> None:
    print(f"[ALERT]    ({os.getpid()}) : {text}", file=sys.stderr, flush=True)


class Sender(ABC):
    """A transport.  ``send(data)`` never blocks; lines it cannot take are counted in
    ``dropped``."""

    name = "sender"
    #: True for senders that take events (``send_event``) rather than framed lines
    takes_events = False

    def __init__(self) -> None:
        self.dropped = 0
        self.sent = 0
        self.running = False
        self._alerted = False

    @abstractmethod
    def send(self, data: bytes) -> None:
        """Send one framed line, or count it as dropped."""

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Begin background work (connections, threads) once the process runs."""
        self.running = True

    def close(self, timeout: float = 1.0) -> None:
        """Flush what can be flushed within ``timeout`` seconds, then release."""
        self.running = False

    def _fail(self, exc: OSError) -> None:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ENOBUFS):
            self.dropped += 1
            return
        self.dropped += 1
        if not self._alerted:
            self._alerted = True
            _alert(f"sendmsg()/writev() failed in logger {self.name}: "
                   f"{os.strerror(exc.errno or 0)} (errno={exc.errno})")


class SinkSender(Sender):
    """``ring@<name>``: events go to a kernel event sink (:mod:`hapx.core.sinks`), which
    puts the header of its own format (HAProxy's ``sink_write``)."""

    takes_events = True

    def __init__(self, sink: Any) -> None:
        super().__init__()
        self.sink = sink
        self.name = f"ring@{sink.name}"

    def send(self, data: bytes) -> None:
        self.send_event(data, 6, 1)

    def send_event(self, message: bytes, level: int, facility: int, **fields: Any) -> None:
        if self.sink.write(message, level, facility, **fields):
            self.sent += 1
        else:
            self.dropped += 1


class DgramSender(Sender):
    """UDP (IPv4/IPv6) or unix datagram: one ``sendto`` per line on a non-blocking socket."""

    def __init__(self, family: int, address: Any, name: str) -> None:
        super().__init__()
        self.family = family
        self.address = address
        self.name = name
        self.sock: socket.socket | None = None

    def _socket(self) -> socket.socket:
        sock = socket.socket(self.family, socket.SOCK_DGRAM)
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)
        except OSError:
            pass
        return sock

    def send(self, data: bytes) -> None:
        sock = self.sock
        if sock is None:
            try:
                sock = self.sock = self._socket()
            except OSError as exc:
                self._fail(exc)
                return
        try:
            sock.sendto(data, self.address)
        except OSError as exc:
            self._fail(exc)
            return
        self.sent += 1

    def close(self, timeout: float = 1.0) -> None:
        super().close(timeout)
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def udp_sender(host: str, port: int, name: str) -> DgramSender:
    info = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM)[0]
    return DgramSender(info[0], info[4], name)


def unix_sender(path: str, name: str) -> DgramSender:
    if path.startswith("@"):
        path = "\0" + path[1:]
    return DgramSender(socket.AF_UNIX, path, name)


class _TcpProtocol(asyncio.Protocol):
    def __init__(self, owner: TcpSender) -> None:
        self.owner = owner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.owner._connected(transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        """A syslog server has nothing to say; what it sends is ignored."""

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._lost(self)


class TcpSender(Sender):
    """A TCP connection kept open on the event loop (LF-framed lines, as ``log tcp@`` in
    HAProxy).  While it is down (or while the kernel and transport buffers hold more than
    ``limit`` bytes) lines wait in a bounded buffer; past ``limit`` they are dropped and
    counted.  A lost connection is re-established after ``retry`` seconds."""

    def __init__(self, host: str, port: int, name: str, *, limit: int = 1 << 20,
                 retry: float = 1.0) -> None:
        super().__init__()
        self.host, self.port, self.name = host, port, name
        self.limit = limit
        self.retry = retry
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.transport: asyncio.WriteTransport | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._proto: _TcpProtocol | None = None
        self._connecting = False
        self._closed = False
        self.connects = 0

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().start(loop)
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
        self.loop = loop
        self._closed = False
        self._connect()

    def _connect(self) -> None:
        if self._connecting or self.transport is not None or self._closed or \
                self.loop is None:
            return
        self._connecting = True
        self.loop.create_task(self._open())

    async def _open(self) -> None:
        assert self.loop is not None
        try:
            await self.loop.create_connection(lambda: _TcpProtocol(self), self.host,
                                              self.port)
        except OSError as exc:
            self._connecting = False
            if not self._alerted:
                self._alerted = True
                _alert(f"cannot connect logger {self.name}: {exc.strerror or exc}")
            if not self._closed:
                self.loop.call_later(self.retry, self._connect)

    def _connected(self, transport: asyncio.WriteTransport) -> None:
        self._connecting = False
        self._alerted = False
        self.transport = transport
        self.connects += 1
        if self.pending:
            data = b"".join(self.pending)
            self.sent += len(self.pending)
            self.pending.clear()
            self.pending_bytes = 0
            transport.write(data)

    def _lost(self, proto: _TcpProtocol) -> None:
        self.transport = None
        if not self._closed and self.loop is not None:
            self.loop.call_later(self.retry, self._connect)

    def send(self, data: bytes) -> None:
        tr = self.transport
        if tr is not None and not tr.is_closing():
            if tr.get_write_buffer_size() + len(data) > self.limit:
                self.dropped += 1
                return
            tr.write(data)
            self.sent += 1
            return
        if self.pending_bytes + len(data) > self.limit:
            self.dropped += 1
            return
        self.pending.append(data)
        self.pending_bytes += len(data)
        if self.loop is None:
            try:
                self.loop = asyncio.get_running_loop()
            except RuntimeError:
                return
        self._connect()

    def close(self, timeout: float = 1.0) -> None:
        super().close(timeout)
        self._closed = True
        if self.transport is not None:
            self.transport.close()  # asyncio writes what it holds before closing
            self.transport = None


class FdSender(Sender):
    """A file descriptor (stdout, stderr, fd@N), written by a writer thread so that a slow
    reader never stalls the event loop.  At most ``limit`` lines wait; more are dropped and
    counted."""

    def __init__(self, fd: int, name: str, *, limit: int = 10000) -> None:
        super().__init__()
        self.fd = fd
        self.name = name
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=limit)
        self.thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        super().start(loop)
        with self._lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name=f"hapx-log-{self.fd}",
                                               daemon=True)
                self.thread.start()

    def send(self, data: bytes) -> None:
        if self.thread is None:
            self.start()
        try:
            self.queue.put_nowait(data)
        except queue.Full:
            self.dropped += 1

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError as exc:
                self._fail(exc)
                return
            view = view[n:]

    def _run(self) -> None:
        q = self.queue
        while True:
            item = q.get()
            batch = []
            stop = item is None
            if item is not None:
                batch.append(item)
            while not stop:
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                else:
                    batch.append(item)
            if batch:
                self._write(b"".join(batch))
                self.sent += len(batch)
            if stop:
                return

    def close(self, timeout: float = 1.0) -> None:
        super().close(timeout)
        thread = self.thread
        if thread is None:
            return
        try:
            self.queue.put(None, timeout=timeout)
        except queue.Full:
            return
        thread.join(timeout)
        self.thread = None
