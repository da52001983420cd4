"""Traffic log lines: what each frontend sends when a stream ends, and the proxy
start/stop messages.

One :class:`ProxyLog` per proxy holds its resolved loggers (target, sender, sampler), its
tag and the host name; :class:`StreamLogger` is the function appended to a frontend's
``stream_end`` list.  It follows HAProxy's ``strm_log()``:

- a stream is an error when its termination state's first letter is neither ``-`` nor
  ``L``, when it was redispatched, when it needed retries, or (mode http) when its status
  is 500 or more;
- ``option dontlognull``: nothing is logged for a stream that received no byte from the
  client; ``option dontlog-normal``: only errors are logged;
- the level is ``info``, ``err`` for errors with ``option log-separate-errors``; an
  ``http-request set-log-level`` (strm.log_level) overrides it, ``silent`` logs nothing;
- a logger takes the line when the level is at most its ``<level>``, then its ``sample``
  decides; the line is sent at ``max(level, <minlevel>)``.

A frontend with ``log`` lines but no log format (no ``log-format``, no ``option
httplog``/``tcplog``) logs HAProxy's legacy line ``Connect from <ip>:<port> to <ip>:<port>
(<frontend>/<HTTP|TCP>)`` once per connection (HAProxy writes it when the connection is
accepted; here it is written when the connection's first stream ends).
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from hapx.core.config.model import Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.config.reader import SourceLine
from hapx.core.errors import ConfigError
from hapx.core.runtime.process import PROCESS
from hapx.core.sinks import sinks_of
from hapx.plugins.proxy_basics.lfsource import LogFormatSource, compile_in

from .senders import (
    FdSender,
    Sampler,
    Sender,
    SinkSender,
    TcpSender,
    _alert,
    build_header,
    frame,
    udp_sender,
    unix_sender,
)
from .targets import LEVELS, LogTarget

LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO = 3, 4, 5, 6
_LEVEL_CODES = {name: i for i, name in enumerate(LEVELS)}
#: log formats whose header holds no sub-second time and no structured data
_SECOND_FORMATS = frozenset({"", "local", "rfc3164", "priority", "short", "raw"})


def frame_bytes(header: bytes, message: bytes, maxlen: int) -> bytes:
    """:func:`~.senders.frame` with the header already encoded."""
    if message and message[-1] in (10, 0):
        message = message.rstrip(b"\n\x00")
    data = header + message
    if len(data) > maxlen - 1:
        data = data[:maxlen - 1]
    return data + b"\n"


def program_name() -> str:
    """HAProxy's default log tag: the program name as launched."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name.endswith(".py") or name.startswith("-"):
        return "hapx"
    return name


@dataclass
class Logger:
    """A ``log`` line of a proxy at run time."""

    target: LogTarget
    sender: Sender
    sampler: Sampler | None = None


@dataclass
class LogRuntime:
    """Every sender of a configuration, shared by the proxies that name the same
    destination."""

    senders: dict[tuple[Any, ...], Sender] = field(default_factory=dict)
    started: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    #: the configuration's event sinks (``ring@<name>`` targets)
    sinks: Any = None

    def sender_for(self, t: LogTarget) -> Sender | None:
        if t.kind == "udp":
            key: tuple[Any, ...] = ("udp", t.host, t.port)
        elif t.kind == "tcp":
            key = ("tcp", t.host, t.port)
        elif t.kind == "unix":
            key = ("unix", t.path)
        elif t.kind == "fd":
            key = ("fd", t.fd)
        elif t.kind == "ring":
            sink = self.sinks.get(t.name) if self.sinks is not None else None
            if sink is None:
                return None
            key = ("ring", t.name)
            if key not in self.senders:
                self.senders[key] = SinkSender(sink)
            return self.senders[key]
        else:
            return None  # backend@ is refused at start (not active yet)
        sender = self.senders.get(key)
        if sender is None:
            name = f"{t.file}:{t.line}" if t.file else key[0]
            if t.kind == "udp":
                sender = udp_sender(t.host, t.port, name)
            elif t.kind == "tcp":
                sender = TcpSender(t.host, t.port, name)
            elif t.kind == "unix":
                sender = unix_sender(t.path, name)
            else:
                sender = FdSender(t.fd, name)
            self.senders[key] = sender
            if self.started:
                sender.start(self.loop)
        return sender

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.started, self.loop = True, loop
        for sender in self.senders.values():
            sender.start(loop)

    def close(self, timeout: float = 1.0) -> None:
        for sender in self.senders.values():
            sender.close(timeout)
        self.started = False

    @property
    def dropped(self) -> int:
        return sum(s.dropped for s in self.senders.values())


