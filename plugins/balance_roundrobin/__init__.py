"""``balance roundrobin``: smooth weighted round robin with dynamic weights."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import no_args

from .picker import RoundRobin

__all__ = ["RoundRobin"]


def _build(backend: Any, _settings: Any) -> RoundRobin:
    return RoundRobin(backend.servers, allbackups=bool(backend.options.get("allbackups")))


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "roundrobin", parse=no_args, build=_build,
        doc="roundrobin\n\nEach server is used in turn, according to its weight, interleaved "
            "rather than in bursts (weights 3:1 give A A B A).  Dynamic: weight changes "
            "and servers going up or down apply at once.  Backup servers serve only when no "
            "active server is up (the first one, or all with 'option allbackups').  The "
            "default algorithm."))
