"""The stats socket (global ``stats socket``, ``stats timeout``, ``stats maxconn``): the
runtime API served by :mod:`.server`, with the commands of :mod:`.commands` (process,
statistics, streams, errors) and :mod:`.patterns` (ACL and map lists).  The proxy ``stats``
keywords of the statistics page parse and validate only (inactive, later issue).

A stats socket counts as a listener, as in HAProxy (a configuration with only a stats
socket is valid with ``haproxy -c``, exit 0).  ``expose-fd listeners`` is accepted: under
the master (``-W``) every generation hands its listening sockets to the next through the
master (:mod:`hapx.core.runtime.handover`), whatever the stats socket says.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES, GLOBAL
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Point
from hapx.core.runtime import handover
from hapx.plugins.binds import parse_bind_words
from hapx.plugins.binds.options import BIND_OPTIONS
from hapx.plugins.confkit import simple_directive, v_int, v_str, v_time

from . import commands as _commands
from . import patterns
from .server import StatsServer

SOCKETS = "stats socket"
# the runtime API enforces levels; expose-fd is accepted (fd passing: master-worker reloads)
BIND_OPTIONS.activate("level", "expose-fd")
EXT = "stats_socket"


def _socket(ctx: Any, args: list[str]) -> None:
    binds = parse_bind_words(ctx, args, keyword="stats socket")
    for b in binds:
        b.options.setdefault("level", "operator")
    ctx.section.settings.setdefault(SOCKETS, []).extend(binds)
    ctx.config.extra_listeners += len(binds)


def _auth(text: str) -> tuple[str, str]:
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise ValueError(f"expects <user>:<password>, got '{text}'")
    return user, password


def _scope(text: str) -> str:
    return text


def _condition(ctx: Any, words: list[str]) -> Any:
    if not words or words[0] not in ("if", "unless"):
        raise ctx.error(f"'{ctx.keyword}' requires either 'if' or 'unless' followed by a "
                        "condition.")
    from hapx.core.sample.cond import compile_condition

    point = ctx.proxy.point(Point.FE_HRQ_HDR, Point.BE_HRQ_HDR)
    return compile_condition(words, ctx, point)


def _admin(ctx: Any, args: list[str]) -> None:
    ctx.section.settings["stats admin"] = _condition(ctx, args)


def _http_request(ctx: Any, args: list[str]) -> None:
    if not args or args[0] not in ("allow", "deny", "auth"):
        raise ctx.error("'stats http-request' requires a rule among 'allow', 'deny' and "
                        "'auth'.")
    action = args[0]
    rest = args[1:]
    realm = None
    if action == "auth" and len(rest) >= 2 and rest[0] == "realm":
        realm, rest = rest[1], rest[2:]
    cond = _condition(ctx, rest) if rest else None
    ctx.section.settings.setdefault("stats http-request", []).append((action, realm, cond))


def _text(ctx: Any, args: list[str], key: str) -> None:
    ctx.section.settings[key] = " ".join(args) if args else True


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    px = ALL_PROXIES
    directives.add(
        Directive(SOCKETS, sections=GLOBAL, parse=_socket,
                  usage="stats socket [<address:port>|<path>] [param*]",
                  doc="stats socket [<address:port>|<path>] [param*]\n\nA runtime API socket "
                      "(unix path, ipv4@ip:port, ipv6@[ip]:port, abns@name) with bind "
                      "parameters: level user|operator|admin (default operator; each command "
                      "declares the level it needs), mode, uid, gid, user, group (unix "
                      "sockets), name.  expose-fd listeners is accepted; passing the "
                      "listening sockets to a new process comes with master-worker reloads."),
        simple_directive("stats timeout", GLOBAL, "stats timeout <timeout, in milliseconds>"
                         "\n\nIdle timeout of runtime API sessions (default 10s).",
                         [v_time()], active=True),
        simple_directive("stats maxconn", GLOBAL, "stats maxconn <connections>\n\nMaximum "
                         "concurrent runtime API connections (default 10).", [v_int(1)],
                         active=True),
        simple_directive("stats enable", px, "stats enable\n\nEnable the statistics page "
                         "with the default settings (uri /haproxy?stats)."),
        simple_directive("stats uri", px, "stats uri <prefix>\n\nURI prefix of the "
                         "statistics page.", [v_str]),
        simple_directive("stats realm", px, "stats realm <realm>\n\nAuthentication realm of "
                         "the statistics page.", [v_str]),
        simple_directive("stats auth", px, "stats auth <user>:<passwd>\n\nA user allowed to "
                         "see the statistics page (repeatable).", [_auth], multi=True),
        simple_directive("stats refresh", px, "stats refresh <delay>\n\nAuto-refresh "
                         "interval of the page (seconds by default).", [v_time("s")]),
        Directive("stats admin", sections=frozenset({"frontend", "backend", "listen"}),
                  parse=_admin, active=False,
                  doc="stats admin { if | unless } <cond>\n\nEnable the admin actions of the "
                      "statistics page when the condition matches."),
        Directive("stats http-request", sections=frozenset({"frontend", "backend", "listen"}),
                  parse=_http_request, active=False,
                  doc="stats http-request { allow | deny | auth [realm <realm>] } "
                      "[ { if | unless } <condition> ]\n\nAccess control of the statistics "
                      "page."),
        Directive("stats hide-version", sections=px, parse=lambda c, a: _text(c, a, "stats "
                  "hide-version"), active=False,
                  doc="stats hide-version\n\nHide the version on the statistics page."),
        Directive("stats show-legends", sections=px, parse=lambda c, a: _text(
                  c, a, "stats show-legends"), active=False,
                  doc="stats show-legends\n\nShow legends on the statistics page."),
        Directive("stats show-node", sections=px, parse=lambda c, a: _text(
                  c, a, "stats show-node"), active=False,
                  doc="stats show-node [ <name> ]\n\nShow the node name on the statistics "
                      "page."),
        Directive("stats show-desc", sections=px, parse=lambda c, a: _text(
                  c, a, "stats show-desc"), active=False,
                  doc="stats show-desc [ <desc> ]\n\nShow a description on the statistics "
                      "page."),
        simple_directive("stats show-modules", px, "stats show-modules\n\nShow the "
                         "statistics of modules on the page."),
        simple_directive("stats scope", px, "stats scope { <name> | \".\" }\n\nLimit the "
                         "page to these proxies (repeatable; '.' = this one).", [_scope],
                         multi=True),
    )


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(*_commands.COMMANDS, *patterns.COMMANDS)


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    srv = StatsServer(config, runtime)
    if not srv.binds and handover.master_cli_fd() is None:
        return
    errors = srv.open()
    if errors:
        for sock in srv.sockets:
            sock[1].close()
        raise RuntimeError("; ".join(errors))
    config.ext[EXT] = srv
    runtime.start_soon(srv.serve)


@hookimpl
def hapx_stopping(config: Any, runtime: Any) -> None:
    srv = config.ext.get(EXT)
    if srv is not None:
        srv.stop()


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    srv = config.ext.pop(EXT, None)
    if srv is not None:
        srv.stop()