class ProxyLog:
    """The loggers of one proxy (or of the global section) and its syslog header
    fields."""

    def __init__(self, runtime: LogRuntime, targets: list[LogTarget], *, tag: str,
                 host: str | None) -> None:
        self.loggers: list[Logger] = []
        for t in targets:
            sender = runtime.sender_for(t)
            if sender is None:
                continue
            sampler = Sampler(*t.sample) if t.sample else None
            self.loggers.append(Logger(t, sender, sampler))
        self.tag = tag
        self.host = host
        self.needs_sd = any(lg.target.format == "rfc5424" for lg in self.loggers)
        #: per logger: (logger, target, sender, headers) where headers (None for the formats
        #: whose header holds a sub-second time or structured data) maps a level to the
        #: (pid, second, encoded header) last built for it
        self._plan: list[tuple[Logger, LogTarget, Sender, dict[int, tuple[int, int, bytes]]
                               | None]] = [
            (lg, lg.target, lg.sender, {} if lg.target.format in _SECOND_FORMATS else None)
            for lg in self.loggers]
        #: the usual case, a single logger without sampling whose header holds no
        #: sub-second time: (its level, minlevel, maxlen, sender), else None
        self._one: tuple[int, int, int, Sender] | None = None
        #: that logger's last header: (second, pid, level, encoded header)
        self._head: tuple[int, int, int, bytes] = (-1, -1, -1, b"")
        if len(self._plan) == 1:
            lg, t, sender, heads = self._plan[0]
            if heads is not None and lg.sampler is None and not sender.takes_events:
                self._one = (t.level, t.minlevel, t.maxlen, sender)

    def send(self, level: int, message: bytes, *, sd: str = "",
             now: float | None = None) -> int:
        """Send ``message`` at ``level`` to every logger that takes it; returns how many
        did."""
        one = self._one
        if one is not None:
            # what the loop below does for its single logger, in fewer steps
            tlevel, minlevel, maxlen, sender = one
            if level > tlevel:
                return 0
            if now is None:
                now = time.time()
            lvl = level if level > minlevel else minlevel
            sec, pid, head = int(now), PROCESS.pid, self._head
            if head[0] != sec or head[2] != lvl or head[1] != pid:
                t = self._plan[0][1]
                text = build_header(t.format, t.facility, lvl, now=now, tag=self.tag,
                                    pid=str(pid), host=self.host, sd=sd)
                head = self._head = (sec, pid, lvl, text.encode("latin-1", "replace"))
            head_b = head[3]
            if message and message[-1] not in (10, 0) and len(head_b) + len(message) < maxlen:
                sender.send(b"".join((head_b, message, b"\n")))  # the usual line: one copy
            else:
                sender.send(frame_bytes(head_b, message, maxlen))
            return 1
        if now is None:
            now = time.time()
        pid = PROCESS.pid  # HAProxy's process: the same in every worker
        sec = int(now)
        count = 0
        for lg, t, sender, heads in self._plan:
            if level > t.level:
                continue
            if lg.sampler is not None and not lg.sampler.take():
                continue
            minlevel = t.minlevel
            lvl = level if level > minlevel else minlevel
            if sender.takes_events:
                sender.send_event(message[:t.maxlen - 1], lvl, t.facility, tag=self.tag,
                                  pid=str(pid), host=self.host or "", now=now)
                count += 1
                continue
            if heads is not None:
                hit = heads.get(lvl)
                if hit is None or hit[1] != sec or hit[0] != pid:
                    head = build_header(t.format, t.facility, lvl, now=now, tag=self.tag,
                                        pid=str(pid), host=self.host, sd=sd)
                    hit = heads[lvl] = (pid, sec, head.encode("latin-1", "replace"))
                head_b = hit[2]
                if (message and message[-1] not in (10, 0)
                        and len(head_b) + len(message) < t.maxlen):
                    data = b"".join((head_b, message, b"\n"))  # the usual line: one copy
                else:
                    data = frame_bytes(head_b, message, t.maxlen)
            else:
                header = build_header(t.format, t.facility, lvl, now=now, tag=self.tag,
                                      pid=str(pid), host=self.host, sd=sd)
                data = frame(header, message, t.maxlen)
            sender.send(data)
            count += 1
        return count


