"""The trace sources of the kernel's own data path (:mod:`hapx.core.trace`): ``h1``
(the HTTP/1 client side of :mod:`.http1`) and ``stream`` (streams of :mod:`.http_txn` and
:mod:`.tcp`), with HAProxy's event names."""

from __future__ import annotations

from typing import Any

from ..trace import STREAM_VERBOSITIES, TraceSource, register_source

H1_TRACE = register_source(TraceSource(
    "h1", "HTTP/1 multiplexer",
    events=(
        ("h1c_new", "new H1 connection"), ("h1c_recv", "Rx on H1 connection"),
        ("h1c_send", "Tx on H1 connection"), ("h1c_blk", "H1 connection blocked"),
        ("h1c_wake", "H1 connection woken up"), ("h1c_end", "H1 connection terminated"),
        ("h1c_err", "error on H1 connection"), ("rx_data", "receipt of any H1 data"),
        ("rx_eoi", "receipt of end of H1 input"), ("rx_headers", "receipt of H1 headers"),
        ("rx_body", "receipt of H1 body"), ("rx_trailerus", "receipt of H1 trailers"),
        ("tx_data", "transmission of any H1 data"),
        ("tx_eoi", "transmission of end of H1 input"),
        ("tx_headers", "transmission of all headers"), ("tx_body", "transmission of H1 body"),
        ("tx_trailerus", "transmission of H1 trailers"), ("h1s_new", "new H1 stream"),
        ("h1s_blk", "H1 stream blocked"), ("h1s_end", "H1 stream terminated"),
        ("h1s_err", "error on H1 stream"), ("strm_new", "app-layer stream creation"),
        ("strm_recv", "receiving data for stream"), ("strm_send", "sending data for stream"),
        ("strm_wake", "stream woken up"), ("strm_shut", "stream shutdown"),
        ("strm_end", "detaching app-layer stream"), ("strm_err", "stream error"),
    ),
    verbosities=(
        ("clean", 'only user-friendly stuff, generally suitable for level "user"'),
        ("minimal", "report only h1c/h1s state and flags, no real decoding"),
        ("simple", "add request/response status line or htx info when available"),
        ("advanced", "add header fields or frame decoding when available"),
        ("complete", "add full data dump when available"),
    ),
    own_locks=(("h1s", "H1 stream"),),
))

STREAM_TRACE = register_source(TraceSource(
    "stream", "Applicative stream",
    events=(
        ("strm_new", "new stream"), ("strm_free", "release stream"),
        ("strm_err", "error during stream processing"), ("strm_ana", "stream analyzers"),
        ("strm_proc", "stream processing"), ("cs_st", "stconn state"),
        ("http_ana", "HTTP analyzers"), ("http_err", "error during HTTP analyzis"),
        ("tcp_ana", "TCP analyzers"), ("tcp_err", "error during TCP analyzis"),
        ("flt_ana", "Filter analyzers"), ("flt_err", "error during filter analyzis"),
    ),
    verbosities=STREAM_VERBOSITIES,
    locks=("backend", "frontend", "listener", "server", "session", "stream", "thread"),
))


def h1_head_detail(side: str, first_line: str, headers: Any) -> Any:
    """The detail of an h1 head event by verbosity: ``[F]``/``[B]``, the start line from
    ``simple``, the header fields from ``advanced``."""
    def detail() -> str:
        v = H1_TRACE.verbosity
        text = f"[{side}]"
        if v >= 3:
            text += f' "{first_line}"'
        if v >= 4 and headers:
            text += "".join(f" {n}: {val}" for n, val in headers)
        return text
    return detail


def stream_lock(strm: Any) -> dict[str, Any]:
    """The lock-on objects of a stream event."""
    return {"frontend": strm.frontend, "backend": strm.backend, "server": strm.server,
            "session": strm.sess, "stream": strm,
            "listener": getattr(strm.sess, "listener", None)}


def stream_detail(strm: Any) -> Any:
    """``[<frontend>/<backend>/<server>] term=<state>`` from verbosity minimal."""
    def detail() -> str:
        if STREAM_TRACE.verbosity < 2:
            return ""
        fe = getattr(strm.frontend, "name", "-")
        be = getattr(strm.backend, "name", "-")
        srv = getattr(strm.server, "name", "-")
        return f"strm={id(strm):#x} [{fe}/{be}/{srv}] term={strm.term_state or '--'}"
    return detail
