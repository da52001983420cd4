"""Static weighted round robin.

At start, the servers' initial weights give a fixed schedule of ``sum(weights)`` slots,
interleaved like smooth round robin; picks walk the schedule, skipping servers that are down
or whose current weight is 0.  Run-time weight changes only switch a server between zero
and its initial weight, as HAProxy's static-rr does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def build_schedule(servers: list[Any]) -> list[Any]:
    """One cycle of picks: each server ``weight`` times, spread out."""
    weights = [max(0, s.weight) for s in servers]
    total = sum(weights)
    score = [0] * len(servers)
    out: list[Any] = []
    for _ in range(total):
        best = -1
        for i, w in enumerate(weights):
            if w == 0:
                continue
            score[i] += w
            if best < 0 or score[i] > score[best]:
                best = i
        score[best] -= total
        out.append(servers[best])
    return out


class _Schedule:
    def __init__(self, servers: list[Any]) -> None:
        self.servers = servers
        self.slots = build_schedule(servers)
        self.pos = 0

    def pick(self) -> Any:
        n = len(self.slots)
        for step in range(n):
            srv = self.slots[(self.pos + step) % n]
            if srv.usable:
                self.pos = (self.pos + step + 1) % n
                return srv
        return None

    def any_usable(self) -> bool:
        return any(s.usable and s.weight > 0 for s in self.servers)


class StaticRoundRobin:
    """The per-backend picker of ``balance static-rr``."""

    dynamic = False

    def __init__(self, servers: Iterable[Any], *, allbackups: bool = False) -> None:
        servers = list(servers)
        self.active = _Schedule([s for s in servers if not s.backup])
        self.backups = _Schedule([s for s in servers if s.backup])
        self.allbackups = allbackups

    def pick(self, strm: Any = None) -> Any:
        if self.active.any_usable():
            return self.active.pick()
        if self.allbackups:
            return self.backups.pick()
        for srv in self.backups.servers:
            if srv.usable and srv.weight > 0:
                return srv
        return None

    def server_up(self, srv: Any) -> None:
        srv.up = True

    def server_down(self, srv: Any) -> None:
        srv.up = False

    def set_weight(self, srv: Any, weight: int) -> None:
        """Only zero / non-zero matters: a non-zero weight restores the initial one."""
        if not 0 <= weight <= 256:
            raise ValueError(f"weight {weight} is not within 0 and 256")
        srv.uweight = srv.weight if weight else 0