def _addr(ip: Any) -> str:
    return str(ip)


_CAPTURE_ITEM = re.compile(r"(?:^|(?<=\s))%(?:\{[^}]*\})?(hrl|hsl|hr|hs)(?![A-Za-z0-9])\s*")


def without_empty_captures(config: Config, px: Proxy, lf: Any) -> Any:
    """``lf`` for ``px`` with the header-capture items (%hr %hs %hrl %hsl) of a direction
    the proxy captures nothing in removed, with their separator: HAProxy prints nothing
    for them and skips the space that follows."""
    text = getattr(lf, "text", None)
    if not text or "%" not in text:
        return lf
    caps = px.settings.get("captures") or {}
    empty = {"hr": not caps.get("request"), "hrl": not caps.get("request"),
             "hs": not caps.get("response"), "hsl": not caps.get("response")}
    new = _CAPTURE_ITEM.sub(lambda m: "" if empty[m.group(1)] else m.group(0), text)
    if new == text:
        return lf
    new = new.rstrip(" ") if not text.endswith(" ") else new
    file, line = px.settings.get("log-format.where", (px.file, px.line))
    ctx = ParseContext(config, SourceLine(file, line, ""), "log-format", [], px.kind, px)
    try:
        return compile_in(ctx, LogFormatSource(new, file, line, "log-format"))
    except ConfigError:
        return lf


class StreamLogger:
    """The ``stream_end`` observer of a frontend: renders its log format and sends the
    line."""

    def __init__(self, px: Proxy, log: ProxyLog, lf: Any = None) -> None:
        self.px = px
        self.log = log
        self.count = 0
        if lf is None:
            lf = px.settings.get("log-format")
        self.lf = lf if lf is not None and getattr(lf, "render", None) else None
        sd = px.settings.get("log-format-sd")
        self.sd = sd if sd is not None and getattr(sd, "render", None) and log.needs_sd \
            else None
        opts = px.options
        self.dontlognull = bool(opts.get("dontlognull"))
        self.dontlog_normal = bool(opts.get("dontlog-normal"))
        self.separate_errors = bool(opts.get("log-separate-errors"))
        self.http = px.mode == "http"
        self._failed = False

    def __call__(self, strm: Any) -> None:
        try:
            self.emit(strm)
        except Exception as exc:  # noqa: BLE001 - a log line never breaks the data path
            if not self._failed:
                self._failed = True
                _alert(f"log line of {self.px.describe()} failed: "
                       f"{type(exc).__name__}: {exc}")

    def connect_line(self, strm: Any) -> str | None:
        """HAProxy's legacy line for proxies without a log format."""
        sess = strm.sess
        kind = "HTTP" if self.http else "TCP"
        if sess.src is None:
            luid = getattr(sess.listener, "luid", None) or 1
            return f"Connect to unix:{luid} ({self.px.name}/{kind})"
        if sess.dst is None:
            return None
        return (f"Connect from {_addr(sess.src)}:{sess.src_port} to {_addr(sess.dst)}:"
                f"{sess.dst_port} ({self.px.name}/{kind})")

    def emit(self, strm: Any, now: float | None = None) -> bool:
        """Log ``strm`` if the options let it; returns True when a line was sent."""
        if self.lf is None:
            if not strm.first_req:
                return False
            line = self.connect_line(strm)
            if line is None:
                return False
            return self.log.send(LOG_INFO, line.encode("latin-1", "replace"), now=now) > 0
        if self.dontlognull and not strm.counters.get("bytes_in", 0):
            return False
        # an error: see the module's docstring
        term = strm.term_state or "--"
        first = term[0]
        err = (first not in "-L" or strm.redispatched or (first == "-" and strm.conn_retries)
               or (self.http and strm.status >= 500))
        if not err and self.dontlog_normal:
            return False
        if strm.log_level:
            if strm.log_level == "silent":
                return False
            level = _LEVEL_CODES.get(strm.log_level, LOG_INFO)
        else:
            level = LOG_ERR if err and self.separate_errors else LOG_INFO
        strm.counters["log_counter"] = self.count
        line = self.lf.render(strm)
        if not line:
            return False
        self.count += 1
        sd = self.sd.render(strm) if self.sd is not None else ""
        return self.log.send(level, line.encode("latin-1", "replace"), sd=sd, now=now) > 0


