"""``hapx plugins [--json]``: installed plugins, their packages, status and registrations."""

from __future__ import annotations

import json
from typing import Any, TextIO

from rich.table import Table

from ..loader import CONTRIB_GROUP, PluginInfo, list_installed
from .console import make_console
from .versions import counts_text, record_counts


def all_infos(plugins: Any) -> list[PluginInfo]:
    """Loaded, disabled and failed plugins, plus the contrib plugins not enabled."""
    infos = dict(plugins.infos)
    for ep in list_installed(CONTRIB_GROUP):
        if ep.name not in infos:
            info = PluginInfo(name=ep.name, group=CONTRIB_GROUP, module=ep.value,
                              status="not enabled")
            if ep.dist is not None:
                info.distribution, info.version = ep.dist.name, ep.dist.version
            infos[ep.name] = info
    return sorted(infos.values(), key=lambda i: (i.group != "(kernel)", i.name))


def as_json(plugins: Any) -> list[dict[str, Any]]:
    out = []
    for info in all_infos(plugins):
        out.append({
            "name": info.name, "group": info.group, "module": info.module,
            "distribution": info.distribution, "version": info.version,
            "status": info.status, "error": info.error,
            "counts": dict(sorted(record_counts(info.records).items())),
            "records": [{"kind": r.kind, "name": r.name, "active": r.active}
                        for r in info.records],
        })
    return out


def show_plugins(plugins: Any, out: TextIO, *, as_json_output: bool = False) -> None:
    if as_json_output:
        json.dump(as_json(plugins), out, indent=2)
        out.write("\n")
        return
    table = Table(title="hapx plugins", title_justify="left")
    for col in ("Plugin", "Distribution", "Version", "Status", "Registers"):
        table.add_column(col, overflow="fold")
    for info in all_infos(plugins):
        status = info.status + (f": {info.error}" if info.error else "")
        inactive = sum(1 for r in info.records if not r.active)
        regs = counts_text(info.records) if info.records else "-"
        if inactive:
            regs += f" ({inactive} not active yet)"
        table.add_row(info.name, info.distribution or info.group, info.version or "-",
                      status, regs)
    make_console(out).print(table)
