"""Stream filters on the HTTP data path: the chain of a transaction.

A filter is a :class:`~hapx.core.records.Filter` record attached to a proxy by a ``filter``
line (or by its plugin at configure time, for filters that are implicit, such as
compression when ``compression algo`` is set).  Its ``ops`` class is instantiated per
stream, ``ops(conf, strm)`` with the ``conf`` its parser returned, and may define any of::

    on_request_headers(strm) -> bool    # after the http-request rules; True when it
                                        # changed the request's body framing headers
    on_request_data(strm, data) -> bytes    # request body bytes (de-chunked) -> bytes to
                                            # forward (b"" to hold them back)
    on_request_end(strm) -> bytes       # the request body ended: what is still held
    on_response_headers(strm) -> bool   # before the http-response rules; True when it
                                        # changed the response's body framing headers
    on_response_data(strm, data) -> bytes
    on_response_end(strm) -> bytes

Filters run in declaration order, the frontend's then the backend's.  Data goes through
each filter in turn; what a filter releases at the end goes through the filters after it.
A filter that changes the length of a body removes Content-Length and lets the data path
send it chunked (the framing is recomputed from the headers when ``True`` is returned).

Nothing of this runs for a proxy without filters.
"""

from __future__ import annotations

from typing import Any

_HOOKS = ("on_request_headers", "on_request_data", "on_request_end",
          "on_response_headers", "on_response_data", "on_response_end")


def filter_specs(*proxies: Any) -> list[tuple[type, Any]]:
    """The (ops class, conf) of the active filters of ``proxies`` (frontend first; a
    proxy listed twice counts once)."""
    out: list[tuple[type, Any]] = []
    seen: set[int] = set()
    for px in proxies:
        if px is None or id(px) in seen:
            continue
        seen.add(id(px))
        for use in px.settings.get("filters") or ():
            rec = use.record
            if rec.ops is not None and rec.active:
                out.append((rec.ops, use.conf))
    return out


class FilterChain:
    """The filters of one stream, with the callbacks each one defines."""

    __slots__ = ("filters", "hooks")

    def __init__(self, specs: list[tuple[type, Any]], strm: Any) -> None:
        self.filters = [ops(conf, strm) for ops, conf in specs]
        self.hooks: dict[str, list[Any]] = {
            name: [getattr(f, name) for f in self.filters if hasattr(f, name)]
            for name in _HOOKS}

    # -- headers ------------------------------------------------------------------------------
    def request_headers(self, strm: Any) -> bool:
        changed = False
        for fn in self.hooks["on_request_headers"]:
            changed = bool(fn(strm)) or changed
        return changed

    def response_headers(self, strm: Any) -> bool:
        changed = False
        for fn in self.hooks["on_response_headers"]:
            changed = bool(fn(strm)) or changed
        return changed

    # -- bodies --------------------------------------------------------------------------------
    def request_data(self, strm: Any, data: bytes) -> bytes:
        return self._data("on_request_data", strm, data)

    def response_data(self, strm: Any, data: bytes) -> bytes:
        return self._data("on_response_data", strm, data)

    def request_end(self, strm: Any) -> bytes:
        return self._end("request", strm)

    def response_end(self, strm: Any) -> bytes:
        return self._end("response", strm)

    def _data(self, hook: str, strm: Any, data: bytes, start: int = 0) -> bytes:
        for f in self.filters[start:]:
            fn = getattr(f, hook, None)
            if fn is not None and data:
                data = fn(strm, data)
        return data

    def _end(self, side: str, strm: Any) -> bytes:
        out: list[bytes] = []
        for i, f in enumerate(self.filters):
            # what earlier filters released at their end went through this one already
            end = getattr(f, f"on_{side}_end", None)
            if end is None:
                continue
            tail = end(strm)
            if tail:
                out.append(self._data(f"on_{side}_data", strm, tail, i + 1))
        return b"".join(out)
