"""``balance hash <expr>``: hash of any sample expression."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer, Point, SmpType
from hapx.core.sample.expr import compile_expr
from hapx.plugins.servers.lbhashpick import HashPicker


def parse_hash(ctx: Any, args: list[str]) -> dict[str, Any]:
    if ctx.param is not None:
        raise ctx.error(f"'{ctx.keyword}' takes no parameter in parentheses.")
    if len(args) != 1:
        raise ctx.error("'balance hash' expects exactly one sample expression.")
    return {"expr": compile_expr(args[0], ctx, Point.BE_SET_SRV, want=SmpType.BIN)}


def _build(backend: Any, settings: dict[str, Any]) -> HashPicker:
    evaluate = settings["expr"].eval

    def expr_hash(strm: Any, picker: HashPicker) -> int | None:
        smp = evaluate(strm)
        if smp is None:
            return None
        return picker.hasher(bytes(smp.value))

    return HashPicker(backend, expr_hash)


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "hash", parse=parse_hash, build=_build,
        doc="hash <expr>\n\nThe sample expression <expr> (any fetch and converters, e.g. "
            "'req.cookie(sid)' or 'pathq,lower') is evaluated when the server is chosen and "
            "its binary form hashed.  No sample means round robin.  Static (map-based) "
            "unless 'hash-type consistent'."))
