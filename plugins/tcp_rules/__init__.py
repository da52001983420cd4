"""The tcp-request (connection, session, content) and tcp-response content rule sets, their
inspect delays and their actions."""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import ALL_PROXIES
from hapx.core.config.units import UnitError, parse_time
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Point, RuleSet
from hapx.core.rules import parse_rule

from . import actions as tcp_actions

_REQ = {"connection": RuleSet.TCP_REQ_CONN, "session": RuleSet.TCP_REQ_SESS,
        "content": RuleSet.TCP_REQ_CONT}


def _where(proxy: Any) -> str:
    if proxy.is_defaults:
        return "defaults section"
    kind = "proxy" if proxy.kind == "listen" else proxy.kind
    return f"{kind} '{proxy.name}'"


def _inspect_delay(ctx: Any, proxy: Any, args: list[str], key: str) -> None:
    word = ctx.keyword
    text = args[1] if len(args) > 1 else ""
    detail = ""
    ms = None
    if text:
        try:
            ms = parse_time(text)
        except UnitError as exc:
            msg = str(exc)
            if "overflow" in msg:
                detail = (f" (timer overflow in '{text}', maximum value is 2147483647 ms or "
                          "~24.8 days)")
            else:
                bad = next((c for c in text if not c.isdigit()), "")
                detail = f" (unexpected character '{bad}')"
    if ms is None:
        raise ctx.error(f"'{word} inspect-delay' expects a positive delay in milliseconds, in "
                        f"{_where(proxy)}{detail}")
    if len(args) > 2:
        raise ctx.error(f"'{word} inspect-delay' takes exactly one argument")
    if proxy.settings.get(key):
        ctx.warning(f"ignoring {word} inspect-delay (was already defined) in {_where(proxy)}")
        return
    proxy.settings[key] = ms


def _anonymous_defaults(ctx: Any, proxy: Any, sub: str) -> None:
    if proxy.is_defaults and not proxy.name:
        raise ctx.error(f"'{ctx.keyword} {sub}' not allowed in anonymous 'defaults' section.")


def parse_tcp_request(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    if not args:
        raise ctx.error(f"missing argument for '{ctx.keyword}' in {_where(proxy)}")
    sub = args[0]
    if sub == "inspect-delay":
        if proxy.is_defaults and not proxy.name:
            raise ctx.error("tcp-request inspect-delay is not allowed in anonymous 'defaults' "
                            "sections")
        _inspect_delay(ctx, proxy, args, "tcp-request inspect-delay")
        return
    if sub not in _REQ:
        raise ctx.error(f"'{ctx.keyword}' expects 'inspect-delay', 'connection', or 'content' "
                        f"in {_where(proxy)} (got '{sub}')")
    _anonymous_defaults(ctx, proxy, sub)
    ruleset = _REQ[sub]
    if ruleset != RuleSet.TCP_REQ_CONT and not (proxy.is_frontend or proxy.is_defaults):
        kind = "proxy" if proxy.kind == "listen" else proxy.kind
        raise ctx.error(f"tcp-request {sub} is not allowed because {kind} {proxy.name} is not "
                        "a frontend")
    if ruleset == RuleSet.TCP_REQ_CONN:
        point = Point.FE_CON_ACC
    elif ruleset == RuleSet.TCP_REQ_SESS:
        point = Point.FE_SES_ACC
    else:
        point = proxy.point(Point.FE_REQ_CNT, Point.BE_REQ_CNT)
    proxy.add_rule(parse_rule(ctx, ruleset, args[1:], point))


def parse_tcp_response(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    if not args:
        raise ctx.error(f"missing argument for '{ctx.keyword}' in {_where(proxy)}")
    sub = args[0]
    if sub == "inspect-delay":
        if (proxy.is_defaults and not proxy.name) or not (proxy.is_backend
                                                          or proxy.is_defaults):
            raise ctx.error("tcp-response inspect-delay is only allowed in 'backend' sections "
                            "or 'defaults' section with a name")
        _inspect_delay(ctx, proxy, args, "tcp-response inspect-delay")
        return
    if sub != "content":
        raise ctx.error(f"'{ctx.keyword}' expects 'inspect-delay' or 'content' in "
                        f"{_where(proxy)} (got '{sub}')")
    _anonymous_defaults(ctx, proxy, sub)
    point = proxy.point(Point.FE_RES_CNT, Point.BE_RES_CNT)
    proxy.add_rule(parse_rule(ctx, RuleSet.TCP_RES_CONT, args[1:], point))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(
        Directive("tcp-request", sections=ALL_PROXIES, parse=parse_tcp_request,
                  usage="tcp-request {connection|session|content} <action> [args] "
                        "[{if|unless} <cond>] | tcp-request inspect-delay <time>",
                  doc="tcp-request connection <action> [options] [{if|unless} <cond>]\n"
                      "tcp-request session <action> [options] [{if|unless} <cond>]\n"
                      "tcp-request content <action> [options] [{if|unless} <cond>]\n"
                      "tcp-request inspect-delay <time>\n\nLayer 4 rules run at accept "
                      "(connection), after the handshakes (session) and on the request "
                      "contents (content, waiting up to inspect-delay for data)."),
        Directive("tcp-response", sections=ALL_PROXIES, parse=parse_tcp_response,
                  usage="tcp-response content <action> [args] [{if|unless} <cond>] | "
                        "tcp-response inspect-delay <time>",
                  doc="tcp-response content <action> [options] [{if|unless} <cond>]\n"
                      "tcp-response inspect-delay <time>\n\nRules run on the server's "
                      "response contents, waiting up to inspect-delay for data."),
    )


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(*tcp_actions.ACTIONS)
