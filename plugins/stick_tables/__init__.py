"""Stick tables: ``stick-table`` declarations of proxies (and the ``table`` lines of peers
sections, which take the same arguments), tracking (``track-sc*``), the ``sc-*`` actions,
the ``sc_*``/``src_*``/``table_*`` fetches and converters, persistence (``stick on|match|
store-request|store-response``) and the runtime commands ``show|set|clear table``.

Declared tables are published in ``config.ext["tables"]`` (a proxy's table under the proxy
name, a peers table as ``<peers>/<table>``).  :func:`tables` lists them for exporters.
Entries live in each process (with ``nbthread`` workers, per worker); peers synchronization
is not done.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import Rule
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive

from . import cli, persist, track
from . import fetches as fetch_records
from .cli import tables
from .table import StickTable, parse_table

__all__ = ["StickTable", "parse_table", "publish", "tables"]

TABLES = "tables"


def publish(config: Any, name: str, table: StickTable) -> None:
    config.ext.setdefault(TABLES, {})[name] = table


def _stick_table(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    if "stick-table" in proxy.settings:
        raise ctx.error(f"only one stick-table per proxy is allowed ({proxy.kind} "
                        f"'{proxy.name}').")
    table = parse_table(ctx, args, proxy.name)
    proxy.settings["stick-table"] = table
    publish(ctx.config, proxy.name, table)


def _uses_tables(config: Any) -> bool:
    for px in config.proxies:
        for rules in px.rules.values():
            for rule in rules:
                if isinstance(rule.action, track.TrackSc):
                    return True
    return False


def _tracks_connections(px: Any) -> bool:
    return any(isinstance(rule.action, track.TrackSc)
               for name in ("tcp-request connection", "tcp-request session")
               for rule in px.rules.get(name, ()))


@hookimpl(trylast=True)
def hapx_configure(config: Any) -> None:
    """Wrap the backends' server choice with their stick rules and watch stream ends."""
    sticky = persist.build(config)
    tracking = _uses_tables(config)
    for px in config.proxies:
        if not px.is_frontend:
            continue
        if tracking and track.stream_end not in px.stream_end:
            px.stream_end.append(track.stream_end)
        if px.mode == "http" and _tracks_connections(px):
            reqs = px.rules.setdefault("http-request", [])
            if not reqs or not isinstance(reqs[0].action, track.CountRequest):
                reqs.insert(0, Rule(ruleset="http-request", keyword="track-sc",
                                    action=track.CountRequest(), file=px.file, line=px.line))
        if sticky and persist.stream_end not in px.stream_end:
            px.stream_end.append(persist.stream_end)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "stick-table", sections=frozenset({"frontend", "backend", "listen"}),
        parse=_stick_table,
        doc="stick-table type {ip | ipv6 | integer | string [len <length>] | binary [len "
            "<length>]} size <size> [expire <expire>] [nopurge] [peers <peersect>] [srvkey "
            "<srvkey>] [write-to <wtable>] [recv-only] [store <data_type>]*\n\nA table of "
            "entries keyed by the given type, with the stored data types (server_id, "
            "server_key, gpc0, gpc1, gpt0, gpc(<n>), gpt(<n>), gpc_rate(<n>,<period>), "
            "conn_cnt, conn_cur, conn_rate(<period>), sess_cnt, sess_rate(<period>), "
            "http_req_cnt, http_req_rate(<period>), http_err_*, http_fail_*, bytes_in_*, "
            "bytes_out_*, glitch_*).  Entries expire <expire> after their last update; when "
            "the table is full the oldest are evicted (never with nopurge)."),
        *persist.DIRECTIVES)


@hookimpl
def hapx_register_actions(actions: Any) -> None:
    actions.add(*track.ACTIONS)


@hookimpl
def hapx_register_fetches(fetches: Any) -> None:
    fetches.add(*fetch_records.FETCHES)


@hookimpl
def hapx_register_converters(converters: Any) -> None:
    converters.add(*fetch_records.CONVERTERS)


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    commands.add(*cli.COMMANDS)
