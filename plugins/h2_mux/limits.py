"""Per-connection limits of the HTTP/2 multiplexers, applied when a stream opens:

- ``tune.h2.fe.max-total-streams``: once a client connection opened that many streams,
  a graceful GOAWAY (NO_ERROR, last stream: the last one accepted) tells the client to open
  a new connection; the streams in progress are served, later ones refused
  (REFUSED_STREAM), and the connection closes once they are done, as HAProxy does;
- ``tune.h2.fe.rxbuf`` / ``tune.h2.be.rxbuf``: the receive budget of one connection.  The
  connection window is that budget; a stream that is going to receive a body gets an equal
  share of it among the streams receiving at that time (at least one buffer and at least
  the initial window): a lone upload (or download from a server) may use the whole budget,
  many parallel ones split it, and the connection window bounds what is buffered in all.
"""

from __future__ import annotations

from typing import Any

import h2.exceptions

from .params import goaway


def grant_share(h2conn: Any, sid: int, params: Any, frontend: bool, receiving: int) -> None:
    """Open stream ``sid``'s receive window up to its share of the connection's rxbuf
    (``receiving``: how many streams receive a body now, this one included)."""
    share = params.stream_share(frontend, receiving)
    initial = params.fe_initial_window if frontend else params.be_initial_window
    if share <= initial:
        return
    grow = getattr(h2conn, "increment_stream_window", None)
    if grow is not None:  # the lean codec
        grow(sid, share - initial)
        return
    try:
        h2conn.increment_flow_control_window(share - initial, stream_id=sid)
    except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError, ValueError):
        pass


def client_stream_opened(mux: Any, sid: int, ended: bool) -> None:
    """A client opened stream ``sid`` (already counted in ``mux.nreq``)."""
    params = mux.params
    if not ended:
        receiving = sum(1 for st in mux.streams.values() if not st.req_ended)
        grant_share(mux.h2, sid, params, True, receiving)
    total = params.fe_max_total_streams
    if total and mux.nreq >= total and not mux.going_away:
        # no stream after this one: refused from now on (REFUSED_STREAM, which clients
        # retry on a new connection); the GOAWAY naming it leaves once the connection is
        # idle (see goaway_before_close)
        mux.going_away = True
        mux.last_sid = sid


def goaway_before_close(mux: Any) -> None:
    """The connection closes after its last stream: send the GOAWAY (NO_ERROR, last
    stream) announced by tune.h2.fe.max-total-streams.  It follows the last response
    rather than preceding it: clients on the h2 library (httpx) take a GOAWAY received
    before their stream's response as the end of the connection and lose the response."""
    sid = getattr(mux, "last_sid", 0)
    if sid and not mux.closed:
        mux.last_sid = 0
        mux._flush()
        mux.transport.write(goaway(sid, 0))


def server_conn_opened(h2conn: Any, params: Any) -> None:
    """A new server connection: its window is the backend's rxbuf."""
    extra = params.be_rxbuf - 65535
    if extra > 0:
        h2conn.increment_flow_control_window(extra)
