"""Which streams a backend and a server are serving: HAProxy's ``beconn`` and ``served``,
logged as ``%bc`` and ``%sc``.  A stream is counted from the moment it is assigned until it
ends, and released before its log line is written (so the line shows the others)."""

from __future__ import annotations

from typing import Any

from ..stream import ProxyState, ServerState

_KEY = "accounting"


def _proxy_state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


def _server_state(srv: Any) -> ServerState:
    st = getattr(srv, "live", None)
    if st is None:
        st = ServerState()
        srv.live = st
    return st


def assign_backend(strm: Any, backend: Any) -> None:
    held = strm.ext.setdefault(_KEY, {})
    if held.get("backend") is backend:
        return
    if held.get("backend") is not None:
        _proxy_state(held["backend"]).served -= 1
    held["backend"] = backend
    _proxy_state(backend).served += 1


def assign_server(strm: Any, server: Any) -> None:
    held = strm.ext.setdefault(_KEY, {})
    if held.get("server") is server:
        return
    if held.get("server") is not None:
        _server_state(held["server"]).served -= 1
    held["server"] = server
    _server_state(server).served += 1


def release(strm: Any) -> None:
    """Stop counting the stream; record what the log line shows."""
    held = strm.ext.pop(_KEY, None) or {}
    backend, server = held.get("backend"), held.get("server")
    if backend is not None:
        st = _proxy_state(backend)
        st.served -= 1
        strm.counters["be_conn"] = st.served
    if server is not None:
        live = _server_state(server)
        live.served -= 1
        strm.counters["srv_conn"] = live.served
