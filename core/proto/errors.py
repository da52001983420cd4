"""The error replies of the data path: a proxy's ``errorfile`` / ``http-error`` override
(``proxy.settings["http-errors"]``: status -> reply) or HAProxy's built-in page.

A reply in ``settings["http-errors"]`` may be an :class:`~hapx.core.stream.HttpMessage`, raw
HTTP/1 bytes, or an object with the attributes ``raw`` (bytes of a whole response, empty:
close without answering), ``builtin``, ``content_type``, ``body``, ``body_fmt`` (rendered
with the stream) and ``headers`` (objects with ``name`` and ``value.render(strm)``).
"""

from __future__ import annotations

from typing import Any

from ..stream import HttpMessage
from .pages import copy_message, default_page, parse_raw_response, reason


def reply_message(page: Any, status: int, strm: Any) -> HttpMessage | None:
    """One override as the response to send (see the module's docstring for its shapes)."""
    if isinstance(page, HttpMessage):
        return copy_message(page)
    if isinstance(page, bytes | bytearray):
        return parse_raw_response(bytes(page)) if page else HttpMessage(status=0)
    if getattr(page, "builtin", False):
        return default_page(status)
    raw = getattr(page, "raw", None)
    if raw is not None:
        return parse_raw_response(raw) if raw else HttpMessage(status=0)
    msg = HttpMessage(version="1.1", status=status, reason=reason(status))
    body = getattr(page, "body", None) or b""
    fmt = getattr(page, "body_fmt", None)
    if fmt is not None:
        body = fmt.render(strm).encode("latin-1", "replace")
    for hdr in getattr(page, "headers", ()) or ():
        msg.add(hdr.name, hdr.value.render(strm))
    ctype = getattr(page, "content_type", None)
    msg.add("content-length", str(len(body)))
    if body and ctype:
        msg.add("content-type", ctype)
    msg.body = body
    msg.body_complete = True
    return msg


def error_message(strm: Any, status: int, *proxies: Any) -> HttpMessage:
    """The response for ``status``: the first of ``proxies`` (usually the backend, then the
    frontend) that overrides it, else HAProxy's page.  A reply with ``status == 0`` means
    "close without answering" (an empty errorfile)."""
    for px in proxies:
        if px is None:
            continue
        table = px.settings.get("http-errors")
        if table and status in table:
            msg = reply_message(table[status], status, strm)
            if msg is not None:
                return msg
    return default_page(status)
