"""``balance random[(<draws>)]``: random points on the consistent-hash ring, the least
loaded of ``draws`` candidates."""

from __future__ import annotations

from random import getrandbits
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import is_full
from hapx.plugins.servers.lbhashpick import LookupPicker, make_lookup


def parse_random(ctx: Any, args: list[str]) -> dict[str, Any]:
    if args:
        raise ctx.error(f"'balance random' takes no argument (got '{args[0]}').")
    draws = 2
    if ctx.param is not None:
        if not ctx.param.isdigit() or int(ctx.param) <= 0:
            raise ctx.error(f"'{ctx.keyword}' : 'draws' expects a positive integer.")
        draws = int(ctx.param)
    return {"draws": draws}


class Random(LookupPicker):
    """The per-backend picker of ``balance random`` (HAProxy's ``get_server_rnd``): each
    draw takes the server of a random point of the weighted ring (hash-balance-factor
    applies); the candidate with the fewest served streams relative to its weight is kept.
    A saturated result gives no server (the request would queue on the backend)."""

    def __init__(self, backend: Any, draws: int) -> None:
        self.lookup = make_lookup(backend, consistent=True)
        self.draws = draws

    def pick(self, strm: Any = None, avoid: Any = None) -> Any:
        lookup = self.lookup
        if not lookup.groups.tot_weight:
            return None
        curr = None
        for _ in range(self.draws):
            prev = curr
            curr = lookup.by_hash(getrandbits(32), avoid)
            if curr is None:
                break
            if prev is not None and prev is not curr and \
                    curr.live.served * prev.uweight > prev.live.served * curr.uweight:
                curr = prev
        if curr is not None and is_full(curr):
            return None
        return curr


def _build(backend: Any, settings: dict[str, Any]) -> Random:
    return Random(backend, settings["draws"])


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "random", parse=parse_random, build=_build,
        doc="random[(<draws>)]\n\nA random point of the consistent-hash ring (weights "
            "respected) gives a candidate server; <draws> candidates (default 2: the 'power "
            "of two choices') are drawn and the one with the fewest streams relative to its "
            "weight is used.  Honours hash-balance-factor.  Dynamic: weights and states "
            "apply at once; good with many servers or frequently changing farms."))
