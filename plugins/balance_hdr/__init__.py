"""``balance hdr(<name>) [use_domain_only]``: hash of a request header value."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lbhashpick import HashPicker


def parse_hdr(ctx: Any, args: list[str]) -> dict[str, Any]:
    if not ctx.param:
        raise ctx.error("'balance hdr' requires an http header field name.")
    if args and args != ["use_domain_only"]:
        raise ctx.error(f"'balance hdr()' only accepts 'use_domain_only' (got '{args[0]}').")
    return {"name": ctx.param, "use_domain_only": bool(args)}


def first_value(headers: list[tuple[str, str]], low: str) -> str | None:
    """The first comma-separated value of the first ``low`` header, trimmed (HAProxy's
    ``http_find_header`` in value mode)."""
    size = len(low)
    for name, value in headers:
        if len(name) == size and name.lower() == low:
            return value.split(",", 1)[0].strip(" \t")
    return None


def main_domain(value: str) -> str:
    """``use_domain_only``: the label before the last dot (``haproxy.1wt.eu`` -> ``1wt``;
    a name without a dot stays whole)."""
    n = len(value)
    end = n
    found = False
    start = 0
    for pos in range(n, 0, -1):
        if found:
            if value[pos - 1] == ".":
                start = pos
                break
        elif pos < n and value[pos] == ".":
            end = pos
            found = True
    return value[start:end]


def _build(backend: Any, settings: dict[str, Any]) -> HashPicker:
    low = settings["name"].lower()
    domain_only = settings["use_domain_only"]

    def hdr_hash(strm: Any, picker: HashPicker) -> int | None:
        req = strm.req
        if req is None:
            return None
        value = first_value(req.headers, low)
        if not value:
            return None
        if domain_only:
            value = main_domain(value)
        return picker.hasher(value.encode("latin-1", "replace"))

    return HashPicker(backend, hdr_hash)


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "hdr", parse=parse_hdr, build=_build,
        doc="hdr(<name>) [use_domain_only]\n\nThe first value of request header <name> is "
            "hashed; with 'use_domain_only' only its main domain label ('haproxy.1wt.eu' "
            "-> '1wt'), meant for the Host header.  A missing or empty header means round "
            "robin.  HTTP only.  Static (map-based) unless 'hash-type consistent'."))
