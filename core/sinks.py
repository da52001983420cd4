"""Event sinks: where logs and traces go besides the log senders (HAProxy's ``sink.c``).

A configuration's sinks live in ``config.ext["sinks"]`` (:func:`sinks_of`), in declaration
order: the built-in ``stdout`` and ``stderr`` (file descriptors, raw format) and ``buf0`` (an
in-memory ring of 1 MB, timed format), then the rings plugins add (``ring`` sections).
Writers call :meth:`Sink.write` with the message, a syslog level and facility and the
header fields; the sink builds the header of its own format and stores or writes the line.

A :class:`RingSink` keeps its events in memory within ``size`` bytes (each event costs its
length plus HAProxy's per-event overhead: a reader counter byte and the varint length); the
oldest are dropped to make room.  Each event has a sequence number; readers follow the ring
with :meth:`RingSink.events_after` and wait for new ones with :meth:`RingSink.wait`.
Listeners (``add_listener``) are called for every new event (forwarding to syslog servers).
A :class:`FileRingSink` keeps its events in a file mapped in memory instead (``backing-file``:
:mod:`hapx.core.ringfile`).
"""

from __future__ import annotations

import os
import sys
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: formats whose header starts with ``<PRI>`` (facility * 8 + level); others use the level
_PRI = frozenset(("local", "rfc3164", "rfc5424", "priority"))
#: HAProxy's BUFSIZE: default longest event of a sink
DEFAULT_MAXLEN = 16384


def _iso(now: float) -> str:
    tm = time.localtime(now)
    off = tm.tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return (f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T{tm.tm_hour:02d}:"
            f"{tm.tm_min:02d}:{tm.tm_sec:02d}.{int((now % 1) * 1_000_000):06d}"
            f"{sign}{off // 60:02d}:{off % 60:02d}")


def sink_header(fmt: str, level: int, facility: int, *, now: float, tag: str = "",
                pid: str = "", host: str = "") -> str:
    """The header HAProxy's ``build_log_header`` puts before an event for sink format
    ``fmt`` (``raw``: none).  Empty ``tag`` leaves out ``tag[pid]:`` (traces)."""
    if fmt == "raw":
        return ""
    pri = facility * 8 + level if fmt in _PRI else level
    if fmt in ("local", "rfc3164"):
        tm = time.localtime(now)
        stamp = (f"<{pri}>{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:"
                 f"{tm.tm_min:02d}:{tm.tm_sec:02d} ")
        if fmt == "rfc3164":
            stamp += f"{host or 'localhost'} "
        return stamp + (f"{tag}[{pid}]: " if tag else "")
    if fmt == "rfc5424":
        return f"<{pri}>1 {_iso(now)} {host or '-'} {tag or '-'} {pid or '-'} - - "
    if fmt in ("priority", "short"):
        return f"<{pri}>"
    if fmt == "timed":
        return f"<{pri}>{_iso(now)} "
    if fmt == "iso":
        return f"{_iso(now)} "
    return ""


def _varint_len(n: int) -> int:
    """Bytes of HAProxy's varint encoding of ``n``."""
    size = 1
    if n >= 240:
        n = (n - 240) >> 4
        size += 1
        while n >= 128:
            n = (n - 128) >> 7
            size += 1
    return size


class Sink(ABC):
    """One sink: ``name``, ``desc``, ``type`` (``fd`` or ``buffer``), ``fmt``, ``maxlen``
    and the number of events it ``dropped``."""

    type = "?"

    def __init__(self, name: str, desc: str, fmt: str = "raw",
                 maxlen: int = DEFAULT_MAXLEN) -> None:
        self.name = name
        self.desc = desc
        self.fmt = fmt
        self.maxlen = maxlen
        self.dropped = 0

    def format(self, msg: bytes, level: int, facility: int, *, tag: str = "", pid: str = "",
               host: str = "", now: float | None = None) -> bytes:
        """The event as stored: header of the sink's format, message, cut to ``maxlen``
        (a trailing LF of the message is removed)."""
        head = sink_header(self.fmt, level, facility, now=time.time() if now is None else now,
                           tag=tag, pid=pid, host=host)
        data = head.encode("latin-1", "replace") + msg.rstrip(b"\n")
        return data[:self.maxlen]

    @abstractmethod
    def write(self, msg: bytes, level: int = 0, facility: int = 0, **fields: Any) -> bool:
        """Store or write one event; False when it was dropped."""


