"""``core.proxies``, ``core.backends``, ``core.frontends``: HAProxy's Proxy and Server
classes over the running configuration; ``core.get_info()`` (the ``show info`` fields).

Proxy: ``name``, ``uuid``, ``servers`` (name -> Server), ``get_cap()`` ("frontend",
"backend" or "frontend,backend"), ``get_mode()``, ``get_stats()`` (the ``show stat`` fields
of its BACKEND row, or FRONTEND row for a frontend), ``get_srv_act()``, ``get_srv_bck()``.

Server: ``get_name()``, ``get_puid()``, ``get_addr()`` ("ip:port"), ``get_weight()``,
``set_weight(w)`` ("n" or "n%"; nil on success, the error text otherwise, as the runtime
API's ``set weight``), ``set_maint()``, ``set_drain()``, ``set_ready()``,
``check_force_up()``, ``check_force_down()``, ``set_addr(addr[, port])``, ``get_stats()``
(its ``show stat`` fields), ``is_draining()``, ``is_backup()``, ``get_maxconn()``,
``get_pend_conn()``, ``get_cur_sess()``.  State changes go through the health_checks
plugin's functions, so they log and reach the load-balancing pickers as the runtime API
commands do.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from .values import as_text

LUA = (Path(__file__).parent / "proxies.lua").read_text()


class _Handle:
    """A proxy or server given to Lua (opaque there)."""

    __slots__ = ("obj", "px")

    def __init__(self, obj: Any, px: Any = None) -> None:
        self.obj, self.px = obj, px


class Bridge:
    def __init__(self, api: Any) -> None:
        self.state = api.state
        self.config = api.config

    def functions(self) -> dict[str, Any]:
        return {"list": self.list, "servers": self.servers, "proxy": self.proxy,
                "server": self.server, "info": self.info}

    def info(self) -> Any:
        """core.get_info(): the ``show info`` fields (name -> value)."""
        from hapx.core.runtime.statdump import context
        from hapx.core.stats import stats_of

        ctx = context(self.config)
        out = {}
        for fld in stats_of(self.config).info:
            try:
                val = fld.get(ctx) if fld.get is not None else None
            except Exception:  # noqa: BLE001 - one broken field must not break the table
                val = None
            if val is not None:
                out[fld.name] = val
        return self.state.lua.table_from(out)

    def _table(self, rows: list[list[Any]]) -> Any:
        lua = self.state.lua
        return lua.table_from([lua.table_from(r) for r in rows])

    def list(self, kind: str) -> Any:
        rows = []
        for px in self.config.proxies:
            if px.kind == "defaults":
                continue
            if kind == "backends" and not px.is_backend:
                continue
            if kind == "frontends" and not px.is_frontend:
                continue
            rows.append([px.name, _Handle(px), px.uuid])
        return self._table(rows)

    def servers(self, h: _Handle) -> Any:
        px = h.obj
        if not px.is_backend:
            return self._table([])
        return self._table([[s.name, _Handle(s, px)] for s in px.servers])

    def _stats(self, kind: str, px: Any, srv: Any) -> Any:
        from hapx.core.runtime.statdump import StatObject, context, values
        from hapx.core.stats import stats_of

        obj = StatObject(kind, px, srv, context(self.config))
        out = {fld.name: val for _pos, fld, val in values(stats_of(self.config), obj)
               if val is not None}
        return self.state.lua.table_from(out)

    def proxy(self, method: str, h: _Handle, *args: Any) -> Any:
        px = h.obj
        if method == "get_cap":
            caps = [c for c, ok in (("frontend", px.is_frontend), ("backend", px.is_backend))
                    if ok]
            return ",".join(caps)
        if method == "get_mode":
            return px.mode
        if method == "get_stats":
            return self._stats("B" if px.is_backend else "F", px, None)
        servers = px.servers if px.is_backend else []
        if method == "get_srv_act":
            return sum(1 for s in servers if s.usable and not s.backup)
        return sum(1 for s in servers if s.usable and s.backup)  # get_srv_bck

    def server(self, method: str, h: _Handle, *args: Any) -> Any:
        from hapx.core.runtime.backend import server_state

        srv, px = h.obj, h.px
        if method == "get_name":
            return srv.name
        if method == "get_puid":
            return srv.id
        if method == "get_addr":
            addr = srv.address
            host = addr.ip if addr.ip is not None else addr.host
            text = f"[{host}]" if isinstance(host, ipaddress.IPv6Address) else str(host)
            return f"{text}:{addr.port}" if addr.port else text
        if method == "get_weight":
            return srv.uweight
        if method == "get_stats":
            return self._stats("S", px, srv)
        if method == "is_backup":
            return bool(srv.backup)
        if method == "get_maxconn":
            return srv.maxconn or 0
        if method == "get_pend_conn":
            return server_state(srv).queued
        if method == "get_cur_sess":
            return server_state(srv).cur_conn
        from hapx.core.runtime.cli_api import CliError
        from hapx.plugins.health_checks import cli as hc
        from hapx.plugins.health_checks.state import health_of

        if method == "is_draining":
            return "DRAIN" in health_of(srv).admin
        try:
            if method == "set_weight":
                hc.apply_weight(px, srv, hc.parse_weight(px, srv, as_text(args[0] if args
                                                                        else "")))
            elif method == "set_maint":
                hc.set_maint(srv)
            elif method == "set_drain":
                hc.set_drain(srv)
            elif method == "set_ready":
                hc.set_ready(srv)
            elif method == "check_force_up":
                hc._set_health(srv, "up")
            elif method == "check_force_down":
                hc._set_health(srv, "down")
            elif method == "set_addr":
                words = [as_text(args[0])] + (["port", as_text(args[1])] if len(args) > 1
                                            and args[1] is not None else [])
                out = hc._set_addr(srv, words)
                return None if not out or "changed" in out or "no need" in out else out
        except CliError as exc:
            return str(exc).strip() or type(exc).__name__
        return None


def lua_api(api: Any) -> None:
    """core.proxies, core.backends, core.frontends."""
    api.define(LUA, Bridge(api).functions())