# -- building the loggers of a configuration ------------------------------------------------

def _host(config: Config) -> str | None:
    gs = config.global_.settings
    if "log-send-hostname" not in gs:
        return None
    return gs["log-send-hostname"] or socket.gethostname()


def _tag(config: Config, px: Proxy | None) -> str:
    if px is not None and px.settings.get("log-tag"):
        return px.settings["log-tag"]
    return config.global_.settings.get("log-tag") or program_name()


def runtime_of(config: Config) -> LogRuntime:
    rt = config.ext.get("logs")
    if rt is None:
        rt = config.ext["logs"] = LogRuntime(sinks=sinks_of(config))
    return rt


def proxy_log(config: Config, px: Proxy) -> ProxyLog:
    logs = px.ext.get("logs")
    if logs is None:
        logs = px.ext["logs"] = ProxyLog(runtime_of(config), px.settings.get("log", []),
                                         tag=_tag(config, px), host=_host(config))
    return logs


def global_log(config: Config) -> ProxyLog:
    logs = config.ext.get("logs.global")
    if logs is None:
        logs = config.ext["logs.global"] = ProxyLog(
            runtime_of(config), config.global_.settings.get("log", []),
            tag=_tag(config, None), host=_host(config))
    return logs


def install(config: Config) -> list[StreamLogger]:
    """Append a :class:`StreamLogger` to the ``stream_end`` list of every frontend and
    listen proxy that has loggers (idempotent)."""
    out = []
    for px in config.proxies:
        if not px.is_frontend or px.is_defaults or px.mode not in ("tcp", "http"):
            continue
        if not px.settings.get("log"):
            continue
        if any(isinstance(fn, StreamLogger) for fn in px.stream_end):
            continue
        lf = px.settings.get("log-format")
        if lf is not None and getattr(lf, "render", None):
            lf = without_empty_captures(config, px, lf)
        logger = StreamLogger(px, proxy_log(config, px), lf)
        if not logger.log.loggers:
            continue
        px.stream_end.append(logger)
        out.append(logger)
    return out


def cumulated(px: Proxy) -> tuple[int, int]:
    """(connections accepted by the frontend side, connections handled by the backend
    side): ``cum_conn`` and ``be_cum_conn`` of the proxy's live state (0 when absent)."""
    state = px.ext.get("state")
    fe = getattr(state, "cum_conn", 0) if px.is_frontend else 0
    be = getattr(state, "be_cum_conn", 0) if px.is_backend else 0
    return int(fe or 0), int(be or 0)


def stopped_messages(config: Config, *, stderr: bool = True) -> list[str]:
    """HAProxy's soft-stop messages, one per proxy: ``Proxy <name> stopped (cumulated
    conns: FE: <n>, BE: <n>).`` as a warning on stderr and at level ``warning`` to the
    proxy's loggers."""
    out = []
    for px in config.proxies:
        if px.is_defaults:
            continue
        fe, be = cumulated(px)
        text = f"Proxy {px.name} stopped (cumulated conns: FE: {fe}, BE: {be})."
        if stderr:
            print(f"[WARNING]  ({os.getpid()}) : {text}", file=sys.stderr, flush=True)
        proxy_log(config, px).send(LOG_WARNING, text.encode("latin-1", "replace"))
        out.append(text)
    return out
