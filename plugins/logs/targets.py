"""The ``log`` keyword: where log lines go (global section and proxies)."""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass

from hapx.core.config.model import Config, GlobalSettings
from hapx.core.config.parser import ParseContext
from hapx.core.errors import ConfigError
from hapx.core.sinks import sinks_of

FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
              "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2", "local0", "local1",
              "local2", "local3", "local4", "local5", "local6", "local7")
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
FORMATS = ("rfc3164", "rfc5424", "local", "short", "priority", "timed", "iso", "raw")
_NET_PREFIXES = {"udp@": "udp", "udp4@": "udp", "udp6@": "udp", "ipv4@": "udp",
                 "ipv6@": "udp", "tcp@": "tcp", "tcp4@": "tcp", "tcp6@": "tcp"}


@dataclass
class LogTarget:
    """One ``log`` line.  ``kind``: udp, tcp (host/port), unix (path), fd (fd), ring or
    backend (name).  ``facility``/``level``/``minlevel`` are syslog codes; ``sample`` is
    ``(ranges, size)`` with ranges as (low, high) pairs."""

    kind: str
    facility: int
    host: str = ""
    port: int = 514
    path: str = ""
    fd: int = -1
    name: str = ""
    maxlen: int = 1024
    #: "" when no ``format`` word was given (rfc3164 with log-send-hostname, else local)
    format: str = ""
    level: int = 7
    minlevel: int = 0
    sample: tuple[tuple[tuple[int, int], ...], int] | None = None
    file: str = ""
    line: int = 0


def _address(ctx: ParseContext, text: str) -> dict[str, object]:
    bad = ctx.error(f"log : invalid address: '{text}' in '{text}'")
    if text in ("stdout", "stderr"):
        return {"kind": "fd", "fd": 1 if text == "stdout" else 2}
    if text.startswith("fd@"):
        if not text[3:].isdigit():
            raise bad
        return {"kind": "fd", "fd": int(text[3:])}
    if text.startswith("ring@"):
        return {"kind": "ring", "name": text[5:]}
    if text.startswith("backend@"):
        return {"kind": "backend", "name": text[8:]}
    if text.startswith("unix@") or text.startswith("/"):
        return {"kind": "unix", "path": text.removeprefix("unix@")}
    kind = "udp"
    for prefix, k in _NET_PREFIXES.items():
        if text.startswith(prefix):
            kind, text = k, text[len(prefix):]
            break
    host, port = text, 514
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise bad
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                raise bad
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, _, p = text.partition(":")
        if not p.isdigit():
            raise bad
        port = int(p)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", host or "-"):
            raise bad from None
        try:
            socket.getaddrinfo(host, None)
        except OSError:
            raise bad from None
    if not 0 < port < 65536:
        raise bad
    return {"kind": kind, "host": host, "port": port}


def _sample(ctx: ParseContext, text: str) -> tuple[tuple[tuple[int, int], ...], int]:
    ranges_text, sep, size_text = text.rpartition(":")
    if not sep:
        raise ctx.error("log : Missing sample size")
    if not size_text.isdigit() or int(size_text) <= 0:
        raise ctx.error(f"log : wrong sample size '{size_text}' for sample range "
                        f"'{ranges_text}'")
    size = int(size_text)
    ranges = []
    for part in ranges_text.split(","):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or int(m.group(1)) == 0:
            raise ctx.error(f"log : invalid sample range '{part}'")
        low = int(m.group(1))
        high = int(m.group(2) or low)
        if high < low or high > size:
            raise ctx.error(f"log : sample range '{part}' is out of the sample size {size}")
        ranges.append((low, high))
    return tuple(ranges), size


def parse_target(ctx: ParseContext, args: list[str]) -> LogTarget:
    usage = "log : expects <address> and <facility> or global as arguments"
    if len(args) < 2:
        raise ctx.error(usage)
    addr = _address(ctx, args[0])
    i = 1
    maxlen, fmt, sample = 1024, "", None
    while i < len(args) and args[i] in ("len", "format", "sample"):
        if i + 1 >= len(args):
            raise ctx.error(f"log : '{args[i]}' expects a value")
        word, value = args[i], args[i + 1]
        if word == "len":
            if not value.isdigit() or not 80 <= int(value) <= 65535:
                raise ctx.error(f"log : invalid log length '{value}', must be between 80 "
                                "and 65535")
            maxlen = int(value)
        elif word == "format":
            if value not in FORMATS:
                raise ctx.error(f"log : unknown log format '{value}'")
            fmt = value
        else:
            sample = _sample(ctx, value)
        i += 2
    rest = args[i:]
    if not rest:
        raise ctx.error(usage)
    if rest[0] not in FACILITIES:
        raise ctx.error(f"log : unknown log facility '{rest[0]}'")
    target = LogTarget(facility=FACILITIES.index(rest[0]), maxlen=maxlen, format=fmt,
                       sample=sample, file=ctx.file, line=ctx.line, **addr)  # type: ignore[arg-type]
    if len(rest) > 1:
        if rest[1] not in LEVELS:
            raise ctx.error(f"log : unknown optional log level '{rest[1]}'")
        target.level = LEVELS.index(rest[1])
    if len(rest) > 2:
        if rest[2] not in LEVELS:
            raise ctx.error(f"log : unknown optional minimum log level '{rest[2]}'")
        target.minlevel = LEVELS.index(rest[2])
    if len(rest) > 3:
        raise ctx.error(f"log : cannot handle unexpected argument '{rest[3]}'.")
    if target.kind in ("ring", "backend"):
        ctx.defer(_check_reference(target))
    if target.kind == "backend":
        ctx.mark_inactive(f"log {args[0]}", "log target", "logs")
    return target


def _check_reference(target: LogTarget):  # noqa: ANN202 - a deferred callback
    def check(config: Config) -> None:
        if target.kind == "ring":
            if sinks_of(config).get(target.name) is None and \
                    target.name not in config.sections.get("ring", {}):
                raise ConfigError(f"log : unable to find sink '{target.name}'.")
            return
        be = config.backend(target.name)
        if be is None:
            raise ConfigError(f"log : unable to find backend '{target.name}'.")
        if be.mode != "log":
            raise ConfigError(f"log : backend '{target.name}' is not in 'mode log'.")
    return check


def parse_log(ctx: ParseContext, args: list[str]) -> None:
    """``log``, ``log global`` and ``no log`` in the global section and in proxies."""
    owner = ctx.section
    is_global = isinstance(owner, GlobalSettings)
    if ctx.prefix == "no":
        if args:
            raise ctx.error(f"'no log' cannot handle unexpected argument '{args[0]}'.")
        owner.settings["log"] = []
        return
    if ctx.prefix == "default":
        raise ctx.error("'default' is not supported for keyword 'log'.")
    targets = owner.settings.setdefault("log", [])
    if args[:1] == ["global"]:
        if is_global:
            raise ctx.error("log : 'global' is not supported for a global syslog server")
        if len(args) > 1:
            raise ctx.error(f"'log global' cannot handle unexpected argument '{args[1]}'.")
        targets.extend(ctx.config.global_.settings.get("log", []))
        return
    targets.append(parse_target(ctx, args))