class FdSink(Sink):
    """``stdout``/``stderr``: each event is written as one line."""

    type = "fd"

    def __init__(self, name: str, desc: str, fd: int) -> None:
        super().__init__(name, desc)
        self.fd = fd

    def write(self, msg: bytes, level: int = 0, facility: int = 0, **fields: Any) -> bool:
        data = self.format(msg, level, facility, **fields) + b"\n"
        try:
            stream = sys.stdout if self.fd == 1 else sys.stderr
            stream.flush()
            os.write(self.fd, data)
        except OSError:
            self.dropped += 1
            return False
        return True


class RingSink(Sink):
    """An in-memory ring buffer of ``size`` bytes."""

    type = "buffer"

    def __init__(self, name: str, desc: str, *, size: int = 16384, fmt: str = "raw",
                 maxlen: int = DEFAULT_MAXLEN) -> None:
        super().__init__(name, desc, fmt, maxlen)
        self.size = size
        self.events: deque[tuple[int, bytes]] = deque()
        self.used = 0
        self.seq = 0
        self._waiters: list[Callable[[], None]] = []
        self.listeners: list[Callable[[bytes], None]] = []

    @staticmethod
    def cost(data: bytes) -> int:
        return 1 + _varint_len(len(data)) + len(data)

    def write(self, msg: bytes, level: int = 0, facility: int = 0, **fields: Any) -> bool:
        data = self.format(msg, level, facility, **fields)
        return self.append(data)

    def append(self, data: bytes) -> bool:
        """Store one already formatted event."""
        if not self.store(data):
            self.dropped += 1
            return False
        for listener in self.listeners:
            listener(data)
        waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()
        return True

    def store(self, data: bytes) -> bool:
        """Keep ``data`` as the next event, dropping the oldest to make room; False when
        it cannot fit at all."""
        need = self.cost(data)
        if need > self.size - 1:
            return False
        while self.used + need > self.size - 1 and self.events:
            _, old = self.events.popleft()
            self.used -= self.cost(old)
        self.seq += 1
        self.events.append((self.seq, data))
        self.used += need
        return True

    def events_after(self, seq: int) -> list[tuple[int, bytes]]:
        """The stored events whose sequence number is above ``seq``."""
        if not self.events or self.events[-1][0] <= seq:
            return []
        return [e for e in self.events if e[0] > seq]

    def add_waiter(self, wake: Callable[[], None]) -> None:
        """Call ``wake()`` once, at the next event."""
        self._waiters.append(wake)

    def remove_waiter(self, wake: Callable[[], None]) -> None:
        if wake in self._waiters:
            self._waiters.remove(wake)

    def add_listener(self, fn: Callable[[bytes], None]) -> None:
        self.listeners.append(fn)


class FileRingSink(RingSink):
    """A ring kept in a file mapped in memory (``backing-file``): its events are stored in
    and read from the mapping (:class:`~hapx.core.ringfile.RingFile`), so that they stay in
    the file after the process stops or crashes."""

    def __init__(self, name: str, desc: str, path: str, *, size: int = 16384,
                 fmt: str = "raw", maxlen: int = DEFAULT_MAXLEN) -> None:
        from .ringfile import RingFile

        super().__init__(name, desc, size=size, fmt=fmt, maxlen=maxlen)
        self.path = path
        self.file = RingFile.create(path, size)

    def store(self, data: bytes) -> bool:
        if not self.file.append(data):
            return False
        self.seq = self.file.seq
        return True

    def events_after(self, seq: int) -> list[tuple[int, bytes]]:
        if self.file.seq <= seq:
            return []
        return [e for e in self.file.events() if e[0] > seq]

    def close(self) -> None:
        self.file.close()


class Sinks:
    """The sinks of a configuration, by name, in declaration order."""

    def __init__(self) -> None:
        self.by_name: dict[str, Sink] = {}
        self.add(FdSink("stdout", "standard output (fd#1)", 1))
        # HAProxy describes stderr with the same words (sic)
        self.add(FdSink("stderr", "standard output (fd#2)", 2))
        self.add(RingSink("buf0", "in-memory ring buffer", size=1048576, fmt="timed"))

    def add(self, sink: Sink) -> Sink:
        self.by_name[sink.name] = sink
        return sink

    def get(self, name: str) -> Sink | None:
        return self.by_name.get(name)

    def __iter__(self):  # noqa: ANN204
        return iter(self.by_name.values())


def sinks_of(config: Any) -> Sinks:
    """The sinks of ``config`` (created with the built-in ones on first use)."""
    sinks = config.ext.get("sinks")
    if sinks is None:
        sinks = config.ext["sinks"] = Sinks()
    return sinks
