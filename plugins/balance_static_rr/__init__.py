"""``balance static-rr``: weighted round robin over a schedule fixed at start."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import no_args

from .picker import StaticRoundRobin

__all__ = ["StaticRoundRobin"]


def _build(backend: Any, _settings: Any) -> StaticRoundRobin:
    return StaticRoundRobin(backend.servers,
                            allbackups=bool(backend.options.get("allbackups")))


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "static-rr", parse=no_args, build=_build,
        doc="static-rr\n\nEach server is used in turn according to the weight it had at "
            "start: changing a weight at run time only matters between zero (never chosen) "
            "and non-zero (the initial weight).  No limit on the number of servers; a "
            "server coming back up is used again at once.  Backup servers serve only when "
            "no active server is up (the first one, or all with 'option allbackups')."))
