"""Lua values as Python text, for the modules that take strings from Lua (filters, sockets,
the HTTP client, proxies, the patref plugin).  Free of lupa, so a plugin can import it
without loading the Lua runtime."""

from __future__ import annotations

from typing import Any


def as_text(v: Any) -> str:
    """A Lua value as text: bytes (Lua strings) read as latin-1, an integral number without
    its ``.0``, nil as the empty string, anything else by ``str``."""
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v)
