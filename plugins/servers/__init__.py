"""Servers of backends: ``server``, ``default-server`` (inherited through defaults) with the
options of HAProxy's section 5.2, and ``balance`` with the directives that tune load
balancing.  Connections come with the data path: ``server`` lines parse and validate only."""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import BE_PROXIES, Config
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive

from .balance import BalanceSetting, balance_directives, balance_of, find_balancer
from .model import DEFAULT_SERVER, Server, make_server, merge_options, parse_default_server
from .options import SERVER_OPTIONS, add_server_option

__all__ = ["SERVER_OPTIONS", "BalanceSetting", "Server", "add_server_option", "balance_of",
           "find_balancer", "merge_options"]


def _parse_server(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    srv = make_server(ctx, args)
    label = f"'server {proxy.name}/{srv.name}'"
    other = proxy.server(srv.name)
    if other is not None:
        raise ctx.error(f"{label} : the name '{srv.name}' is already used by the server "
                        f"declared at [{other.file}:{other.line}].")
    if srv.opt("id") is not None:
        for o in proxy.servers:
            if o.opt("id") == srv.opt("id"):
                raise ctx.error(f"{label} : custom id {srv.opt('id')} already used by "
                                f"server '{o.name}' at [{o.file}:{o.line}].")
    proxy.servers.append(srv)

    def check(config: Config) -> None:
        if srv.address.transport == "dgram" and proxy.mode != "log":
            raise ctx.error(f"{label} : datagram address '{srv.address.text}' is only "
                            "usable in a 'mode log' backend.")
        track = srv.opt("track")
        if track:
            be_name, _, sname = track.rpartition("/")
            backend = config.backend(be_name) if be_name else proxy
            if backend is None:
                raise ctx.error(f"{label} : unable to find required proxy '{be_name}' for "
                                "tracking.")
            if backend.server(sname) is None:
                raise ctx.error(f"{label} : unable to find required server '{sname}' for "
                                "tracking.")
        res = srv.opt("resolvers")
        if res and res not in config.sections.get("resolvers", {}):
            raise ctx.error(f"{label} : unable to find required resolvers section "
                            f"'{res}'.")
    ctx.defer(check)


def _parse_default_server(ctx: Any, args: list[str]) -> None:
    parse_default_server(ctx, args)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(
        Directive("server", sections=frozenset({"backend", "listen"}), parse=_parse_server,
                  usage="server <name> <address>[:[port]] [param*]",
                  doc="server <name> <address>[:[port]] [param*]\n\nA server of the backend. "
                      "The address may be ip:port, [ipv6]:port, a host name (resolved at "
                      "start), unix@/path, abns@, sockpair@, udp@ (mode log), rhttp@; no "
                      "port = the client's destination port, +N/-N relative to it.  "
                      "Parameters:\n" + SERVER_OPTIONS.docs()),
        Directive(DEFAULT_SERVER, sections=BE_PROXIES, parse=_parse_default_server,
                  usage="default-server [param*]",
                  doc="default-server [param*]\n\nDefault parameters of the servers declared "
                      "after it (inherited through defaults sections); 'no-<param>' cancels "
                      "an inherited one."),
        *balance_directives(),
    )


@hookimpl
def hapx_configure(config: Config) -> None:
    """Give numeric IDs to servers that have none (the first free ones, as HAProxy), and
    the default algorithm (roundrobin, with backups and weights) to backends without a
    ``balance`` line."""
    for px in config.backends:
        if "balance" not in px.settings:
            default = balance_of(px, config.registry)
            if default is not None:
                px.settings["balance"] = default
        used = {s.opt("id") for s in px.servers if s.opt("id") is not None}
        next_id = 1
        for srv in px.servers:
            if srv.opt("id") is not None:
                srv.id = srv.opt("id")
                continue
            while next_id in used:
                next_id += 1
            srv.id = next_id
            used.add(next_id)

