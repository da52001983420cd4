"""Which streams a backend and a server are serving: HAProxy's ``beconn`` and ``served``,
logged as ``%bc`` and ``%sc``.  A stream is counted on its backend from the moment it is
assigned and on its server while it holds one of the server's slots
(:mod:`hapx.core.runtime.queue`); both are released before its log line is written (so the
line shows the others)."""

from __future__ import annotations

from typing import Any

from ..stream import ProxyState
from .queue import HELD, leave, take_slot

_KEY = HELD


def _proxy_state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


def assign_backend(strm: Any, backend: Any) -> None:
    ext = strm.ext
    held = ext.get(_KEY)
    if held is None:
        ext[_KEY] = {"backend": backend}
    else:
        old = held.get("backend")
        if old is backend:
            return
        if old is not None:
            _proxy_state(old).served -= 1
        held["backend"] = backend
    st = backend.ext.get("state") or _proxy_state(backend)
    st.served += 1
    st.total += 1
    if st.served > st.max_served:
        st.max_served = st.served


def assign_server(strm: Any, server: Any) -> None:
    """Count the stream as served by ``server`` (see queue.take_slot)."""
    take_slot(strm, server)


def release(strm: Any) -> None:
    """Stop counting the stream; record what the log line shows."""
    held = strm.ext.pop(_KEY, None)
    if not held:
        return
    backend = held.get("backend")
    if backend is not None:
        st = backend.ext.get("state")  # (_proxy_state, inlined)
        if st is None:
            st = _proxy_state(backend)
        st.served -= 1
        strm.counters["be_conn"] = st.served
    server = leave(strm, held)
    if server is not None:
        live = server.live
        strm.counters["srv_conn"] = live.served
