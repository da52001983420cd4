"""What the exporter reads of stick tables: a small interface, so that the stick table
runtime can grow without the exporter changing.

When the ``stick_tables`` plugin offers ``tables(config)`` (a list of dicts with ``name``,
``type``, ``size`` and ``used``, in ``show table`` order), that is what the exporter reads.
Otherwise it reads what a plugin that declares stick tables publishes in
``config.ext["tables"]`` (a dict: table name -> table object; a proxy's table under the
proxy name, a peers section's as ``<peers>/<table>``), needing of a table object:

- ``type``: the key type keyword (``ip``, ``ipv6``, ``integer``, ``string``, ``binary``);
- ``size``: the configured maximum number of entries;
- the number of entries it holds now: ``len(table)`` when the object defines ``__len__``;
  a table object without it has no runtime, hence no entries (0).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

TABLES = "tables"


@dataclass(frozen=True)
class TableInfo:
    """One stick table as ``haproxy_sticktable_*`` reports it."""

    name: str
    type: str
    size: int
    used: int


def _lister() -> Any:
    """The stick_tables plugin's ``tables(config)``, when it has one."""
    try:
        mod = importlib.import_module("hapx.plugins.stick_tables")
    except ImportError:
        return None
    fn = getattr(mod, "tables", None)
    return fn if callable(fn) else None


def tables_of(config: Any) -> list[TableInfo]:
    """Every stick table of ``config``, in declaration order."""
    if not config.ext.get(TABLES):
        return []
    lister = _lister()
    if lister is not None:
        return [TableInfo(str(t["name"]), str(t["type"]), int(t["size"]), int(t["used"]))
                for t in lister(config)]
    out = []
    for name, table in (config.ext.get(TABLES) or {}).items():
        used = len(table) if hasattr(type(table), "__len__") else 0
        out.append(TableInfo(str(name), str(getattr(table, "type", "") or ""),
                             int(getattr(table, "size", 0) or 0), int(used)))
    return out
