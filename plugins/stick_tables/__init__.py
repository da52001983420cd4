"""``stick-table`` declarations of proxies (and the ``table`` lines of peers sections, which
take the same arguments).  Tables are filled by tracking rules of a later issue: the keyword
parses and validates and is inactive.  Declared tables are published in
``config.ext["tables"]`` (a proxy's table under the proxy name, a peers table as
``<peers>/<table>``)."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive

from .table import StickTable, parse_table

__all__ = ["StickTable", "parse_table", "publish"]

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


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "stick-table", sections=frozenset({"frontend", "backend", "listen"}),
        parse=_stick_table, active=False,
        doc="stick-table type {ip | ipv6 | integer | string [len <length>] | binary [len "
            "<length>]} size <size> [expire <expire>] [nopurge] [peers <peersect>] [srvkey "
            "<srvkey>] [write-to <wtable>] [recv-only] [store <data_type>]*\n\nA table of "
            "entries keyed by the given type, with the stored data types (server_id, gpc0, "
            "gpc(<n>), conn_cnt, conn_rate(<period>), http_req_rate(<period>)...)."))
