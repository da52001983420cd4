"""``balance leastconn``: the server with the fewest streams relative to its weight."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import (
    EWGHT_MAX,
    WEIGHT_SCALE,
    Groups,
    GroupsPicker,
    allbackups,
    is_full,
    live_states,
    no_args,
)


class LeastConn(GroupsPicker):
    """The per-backend picker of ``balance leastconn``.

    A server's load is ``(served + queued) x 4096 / (16 x weight)``; the least loaded
    server that is not saturated wins, and among equally loaded ones the one chosen the
    longest ago (round robin).  Weights and states apply at once."""

    def __init__(self, servers: list[Any], *, allbackups: bool = False) -> None:
        live_states(servers)
        self.groups = Groups(servers, allbackups, lambda s: s.uweight * WEIGHT_SCALE)
        self.stamp = {id(s): 0 for s in servers}
        self.clock = 0

    def pick(self, strm: Any = None, avoid: Any = None) -> Any:
        cands = self.candidates()
        stamp = self.stamp
        best = None
        best_key = (0, 0)
        avoided = None
        for srv in cands:
            if is_full(srv):
                continue
            if srv is avoid:
                avoided = srv
                continue
            live = srv.live
            key = ((live.served + live.queued) * EWGHT_MAX // (srv.uweight * WEIGHT_SCALE),
                   stamp[id(srv)])
            if best is None or key < best_key:
                best, best_key = srv, key
        if best is None:
            best = avoided
        if best is not None:
            self.clock += 1
            stamp[id(best)] = self.clock
        return best


def _build(backend: Any, _settings: Any) -> LeastConn:
    return LeastConn(list(backend.servers), allbackups=allbackups(backend))


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "leastconn", parse=no_args, build=_build,
        doc="leastconn\n\nThe server with the fewest current streams (served plus queued) "
            "relative to its weight gets the request; equally loaded servers take turns "
            "(round robin).  Saturated servers (maxconn reached) are skipped.  Dynamic: "
            "weights and states apply at once.  Meant for long sessions (LDAP, SQL, TSE...). "
            "Backup servers serve only when no active server is up (the first one, or all "
            "with 'option allbackups')."))
