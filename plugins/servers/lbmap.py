"""Map-based lookup for hash algorithms (HAProxy's ``lb_map.c``).

The servers in play fill a table of ``tot_weight`` slots, each server appearing as many
times as its effective weight (user weight divided by the GCD of the configured weights),
interleaved with HAProxy's ``recalc_server_map`` scores; a key maps to ``table[hash %
tot_weight]``.  The table is static: any server change remaps most keys, and weights only
switch between zero and their configured value.  A request without a key walks the table in
round robin, skipping saturated servers.
"""

from __future__ import annotations

from math import gcd
from typing import Any

from .lb import Groups, is_full


def _cdiv(a: int, b: int) -> int:
    """C's integer division (truncates towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def build_map(servers: list[Any], tot: int, eweight: Any) -> list[Any]:
    """HAProxy's ``recalc_server_map`` over ``servers`` (the usable ones of a group)."""
    if tot <= 0 or not servers:
        return []
    if tot == 1:
        return [servers[0]]
    weights = [eweight(s) for s in servers]
    score = [0] * len(servers)
    table: list[Any] = []
    for _ in range(tot):
        best = -1
        top = 0
        for i, w in enumerate(weights):
            score[i] += w
            v = _cdiv(score[i] + tot, tot)
            if best < 0 or v > top:
                top, best = v, i
        table.append(servers[best])
        score[best] -= tot
    return table


class MapLookup:
    """The per-backend map of a map-based hash algorithm."""

    dynamic = False
    consistent = False

    def __init__(self, servers: list[Any], allbackups: bool) -> None:
        weights = [s.weight for s in servers if s.weight]
        self.wmult = 1
        if weights:
            g = weights[0]
            for w in weights[1:]:
                g = gcd(g, w)
            self.wmult = g
        wmult = self.wmult
        self.eweight = lambda s: (s.uweight + wmult - 1) // wmult
        self.groups = Groups(servers, allbackups, self.eweight)
        self.rr_idx = 0
        self.update()

    def update(self) -> None:
        g = self.groups
        g.recount()
        self.table = build_map(g.used, g.tot_weight, self.eweight)
        self.tot = len(self.table)

    def by_hash(self, h: int, avoid: Any = None) -> Any:
        if not self.tot:
            return None
        return self.table[h % self.tot]

    def next_rr(self, avoid: Any = None) -> Any:
        """HAProxy's ``map_get_server_rr``: the next slot whose server is not saturated."""
        tot = self.tot
        if not tot:
            return None
        if not 0 <= self.rr_idx < tot:
            self.rr_idx = 0
        idx = start = self.rr_idx
        avoided = None
        avoided_idx = 0
        while True:
            srv = self.table[idx]
            idx += 1
            if not is_full(srv):
                if srv is not avoid:
                    self.rr_idx = idx
                    return srv
                avoided, avoided_idx = srv, idx
            if idx == tot:
                idx = 0
            if idx == start:
                break
        if avoided is not None:
            self.rr_idx = avoided_idx
        return avoided

    def set_weight(self, srv: Any, weight: int) -> None:
        """Static: a non-zero weight restores the configured one."""
        srv.uweight = srv.weight if weight else 0
