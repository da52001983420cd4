"""``balance first``: the first server (lowest id) with a free connection slot."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Balancer
from hapx.plugins.servers.lb import (
    Groups,
    GroupsPicker,
    allbackups,
    is_full,
    live_states,
    no_args,
)


class First(GroupsPicker):
    """The per-backend picker of ``balance first``: servers are tried in increasing id
    order and the first one that is not saturated (``maxconn`` reached or requests queued)
    is used; a server without maxconn always takes.  Weights only matter as zero / non-zero
    (usable or not)."""

    def __init__(self, servers: list[Any], *, allbackups: bool = False) -> None:
        live_states(servers)
        self.groups = Groups(sorted(servers, key=lambda s: s.id), allbackups)

    def pick(self, strm: Any = None, avoid: Any = None) -> Any:
        avoided = None
        for srv in self.candidates():
            if is_full(srv):
                continue
            if srv is avoid:
                avoided = srv
                continue
            return srv
        return avoided


def _build(backend: Any, _settings: Any) -> First:
    return First(list(backend.servers), allbackups=allbackups(backend))


@hookimpl
def hapx_register_balancers(balancers: Any) -> None:
    balancers.add(Balancer(
        "first", parse=no_args, build=_build,
        doc="first\n\nThe server with the lowest id that has a free slot (fewer streams "
            "than its maxconn and nothing queued) gets the request; a server without "
            "maxconn always takes.  Weights are ignored (zero still removes a server).  "
            "Fills servers one after the other so the others can be powered down.  Backup "
            "servers serve only when no active server is up."))
