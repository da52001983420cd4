"""What the exporter reads of stick tables: a small interface, so that the stick table
runtime can grow without the exporter changing.

A plugin that declares stick tables publishes each one in ``config.ext["tables"]`` (a dict:
table name -> table object; the ``stick_tables`` plugin does it with ``publish()``: a proxy's
table under the proxy name, a peers section's as ``<peers>/<table>``).  The exporter needs
of a table object:

- ``type``: the key type keyword (``ip``, ``ipv6``, ``integer``, ``string``, ``binary``);
- ``size``: the configured maximum number of entries;
- the number of entries it holds now: ``len(table)`` when the object defines ``__len__``;
  a table object without it has no runtime, hence no entries (0).
"""

from __future__ import annotations

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


def tables_of(config: Any) -> list[TableInfo]:
    """Every published stick table of ``config``, in declaration order."""
    out = []
    for name, table in (config.ext.get(TABLES) or {}).items():
        used = len(table) if hasattr(type(table), "__len__") else 0
        out.append(TableInfo(str(name), str(getattr(table, "type", "") or ""),
                             int(getattr(table, "size", 0) or 0), int(used)))
    return out
