"""The ``filter <name> [args]`` directive: attaches a registered stream filter
(:class:`~hapx.core.records.Filter`: compression, cache, lua.<name>...) to a proxy.  The
filter chain runs with the data path of a later issue; the directive is active, the filters
it names say whether they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hapx.core.errors import did_you_mean
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive, Filter

KEY = "filters"


@dataclass
class FilterUse:
    """One ``filter`` line: the record and what its parser returned."""

    name: str
    record: Filter
    conf: Any
    file: str
    line: int


def _filter(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    if not args:
        raise ctx.error("'filter' expects a filter name.")
    name = args[0]
    rec = ctx.registry.filter(name)
    if rec is None:
        names = ctx.registry.names(Filter)
        raise ctx.error(f"'filter' : unknown filter '{name}'{did_you_mean(name, names)} "
                        f"(known: {', '.join(names) or 'none'}).")
    sub = ctx.sub(f"filter {name}", args[1:])
    conf = rec.parse(sub, args[1:])
    uses = proxy.settings.setdefault(KEY, [])
    if any(u.name == name for u in uses) and not name.startswith("lua."):
        raise ctx.error(f"'filter {name}' : only one {name} filter per proxy is allowed.")
    uses.append(FilterUse(name, rec, conf, ctx.file, ctx.line))
    if not rec.active:
        ctx.mark_inactive(f"filter {name}", "filter", rec.owner)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "filter", sections=frozenset({"frontend", "backend", "listen"}), parse=_filter,
        doc="filter <name> [param*]\n\nAttach a stream filter to the proxy (see 'hapx doc "
            "filters'); filters run in declaration order."))
