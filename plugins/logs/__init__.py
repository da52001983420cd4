"""Logging: ``log`` targets, log formats, log options and the ``%xx`` aliases.

What is stored (the emitter of :mod:`.emit` reads it when the configuration is checked):

- ``settings["log"]``: list of :class:`~.targets.LogTarget` (global section and proxies;
  ``log global`` copies the global targets declared so far, ``no log`` empties the list).
- ``settings["log-format"]``, ``settings["log-format-sd"]``, ``settings["error-log-format"]``:
  compiled LogFormat objects (``option httplog``/``httpslog``/``tcplog`` store the compiled
  built-in format).  In defaults sections they are checked, then compiled again in each
  proxy that inherits them (see hapx.plugins.proxy_basics.lfsource).
  ``settings["log-format.origin"]`` names the keyword that set the format.
- ``settings["log-tag"]`` (global and proxies), global ``settings["log-send-hostname"]``.
- ``options[...]``: httplog, httpslog, tcplog, dontlognull, dontlog-normal,
  log-separate-errors, log-health-checks, logasap.

At ``hapx_post_check`` every frontend and listen proxy with loggers gets a
:class:`~.emit.StreamLogger` in its ``stream_end`` list; ``hapx_startup`` starts the senders
(:mod:`.senders`: UDP, TCP, unix datagram, file descriptors), ``hapx_stopping`` (soft stop)
logs HAProxy's "Proxy <name> stopped" lines and ``hapx_shutdown`` flushes and closes.
``log ring@<name>`` writes to the event sink of that name (:mod:`hapx.core.sinks`, which
builds the header of its own format); ``log backend@...`` is parsed and validated only (not
active yet).

The built-in formats are exported as HAPROXY_HTTP_LOG_FMT, HAPROXY_HTTPS_LOG_FMT,
HAPROXY_HTTP_CLF_LOG_FMT, HAPROXY_TCP_LOG_FMT and HAPROXY_TCP_CLF_LOG_FMT when the plugin
registers, so a configuration can write ``log-format "${HAPROXY_HTTP_LOG_FMT} extra"``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hapx.core.config.model import ALL_PROXIES, GLOBAL, Cap, Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.config.reader import SourceLine
from hapx.core.errors import ConfigError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.proxy_basics.common import no_extra_args, proxy_type_str
from hapx.plugins.proxy_basics.lfsource import LogFormatSource, compile_in, logformat_setting

from . import aliases as alias_defs
from . import emit, formats
from .targets import parse_log

_FORMAT_OPTIONS = ("httplog", "httpslog", "tcplog")


def _set_format(ctx: ParseContext, key: str, text: str, origin: str) -> None:
    px: Proxy = ctx.proxy
    prev = px.settings.get(f"{key}.origin")
    where = (ctx.file, ctx.line)
    inherited = px.defaults is not None and \
        px.defaults.settings.get(f"{key}.where") == px.settings.get(f"{key}.where")
    if prev and not inherited and key == "log-format":
        ctx.warning(f"'{origin}' overrides previous '{prev}' in '{proxy_type_str(px)}' "
                    "section.")
    px.settings[key] = logformat_setting(ctx, text)
    px.settings[f"{key}.origin"] = origin
    px.settings[f"{key}.where"] = where


def _format_directive(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error(f"{ctx.keyword} expects an argument.")
    if len(args) > 1:
        raise ctx.error(f"{ctx.keyword} expects only one argument, don't forget to escape "
                        "spaces!")
    _set_format(ctx, ctx.keyword, args[0], ctx.keyword)


def _format_option(name: str) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        px: Proxy = ctx.proxy
        if ctx.prefix:
            no_extra_args(ctx, args)
            px.options[name] = ctx.prefix == "default" and bool(
                px.defaults and px.defaults.options.get(name))
            if ctx.prefix == "no" and px.settings.get("log-format.origin", "").startswith(
                    f"option {name}"):
                for key in ("log-format", "log-format.origin", "log-format.where"):
                    px.settings.pop(key, None)
            return
        clf = False
        if args:
            if name == "httpslog" or args[0] != "clf":
                if name == "httplog":
                    raise ctx.error(f"keyword '{name}' only supports option 'clf'.")
                no_extra_args(ctx, args)
            no_extra_args(ctx, args, 1)
            clf = True
        text = {("httplog", False): formats.HTTP, ("httplog", True): formats.HTTP_CLF,
                ("tcplog", False): formats.TCP, ("tcplog", True): formats.TCP_CLF,
                ("httpslog", False): formats.HTTPS}[(name, clf)]
        _set_format(ctx, "log-format", text, f"option {name}{' clf' if clf else ''}")
        for other in _FORMAT_OPTIONS:
            px.options[other] = other == name
    return parse


def _flag_option(name: str, cap: Cap) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        no_extra_args(ctx, args)
        px: Proxy = ctx.proxy
        if not px.is_defaults and not px.cap & cap:
            ctx.warning(f"'{name}' ignored because {proxy_type_str(px)} '{px.name}' has no "
                        f"{'backend' if cap == Cap.BE else 'frontend'} capability.")
            return
        if ctx.prefix == "default":
            value = bool(px.defaults and px.defaults.options.get(name))
        else:
            value = ctx.prefix != "no"
        px.options[name] = value
    return parse


def _log_tag(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects a tag for use in syslog.")
    no_extra_args(ctx, args, 1)
    ctx.section.settings["log-tag"] = args[0]


def _send_hostname(ctx: ParseContext, args: list[str]) -> None:
    no_extra_args(ctx, args, 1)
    ctx.section.settings["log-send-hostname"] = args[0] if args else None


# name: (capability, explanation, active)
_FLAGS = {
    "dontlognull": (Cap.FE, "Do not log streams that received no byte from the client.",
                    True),
    "dontlog-normal": (Cap.FE, "Log only errors and abnormal terminations.", True),
    "log-separate-errors": (Cap.FE, "Log errors at level 'err' instead of 'info'.", True),
    "log-health-checks": (Cap.BE, "Log every health check status change in detail (run by "
                          "the health_checks plugin).", True),
    "logasap": (Cap.FE, "Log when the response headers are known, without waiting for "
                "the end of the transfer; a later version.", False),
}


@hookimpl
def hapx_register_log_aliases(aliases: Any) -> None:
    aliases.add(*alias_defs.aliases())


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    formats.export_env()
    both = ALL_PROXIES | GLOBAL
    directives.add(
        Directive("log", sections=both, parse=parse_log, negatable=True,
                  doc="log { global | <target> [len <n>] [format <fmt>] [sample "
                      "<ranges>:<size>] <facility> [<level> [<minlevel>]] }\n\nSend log "
                      "lines to <target>: an address (udp@, tcp@, ipv4@, ipv6@, host:port, "
                      "default port 514; tcp@ keeps a connection, LF-framed), a unix datagram "
                      "socket path, stdout, stderr, fd@<n>; ring@<ring> and "
                      "backend@<backend> are parsed only (not active yet).  Formats: "
                      "rfc3164, rfc5424, local, short, priority, timed, iso, raw (default: "
                      "local, or rfc3164 with log-send-hostname).  'no log' removes the "
                      "targets."),
        Directive("log-format", sections=ALL_PROXIES, parse=_format_directive,
                  doc="log-format <format>\n\nThe format of traffic log lines, compiled now "
                      "(settings['log-format'])."),
        Directive("log-format-sd", sections=ALL_PROXIES, parse=_format_directive,
                  doc="log-format-sd <format>\n\nThe RFC5424 structured-data part of log "
                      "lines (settings['log-format-sd'])."),
        Directive("error-log-format", sections=ALL_PROXIES, parse=_format_directive,
                  doc="error-log-format <format>\n\nThe format of connection error log "
                      "lines (settings['error-log-format'])."),
        Directive("log-tag", sections=both, parse=_log_tag,
                  doc="log-tag <tag>\n\nThe syslog tag (default: the program name), "
                      "settings['log-tag']."),
        Directive("log-send-hostname", sections=GLOBAL, parse=_send_hostname,
                  doc="log-send-hostname [<name>]\n\nPut the host name (or <name>) in the "
                      "syslog header (settings['log-send-hostname'])."),
        Directive("option httplog", sections=ALL_PROXIES, parse=_format_option("httplog"),
                  negatable=True,
                  doc="option httplog [clf]\n\nUse the HTTP log format (or the common log "
                      "format with clf): settings['log-format'] = compiled "
                      "HAPROXY_HTTP_LOG_FMT.  Proxies not in mode http fall back to tcplog."),
        Directive("option httpslog", sections=ALL_PROXIES, parse=_format_option("httpslog"),
                  negatable=True, active=False,
                  doc="option httpslog\n\nThe HTTP log format followed by TLS details "
                      "(HAPROXY_HTTPS_LOG_FMT); needs the TLS fetches of a later version."),
        Directive("option tcplog", sections=ALL_PROXIES, parse=_format_option("tcplog"),
                  negatable=True,
                  doc="option tcplog [clf]\n\nUse the TCP log format (HAPROXY_TCP_LOG_FMT, "
                      "or HAPROXY_TCP_CLF_LOG_FMT with clf)."),
        *(Directive(f"option {name}", sections=ALL_PROXIES, parse=_flag_option(name, cap),
                    negatable=True, active=active,
                    doc=f"[no] option {name}\n\n{text}  proxy.options['{name}'].")
          for name, (cap, text, active) in _FLAGS.items()),
    )


def _fallback_tcplog(config: Config, px: Proxy) -> None:
    origin = px.settings.get("log-format.origin", "")
    if not origin.startswith("option httplog") or px.mode == "http" or not px.is_frontend:
        return
    file, line = px.settings.get("log-format.where", (px.file, px.line))
    config.diag.warning(f"'option httplog' not usable with {proxy_type_str(px)} "
                        f"'{px.name}' (needs 'mode http'). Falling back to 'option tcplog'.",
                        file, line)
    ctx = ParseContext(config, SourceLine(file, line, ""), "option tcplog", [], px.kind, px)
    src = LogFormatSource(formats.TCP, file, line, "option tcplog")
    try:
        px.settings["log-format"] = compile_in(ctx, src)
    except ConfigError as exc:
        config.diag.alert(exc.message, file, line)
        return
    px.settings["log-format.origin"] = "option tcplog"
    px.options["httplog"], px.options["tcplog"] = False, True


@hookimpl
def hapx_configure(config: Config) -> None:
    for px in config.proxies:
        _fallback_tcplog(config, px)


@hookimpl
def hapx_post_check(config: Config) -> None:
    """Every log format is compiled now: attach the stream loggers (no socket opens yet)."""
    emit.install(config)


@hookimpl
def hapx_startup(config: Config, runtime: Any) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    emit.runtime_of(config).start(loop)


@hookimpl
def hapx_stopping(config: Config, runtime: Any) -> None:
    if getattr(runtime, "soft", True):
        emit.stopped_messages(config)


@hookimpl
def hapx_shutdown(config: Config, runtime: Any) -> None:
    emit.runtime_of(config).close()
