"""``log-forward`` sections: a syslog relay receiving on TCP (``bind``) and UDP
(``dgram-bind``) and sending to ``log`` targets (addresses, rings, ``mode log`` backends).
The relay comes in a later issue: everything here parses and validates and is inactive.
Its listeners count as listeners of the configuration."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.binds import parse_bind_words
from hapx.plugins.confkit import declare_section, simple_directive, v_choice, v_int, v_time
from hapx.plugins.logs.targets import parse_log

KIND = "log-forward"
HOST_STRATEGIES = ("replace", "fill", "keep", "append")
#: bind options meaningful for a syslog listener
_BIND_ALLOWED = {"name", "id", "maxconn", "backlog", "interface", "namespace", "mode", "uid",
                 "gid", "user", "group", "transparent", "v4v6", "v6only", "thread", "shards",
                 "tcp-ut", "defer-accept", "accept-proxy", "nice", "ssl", "crt", "crt-list",
                 "ca-file", "verify", "alpn", "ciphers", "ciphersuites", "ssl-min-ver",
                 "ssl-max-ver", "guid-prefix"}


def _bind(dgram: bool) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        binds = parse_bind_words(ctx, args, keyword=ctx.keyword, dgram=dgram,
                                 allowed=_BIND_ALLOWED)
        ctx.section.settings.setdefault(ctx.keyword, []).extend(binds)
        ctx.config.extra_listeners += len(binds)
    return parse


def _post(ctx: Any, sec: Any) -> None:
    if not sec.settings.get("bind") and not sec.settings.get("dgram-bind"):
        ctx.warning(f"log-forward '{sec.name}' has no 'bind' nor 'dgram-bind' line: it "
                    "receives nothing.")
    sec.settings.setdefault("maxconn", 10)
    sec.settings.setdefault("option host", "fill")


def _option(word: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        if args:
            raise ctx.error(f"'option {word}' takes no argument (got '{args[0]}').")
        ctx.section.settings[f"option {word}"] = ctx.prefix != "no"
    return parse


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, post=_post,
        doc="log-forward <name>\n\nA syslog relay: receives RFC3164/RFC5424 messages on its "
            "bind (TCP, octet-counting or non-transparent framing) and dgram-bind (UDP) "
            "lines and sends them to its log targets."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("bind", sections=sec, parse=_bind(False), active=False,
                  doc="bind <addr> [param*]\n\nReceive syslog over TCP."),
        Directive("dgram-bind", sections=sec, parse=_bind(True), active=False,
                  doc="dgram-bind <addr> [param*]\n\nReceive syslog over UDP."),
        Directive("log", sections=sec, parse=parse_log, negatable=True, active=False,
                  doc="log <target> [len <n>] [format <fmt>] [sample <ranges>:<size>] "
                      "<facility> [<level> [<minlevel>]]\n\nWhere received messages go "
                      "(backend@<name> for a 'mode log' backend)."),
        simple_directive("maxconn", sec, "maxconn <conns>\n\nMaximum concurrent TCP syslog "
                         "connections (default 10).", [v_int(1)]),
        simple_directive("backlog", sec, "backlog <conns>\n\nListen queue of the TCP "
                         "listeners.", [v_int(1)]),
        simple_directive("timeout client", sec, "timeout client <timeout>\n\nIdle timeout "
                         "of TCP syslog connections.", [v_time()]),
        Directive("option dont-parse-log", sections=sec, parse=_option("dont-parse-log"),
                  negatable=True, active=False,
                  doc="option dont-parse-log\n\nRelay messages as received, without parsing "
                      "(pair with 'format raw' on targets) (3.2)."),
        Directive("option assume-rfc6587-ntf", sections=sec,
                  parse=_option("assume-rfc6587-ntf"), negatable=True, active=False,
                  doc="option assume-rfc6587-ntf\n\nAlways split TCP streams with "
                      "non-transparent framing (line feeds) (3.2)."),
        simple_directive("option host", sec, "option host { replace | fill | keep | append "
                         "}\n\nWhat becomes of the HOSTNAME field (default fill) (3.2).",
                         [v_choice(*HOST_STRATEGIES)]),
    )
