"""The load-balancing algorithms of ``mode log`` backends (log-hash, sticky).  Their pickers
come with log forwarding to backends: each parses and validates its arguments and is
inactive, so ``balance <algo>`` is reported as not yet active.  The other algorithms are
plugins of their own (balance_leastconn, balance_first, balance_source, balance_uri,
balance_url_param, balance_hdr, balance_random, balance_rdp_cookie, balance_hash)."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer


def _no_param(ctx: Any) -> None:
    if ctx is not None and ctx.param is not None:
        raise ctx.error(f"'{ctx.keyword}' takes no parameter in parentheses.")


def _no_args(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if args:
        raise ctx.error(f"'{ctx.keyword}' takes no argument (got '{args[0]}').")
    return {}


def _log_hash(ctx: Any, args: list[str]) -> dict[str, Any]:
    _no_param(ctx)
    if len(args) != 1:
        raise ctx.error("'balance log-hash' expects a comma-separated converter list.")
    return {"converters": args[0].split(",")}


_ALGOS: list[tuple[str, Any, str]] = [
    ("log-hash", _log_hash, "log-hash <converters>\n\nLog backends: hash of the message "
     "through the converters."),
    ("sticky", _no_args, "sticky\n\nLog backends: always the first usable server."),
]


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    for name, parse, doc in _ALGOS:
        balancers.add(Balancer(name, parse=parse, active=False, doc=doc))
