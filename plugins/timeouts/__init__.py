"""Proxy timeouts: ``timeout <name> <time>``.

Each timeout is its own directive storing milliseconds in ``proxy.timeouts[<name>]``
(client, server, connect, http-request, http-keep-alive, queue, tunnel, client-fin,
server-fin, check, tarpit, client-hs).  A bare number is in milliseconds.  The pre-2.1
``contimeout``/``clitimeout``/``srvtimeout`` give HAProxy's error naming the replacement.
At check time, a tcp or http proxy lacking its client, connect or server timeout gets
HAProxy's "missing timeouts" warning.
"""

from __future__ import annotations

import re
from typing import Any

from hapx.core.config.model import ALL_PROXIES, Cap, Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.config.units import UnitError, parse_time
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.proxy_basics.common import proxy_type_str

FE, BE, FB = Cap.FE, Cap.BE, Cap.FE | Cap.BE

#: name -> (side, active now, explanation)
TIMEOUTS: dict[str, tuple[Cap, bool, str]] = {
    "client": (FE, True, "Maximum inactivity time on the client side."),
    "server": (BE, True, "Maximum inactivity time on the server side."),
    "connect": (BE, True, "Maximum time to wait for a connection to a server."),
    "http-request": (FB, True, "Maximum time to receive a complete HTTP request (headers)."),
    "http-keep-alive": (FB, True, "Maximum time to wait for a new request on an idle "
                                  "client connection."),
    "queue": (BE, True, "Maximum time a request waits in a queue for a connection slot."),
    "tunnel": (BE, True, "Maximum inactivity time on both sides once a connection is a "
                         "tunnel (WebSocket, CONNECT, tcp after upgrade)."),
    "client-fin": (FE, True, "Inactivity time on the client side once it shut its write "
                             "side."),
    "server-fin": (BE, True, "Inactivity time on the server side once it shut its write "
                             "side."),
    "check": (BE, False, "Additional read timeout of health checks, once connected "
                         "(health checks come later)."),
    "tarpit": (FB, False, "How long tarpitted requests are held (http-request tarpit comes "
                          "later)."),
    "client-hs": (FE, False, "Maximum time for the client handshake (TLS, QUIC), which "
                             "comes later."),
}

_LIST = ("'client', 'server', 'connect', 'check', 'queue', 'handshake', 'http-keep-alive', "
         "'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin'")


def _parse(name: str, cap: Cap) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        px: Proxy = ctx.proxy
        if not args:
            raise ctx.error(f"'timeout {name}' expects an integer value (in milliseconds)")
        try:
            value = parse_time(args[0], "ms", keyword=f"timeout {name}")
        except UnitError as exc:
            raise ctx.error(str(exc)) from None
        if len(args) > 1:
            raise ctx.error(f"'timeout {name}' : unexpected extra argument '{args[1]}' after "
                            f"value '{args[0]}'.")
        if re.fullmatch(r"\d+", args[0]) and 0 < value < 100:
            ctx.warning(f"'timeout {name} {value}' in {proxy_type_str(px)} '{px.name}' is "
                        "suspiciously small for a value in milliseconds. Please use an "
                        f"explicit unit ('{value}ms') if that was the intent.")
        if not px.is_defaults and not px.cap & cap:
            side = "backend" if cap & BE else "frontend"
            ctx.warning(f"'timeout {name}' will be ignored because {proxy_type_str(px)} "
                        f"'{px.name}' has no {side} capability")
        else:
            inherited = px.defaults.timeouts.get(name) if px.defaults else None
            if name in px.timeouts and px.timeouts[name] != inherited:
                ctx.warning(f"overwriting 'timeout {name}' which was already specified")
        px.timeouts[name] = value
    return parse


def _unknown(ctx: ParseContext, args: list[str]) -> None:
    raise ctx.error(f"'timeout' supports {_LIST} (got '{args[0] if args else ''}')")


def _legacy(replacement: str) -> Any:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        raise ctx.error(f"the '{ctx.keyword}' directive is not supported anymore since "
                        f"HAProxy 2.1. Use 'timeout {replacement}'.")
    return parse


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    for name, (cap, active, text) in TIMEOUTS.items():
        side = {FE: "frontend", BE: "backend", FB: "frontend and backend"}[cap]
        directives.add(Directive(
            f"timeout {name}", sections=ALL_PROXIES, parse=_parse(name, cap), active=active,
            doc=f"timeout {name} <time>\n\n{text}  Side: {side}.  Milliseconds unless a "
                f"unit is given (us, ms, s, m, h, d); stored in "
                f"proxy.timeouts['{name}'] in ms."))
    directives.add(
        Directive("timeout", sections=ALL_PROXIES, parse=_unknown,
                  doc="timeout <name> <time>\n\nReports an unknown timeout name with the "
                      "list of supported ones."),
        *(Directive(old, sections=ALL_PROXIES, parse=_legacy(new),
                    doc=f"{old} <time>\n\nRemoved in HAProxy 2.1: use 'timeout {new}'.")
          for old, new in (("contimeout", "connect"), ("clitimeout", "client"),
                           ("srvtimeout", "server"))),
    )


def _missing(px: Proxy) -> bool:
    t = px.timeouts
    if px.is_frontend and not t.get("client"):
        return True
    if px.is_backend and px.servers:
        if not t.get("connect"):
            return True
        if not t.get("server") and (px.mode == "http" or not t.get("tunnel")):
            return True
    return False


@hookimpl
def hapx_configure(config: Config) -> None:
    for px in config.proxies:
        if px.mode in ("tcp", "http") and _missing(px):
            config.diag.warning(
                f"missing timeouts for {proxy_type_str(px)} '{px.name}'.\n"
                "   | While not properly invalid, you will certainly encounter various "
                "problems\n"
                "   | with such a configuration. To fix this, please ensure that all "
                "following\n"
                "   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.")
