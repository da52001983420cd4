"""Consistent-hash lookup (HAProxy's ``lb_chash.c``), also used by ``balance random``.

Each usable server owns ``16 x weight`` points on a 32-bit ring, the point ``j`` of the
server with id ``n`` sitting at ``full_hash(n * 4096 + j)`` (``hash-key id``).  A key goes
to the point closest to its hash (the one before it on a tie).  From there the ring is
walked forwards past the server to avoid, past servers over their ``hash-balance-factor``
share (bounded-load consistent hashing) and, with ``hash-preserve-affinity maxconn`` or
``maxqueue``, past saturated servers or servers whose queue is full; when every server is
refused, the last one looked at (the point before the first choice) is kept.  Server changes
only move the keys of the points added or removed; weights apply at once.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from .lb import WEIGHT_SCALE, Groups, is_full
from .lbhash import full_hash

_M32 = 0xFFFFFFFF
#: HAProxy's SRV_EWGHT_RANGE: room for 4096 points per server id
EWGHT_RANGE = 256 * WEIGHT_SCALE


def eweight(srv: Any) -> int:
    return srv.uweight * WEIGHT_SCALE


def server_points(srv: Any, count: int) -> list[int]:
    base = srv.id * EWGHT_RANGE
    return [full_hash((base + j) & _M32) for j in range(count)]


class _Ring:
    __slots__ = ("keys", "srvs")

    def __init__(self, servers: list[Any], points: Any) -> None:
        nodes = []
        for order, srv in enumerate(servers):
            for key in points(srv):
                nodes.append((key, order, srv))
        nodes.sort(key=lambda n: (n[0], n[1]))
        self.keys = [n[0] for n in nodes]
        self.srvs = [n[2] for n in nodes]


class ChashLookup:
    """The per-backend ring of a consistent-hash algorithm.

    ``balance_factor`` is ``hash-balance-factor`` (0: off); ``affinity`` is
    ``hash-preserve-affinity`` ("always", "maxconn" or "maxqueue")."""

    dynamic = True
    consistent = True

    def __init__(self, servers: list[Any], allbackups: bool, *, balance_factor: int = 0,
                 affinity: str = "always") -> None:
        self.servers = servers
        self.groups = Groups(servers, allbackups, eweight)
        self.balance_factor = balance_factor
        self.affinity = affinity
        self._points: dict[int, list[int]] = {}
        self.last_key: int | None = None
        self.update()

    def _server_points(self, srv: Any) -> list[int]:
        want = eweight(srv)
        pts = self._points.get(id(srv))
        if pts is None or len(pts) < want:
            pts = self._points[id(srv)] = server_points(srv, want)
        return pts[:want]

    def update(self) -> None:
        g = self.groups
        g.recount()
        self.act = _Ring(g.act, self._server_points)
        self.bck = _Ring(g.bck, self._server_points)

    def _ring(self) -> tuple[_Ring | None, Any]:
        g = self.groups
        if g.act:
            return self.act, None
        if g.fbck is not None:
            return None, g.fbck
        if g.bck:
            return self.bck, None
        return None, None

    # -- refusals while walking the ring ------------------------------------------------------
    def eligible(self, srv: Any) -> bool:
        """HAProxy's ``chash_server_is_eligible``: the server stays within its share of
        ``hash-balance-factor`` x the backend's streams (including this one)."""
        g = self.groups
        tot_weight = g.tot_weight
        if not tot_weight:
            return True
        served = sum(s.live.served for s in self.servers)
        tot_slots = ((served + 1) * self.balance_factor + 99) // 100
        per_weight, remainder = divmod(tot_slots, tot_weight)
        w = eweight(srv)
        cum = g.cumulative.get(id(srv), 0)
        slots = w * per_weight + ((cum + w) * remainder) // tot_weight \
            - (cum * remainder) // tot_weight
        return srv.live.served < (slots or 1)

    def refused(self, srv: Any, avoid: Any) -> bool:
        if srv is avoid:
            return True
        if self.balance_factor and not self.eligible(srv):
            return True
        affinity = self.affinity
        if affinity == "maxconn":
            return is_full(srv)
        if affinity == "maxqueue":
            return bool(srv.maxconn and srv.maxqueue and srv.live.queued >= srv.maxqueue)
        return False

    # -- lookups ------------------------------------------------------------------------------
    def by_hash(self, h: int, avoid: Any = None) -> Any:
        """HAProxy's ``chash_get_server_hash``."""
        ring, single = self._ring()
        if ring is None:
            return single
        keys = ring.keys
        n = len(keys)
        if not n:
            return None
        i = bisect_left(keys, h)
        if i == n:
            i = 0
        p = i - 1 if i else n - 1
        if (h - keys[p]) & _M32 <= (keys[i] - h) & _M32:
            i = p
        srvs = ring.srvs
        srv = srvs[i]
        if avoid is None and not self.balance_factor and self.affinity == "always":
            return srv
        for _ in range(n):
            if not self.refused(srv, avoid):
                return srv
            i += 1
            if i == n:
                i = 0
            srv = srvs[i]
        return srvs[i - 1]

    def next_rr(self, avoid: Any = None) -> Any:
        """HAProxy's ``chash_get_next_server``: the next point's server in ring order,
        skipping saturated servers (and ``avoid`` unless it is the only choice)."""
        ring, single = self._ring()
        if ring is None:
            return single
        keys, srvs = ring.keys, ring.srvs
        n = len(keys)
        if not n:
            return None
        i = 0 if self.last_key is None else bisect_right(keys, self.last_key)
        avoided = avoided_key = None
        for _ in range(n):
            if i >= n:
                i = 0
            srv = srvs[i]
            if not is_full(srv):
                if srv is not avoid:
                    self.last_key = keys[i]
                    return srv
                avoided, avoided_key = srv, keys[i]
            i += 1
        if avoided is not None:
            self.last_key = avoided_key
        return avoided

    def set_weight(self, srv: Any, weight: int) -> None:
        srv.uweight = weight
