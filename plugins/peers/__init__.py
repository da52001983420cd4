"""``peers`` sections: the processes that synchronize stick tables.  Synchronization comes in
a later issue: parse and validate only (inactive).  The local peer (named after the host, or
``-L``/``HAPROXY_LOCALPEER``) listens, so it counts as a listener of the configuration, as in
HAProxy."""

from __future__ import annotations

import os
import socket
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.binds import BIND_OPTIONS, parse_bind_words
from hapx.plugins.confkit import declare_section, simple_directive, v_int
from hapx.plugins.servers.model import DEFAULT_SERVER, make_server, parse_default_server
from hapx.plugins.stick_tables import parse_table, publish

KIND = "peers"


def local_peer_name() -> str:
    return os.environ.get("HAPROXY_LOCALPEER") or socket.gethostname()


def _peers(sec: Any) -> dict[str, Any]:
    return sec.settings.setdefault("peers", {})


def _add_peer(ctx: Any, srv: Any, local: bool) -> None:
    sec = ctx.section
    peers = _peers(sec)
    if srv.name in peers:
        raise ctx.error(f"peers '{sec.name}': peer '{srv.name}' is already declared.")
    peers[srv.name] = srv
    if local and not sec.settings.get("local"):
        sec.settings["local"] = srv.name
        ctx.config.extra_listeners += 1


def _peer(ctx: Any, args: list[str]) -> None:
    if len(args) < 2:
        raise ctx.error("'peer' expects <name> and <addr>[:<port>] as arguments.")
    srv = make_server(ctx, args)
    if srv.address.is_ip and srv.address.port is None:
        raise ctx.error(f"'peer {srv.name}' : missing port specification in "
                        f"'{srv.address.text}'")
    _add_peer(ctx, srv, srv.name == local_peer_name())


def _server(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'server' expects <name> [<addr>:<port>] as arguments.")
    if len(args) == 1:  # the local peer, whose address is on the bind line
        _add_peer(ctx, make_server(ctx, [args[0], "127.0.0.1"]), False)
        return
    srv = make_server(ctx, args)
    _add_peer(ctx, srv, False)


def _bind(ctx: Any, args: list[str]) -> None:
    binds = parse_bind_words(ctx, args)
    ctx.section.settings.setdefault("bind", []).extend(binds)
    ctx.config.extra_listeners += len(binds)


def _default_bind(ctx: Any, args: list[str]) -> None:
    ctx.section.settings["default-bind"] = BIND_OPTIONS.parse(ctx, args, "'default-bind'")


def _table(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'table' expects <name> and stick-table arguments.")
    sec = ctx.section
    table = parse_table(ctx, args[1:], f"{sec.name}/{args[0]}")
    tables = sec.settings.setdefault("tables", {})
    if args[0] in tables:
        raise ctx.error(f"peers '{sec.name}': table '{args[0]}' is already declared.")
    tables[args[0]] = table
    publish(ctx.config, f"{sec.name}/{args[0]}", table)


def _flag(value: bool) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        if args:
            raise ctx.error(f"'{ctx.keyword}' takes no argument.")
        ctx.section.settings["disabled"] = not value
    return parse


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, doc="peers <peersect>\n\nThe peers that synchronize "
                                 "the stick tables naming this section."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("peer", sections=sec, parse=_peer, active=False,
                  doc="peer <peername> <address>:<port> [param*]\n\nA peer; the one named "
                      "after the local host (or -L) is this process and listens there."),
        Directive("server", sections=sec, parse=_server, active=False,
                  doc="server <peername> [<address>:<port>] [param*]\n\nA remote peer (or "
                      "the local one, without address, listening on the bind line)."),
        Directive("bind", sections=sec, parse=_bind, active=False,
                  doc="bind [<address>]:port [param*]\n\nWhere the local peer listens."),
        Directive("default-bind", sections=sec, parse=_default_bind, active=False,
                  doc="default-bind [param*]\n\nDefault bind parameters."),
        Directive(DEFAULT_SERVER, sections=sec, parse=parse_default_server, active=False,
                  doc="default-server [param*]\n\nDefault parameters of the peers."),
        Directive("table", sections=sec, parse=_table, active=False,
                  doc="table <tablename> type <type> size <size> [expire <expire>] [store "
                      "<data_type>]*\n\nA stick table shared by the peers (arguments as "
                      "stick-table)."),
        Directive("disabled", sections=sec, parse=_flag(False), active=False,
                  doc="disabled\n\nDisable this peers section."),
        Directive("enabled", sections=sec, parse=_flag(True), active=False,
                  doc="enabled\n\nEnable this peers section (default)."),
        simple_directive("shards", sec, "shards <shards>\n\nSplit the tables' updates into "
                         "this many shards among the peers.", [v_int(1)]),
    )
