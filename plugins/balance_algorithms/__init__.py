"""The load-balancing algorithms other than roundrobin and static-rr (leastconn, first,
source, uri, url_param, hdr, random, rdp-cookie, hash, log-hash, sticky).  Their pickers come
with the data path of a later issue: each parses and validates its arguments and is inactive,
so ``balance <algo>`` is reported as not yet active."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer, Point


def _no_param(ctx: Any) -> None:
    if ctx is not None and ctx.param is not None:
        raise ctx.error(f"'{ctx.keyword}' takes no parameter in parentheses.")


def _no_args(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if args:
        raise ctx.error(f"'{ctx.keyword}' takes no argument (got '{args[0]}').")
    return {}


def _count(ctx: Any, word: str, text: str | None) -> int:
    if text is None or not text.isdigit() or int(text) <= 0:
        raise ctx.error(f"'{ctx.keyword}' : '{word}' expects a positive integer.")
    return int(text)


def _uri(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    out: dict[str, Any] = {"len": 0, "depth": 0, "whole": False, "path-only": False}
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("len", "depth"):
            out[word] = _count(ctx, word, args[i + 1] if i + 1 < len(args) else None)
            i += 2
        elif word in ("whole", "path-only"):
            out[word] = True
            i += 1
        else:
            raise ctx.error("'balance uri' only accepts parameters 'len', 'depth', 'whole' "
                            f"and 'path-only' (got '{word}').")
    return out


def _url_param(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if not args:
        raise ctx.error("'balance url_param' requires an URL parameter name.")
    out: dict[str, Any] = {"name": args[0], "check_post": None}
    rest = args[1:]
    if rest:
        if rest[0] != "check_post":
            raise ctx.error(f"'balance url_param' only accepts 'check_post' (got '{rest[0]}').")
        out["check_post"] = _count(ctx, "check_post", rest[1]) if len(rest) > 1 else 48
        if len(rest) > 2:
            raise ctx.error(f"'balance url_param' : unexpected argument '{rest[2]}'.")
    return out


def _hdr(ctx: Any, args: list[str]) -> dict[str, Any]:
    if not ctx.param:
        raise ctx.error("'balance hdr' requires an http header field name.")
    if args and args != ["use_domain_only"]:
        raise ctx.error(f"'balance hdr()' only accepts 'use_domain_only' (got '{args[0]}').")
    return {"name": ctx.param, "use_domain_only": bool(args)}


def _random(ctx: Any, args: list[str]) -> dict[str, Any]:
    if args:
        raise ctx.error(f"'balance random' takes no argument (got '{args[0]}').")
    draws = 2
    if ctx.param is not None:
        draws = _count(ctx, "draws", ctx.param)
    return {"draws": draws}


def _rdp_cookie(ctx: Any, args: list[str]) -> dict[str, Any]:
    if args:
        raise ctx.error(f"'balance rdp-cookie' takes no argument (got '{args[0]}').")
    return {"name": ctx.param or "mstshash"}


def _hash(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if len(args) != 1:
        raise ctx.error("'balance hash' expects exactly one sample expression.")
    from hapx.core.sample.expr import compile_expr

    return {"expr": compile_expr(args[0], ctx, Point.BE_SET_SRV)}


def _log_hash(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if len(args) != 1:
        raise ctx.error("'balance log-hash' expects a comma-separated converter list.")
    return {"converters": args[0].split(",")}


_ALGOS: list[tuple[str, Any, str]] = [
    ("leastconn", _no_args, "leastconn\n\nThe server with the fewest connections (current + "
     "queued, relative to weight); round robin among equals.  Dynamic."),
    ("first", _no_args, "first\n\nThe first server (lowest id) with a free connection slot "
     "(needs maxconn); weights are ignored."),
    ("source", _no_args, "source\n\nHash of the client's IP address."),
    ("uri", _uri, "uri [len <n>] [depth <n>] [whole] [path-only]\n\nHash of the URI (path "
     "before '?', or the whole URI), optionally limited in length or directory depth."),
    ("url_param", _url_param, "url_param <param> [check_post [<max_wait>]]\n\nHash of a "
     "query string parameter (and of a urlencoded POST body with check_post)."),
    ("hdr", _hdr, "hdr(<name>) [use_domain_only]\n\nHash of a request header value."),
    ("random", _random, "random[(<draws>)]\n\nRandom pick on the consistent-hash ring, best "
     "of <draws> (default 2) by load."),
    ("rdp-cookie", _rdp_cookie, "rdp-cookie[(<name>)]\n\nHash of the RDP cookie (default "
     "mstshash)."),
    ("hash", _hash, "hash <expr>\n\nHash of any sample expression."),
    ("log-hash", _log_hash, "log-hash <converters>\n\nLog backends: hash of the message "
     "through the converters."),
    ("sticky", _no_args, "sticky\n\nLog backends: always the first usable server."),
]


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    for name, parse, doc in _ALGOS:
        balancers.add(Balancer(name, parse=parse, active=False, doc=doc))
