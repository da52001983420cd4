"""Smooth weighted round robin.

Every pick adds each eligible server's weight to its running score, takes the server with
the highest score (the first one declared on ties) and takes the total weight off its score.
Over any window of ``sum(weights)`` picks each server is chosen ``weight`` times, spread out
rather than in bursts.  Weights may change at any time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class _Group:
    """Servers competing together (the active ones, or the backups)."""

    def __init__(self, servers: list[Any]) -> None:
        self.servers = servers
        self.score: dict[int, int] = {id(s): 0 for s in servers}

    def pick(self) -> Any:
        """The next usable server (None when none is usable: the scores stay)."""
        best = None
        best_score = best_key = total = 0
        scores = self.score
        for srv in self.servers:
            if not srv.usable:
                continue
            weight = srv.uweight
            total += weight
            key = id(srv)
            score = scores[key] + weight
            scores[key] = score
            if best is None or score > best_score:
                best, best_score, best_key = srv, score, key
        if best is not None:
            scores[best_key] -= total
        return best

    def reset(self, srv: Any) -> None:
        if id(srv) in self.score:
            self.score[id(srv)] = 0

    def any_usable(self) -> bool:
        return any(s.usable for s in self.servers)


class RoundRobin:
    """The per-backend picker of ``balance roundrobin``."""

    dynamic = True

    def __init__(self, servers: Iterable[Any], *, allbackups: bool = False) -> None:
        servers = list(servers)
        self.active = _Group([s for s in servers if not s.backup])
        self.backups = _Group([s for s in servers if s.backup])
        self.allbackups = allbackups

    def pick(self, strm: Any = None) -> Any:
        """The next server, or None when no server is usable."""
        best = self.active.pick()
        if best is not None:
            return best
        if self.allbackups:
            return self.backups.pick()
        for srv in self.backups.servers:
            if srv.usable:
                return srv
        return None

    def server_up(self, srv: Any) -> None:
        srv.up = True
        self._reset(srv)

    def server_down(self, srv: Any) -> None:
        srv.up = False
        self._reset(srv)

    def set_weight(self, srv: Any, weight: int) -> None:
        if not 0 <= weight <= 256:
            raise ValueError(f"weight {weight} is not within 0 and 256")
        if weight == 0 or srv.uweight == 0:
            self._reset(srv)
        srv.uweight = weight

    def _reset(self, srv: Any) -> None:
        self.active.reset(srv)
        self.backups.reset(srv)
