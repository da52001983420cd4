"""Helpers shared by load-balancing algorithms: which servers compete for a pick."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any


def allbackups(backend: Any) -> bool:
    """``option allbackups``: balance over every backup server, not only the first."""
    return bool(getattr(backend, "options", {}).get("allbackups"))


def active_servers(servers: Iterable[Any]) -> list[Any]:
    return [s for s in servers if not s.backup]


def backup_servers(servers: Iterable[Any]) -> list[Any]:
    return [s for s in servers if s.backup]


def no_args(ctx: Any, args: list[str]) -> None:
    """``parse`` of algorithms that take no argument (ctx may be None for the default)."""
    if ctx is not None and getattr(ctx, "param", None):
        raise ctx.error(f"'{ctx.keyword}' takes no parameter (got '({ctx.param})').")
    if args:
        raise ctx.error(f"'{ctx.keyword}' takes no argument (got '{args[0]}').")
    return None


# -- state shared by the algorithms below roundrobin/static-rr --------------------------------

#: HAProxy's BE_WEIGHT_SCALE: effective weights of dynamic algorithms are user weights x 16
WEIGHT_SCALE = 16
#: HAProxy's SRV_EWGHT_MAX (256 x 16): the scale of leastconn's load keys
EWGHT_MAX = 256 * WEIGHT_SCALE


def live_states(servers: Iterable[Any]) -> None:
    """Create every server's live counters now, so pickers read ``srv.live`` directly."""
    from hapx.core.runtime.backend import server_state

    for srv in servers:
        server_state(srv)


def is_full(srv: Any) -> bool:
    """HAProxy's "saturated" server: it has a maxconn and either requests waiting in its
    queue or as many streams as maxconn."""
    maxconn = srv.maxconn
    if not maxconn:
        return False
    live = srv.live
    return bool(live.queued) or live.served >= maxconn


class Groups:
    """Which servers take load-balanced traffic (HAProxy's ``recount_servers`` and
    ``update_backend_weight``): the usable active servers, else the first usable backup
    (or every usable backup with ``option allbackups``).

    ``eweight(srv)`` gives a server's effective weight; after :meth:`recount`, ``used`` is
    the list of servers in play (declaration order), ``tot_weight`` their total effective
    weight, ``cumulative[srv]`` the total weight of the servers before it in its group,
    ``active`` tells whether the active group is in play and ``fbck`` is the single backup
    in play (None with allbackups or when active servers serve).
    """

    def __init__(self, servers: Iterable[Any], allbackups: bool,
                 eweight: Any = None) -> None:
        self.servers = list(servers)
        self.allbackups = allbackups
        self.eweight = eweight or (lambda s: s.uweight)
        self.recount()

    def recount(self) -> None:
        act: list[Any] = []
        bck: list[Any] = []
        self.cumulative: dict[int, int] = {}
        wact = wbck = 0
        ew = self.eweight
        for srv in self.servers:
            if not srv.usable:
                continue
            w = ew(srv)
            if srv.backup:
                self.cumulative[id(srv)] = wbck
                wbck += w
                bck.append(srv)
            else:
                self.cumulative[id(srv)] = wact
                wact += w
                act.append(srv)
        self.act, self.bck = act, bck
        self.fbck = bck[0] if bck and not self.allbackups else None
        self.active = bool(act)
        if act:
            self.used, self.tot_weight = act, wact
        elif self.fbck is not None:
            self.used, self.tot_weight = bck, ew(self.fbck)
        else:
            self.used, self.tot_weight = bck, wbck
        self.tot_used = len(act) if act else (1 if self.fbck is not None else len(bck))


def check_weight(weight: int) -> None:
    """A runtime weight must lie within 0 and 256 (``set server … weight``)."""
    if not 0 <= weight <= 256:
        raise ValueError(f"weight {weight} is not within 0 and 256")


class StatePicker(ABC):
    """What every dynamic picker does on a state or weight change: record it on the
    server, then rebuild the picker's view (:meth:`refresh`, defined by the subclass)."""

    dynamic = True

    @abstractmethod
    def refresh(self) -> None:
        """Rebuild the picker's view of its servers after a change."""

    def apply_weight(self, srv: Any, weight: int) -> None:
        srv.uweight = weight

    def server_up(self, srv: Any) -> None:
        srv.up = True
        self.refresh()

    def server_down(self, srv: Any) -> None:
        srv.up = False
        self.refresh()

    def set_weight(self, srv: Any, weight: int) -> None:
        check_weight(weight)
        self.apply_weight(srv, weight)
        self.refresh()


class GroupsPicker(StatePicker):
    """A picker walking the servers in play (:class:`Groups`) itself."""

    groups: Groups

    def refresh(self) -> None:
        self.groups.recount()

    def available(self) -> bool:
        return bool(self.groups.tot_weight)

    def candidates(self) -> Any:
        """The servers to choose from: the active ones, else the backup(s) in play."""
        g = self.groups
        if g.act:
            return g.act
        if g.fbck is not None:
            return (g.fbck,)
        return g.bck
