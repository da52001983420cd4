"""Termination events: what ended a stream and its connections, in order.

HAProxy 3.2 keeps, for each entity a stream involves, a 32-bit log of its last four
termination events, oldest first: the client connection (fc) and its mux (fmux), the
stream's two endpoints (fse, bse), the stream itself (strm), and the server connection's
mux (bmux) and connection (bc).  An event is one byte, ``(location << 4) | type``; backend
side locations have bit 3 set.  An event equal to the last one is not recorded again, and
nothing is recorded once four are there.

The data path records events where they happen (a read that returned end of stream, a
connection refused, a timeout, a reply that closes ...) with the small helpers below: plain
integer operations on the :class:`~hapx.core.stream.Session` and
:class:`~hapx.core.stream.Stream` fields (``fc_evts``, ``fmux_evts``; ``fse_evts``,
``strm_evts``, ``bse_evts``, ``bmux_evts``, ``bc_evts``).  How they are shown (the
``term_events`` fetch) is a plugin's business.
"""

from __future__ import annotations

from typing import Any

# -- locations (HAProxy's enum term_event_loc) ---------------------------------------------------
FD = 1
HS = 2
XPRT = 3
MUXC = 4
SE = 5
STRM = 6
#: added to a location on the backend side
BACK = 8

# -- event types (the same value means different things per location) --------------------------
SHUTW = 1
SHUTR = 2  # fd, xprt, muxc
EOS = 2  # se, strm
RCV_ERR = 3
SND_ERR = 4
TRUNCATED_SHUTR = 5  # muxc
TRUNCATED_EOS = 5  # se, strm
TRUNCATED_RCV_ERR = 6
CONN_ERR = 7  # fd
TOUT = 7  # muxc, strm
INTERCEPTED = 8  # fd, strm
PROTO_ERR = 9
INTERNAL_ERR = 10
OTHER_ERR = 11
ABORTED = 12  # strm
CANCELLED = 12  # se

#: an entity that does not exist (or does not report events): printed ``-``
ABSENT = 0xFFFFFFFF


def report(evts: int, loc: int, typ: int) -> int:
    """``evts`` with the event (loc, typ) appended (HAProxy's tevt_report_event)."""
    evt = (loc << 4) | typ
    if evts & 0xFF000000 or (evts & 0xFF) == evt:
        return evts
    return ((evts << 8) | evt) & 0xFFFFFFFF


# -- recording helpers (frontend side: lower case letters, backend side: upper case) ----------------

def fc(sess: Any, typ: int) -> None:
    """An event of the client connection's socket (``f``)."""
    sess.fc_evts = report(sess.fc_evts, FD, typ)


def fmux(sess: Any, typ: int) -> None:
    """An event of the client connection's protocol layer (``m``)."""
    sess.fmux_evts = report(sess.fmux_evts, MUXC, typ)


def fse(strm: Any, typ: int) -> None:
    """An event of the stream's client-side endpoint (``e``)."""
    strm.fse_evts = report(strm.fse_evts, SE, typ)


def front(strm: Any, typ: int) -> None:
    """An event the stream saw on its client side (``s``)."""
    strm.strm_evts = report(strm.strm_evts, STRM, typ)


def back(strm: Any, typ: int) -> None:
    """An event the stream saw on its server side (``S``)."""
    strm.strm_evts = report(strm.strm_evts, STRM | BACK, typ)


def bse(strm: Any, typ: int) -> None:
    """An event of the stream's server-side endpoint (``E``)."""
    strm.bse_evts = report(strm.bse_evts, SE | BACK, typ)


def bmux(strm: Any, typ: int) -> None:
    """An event of the server connection's protocol layer (``M``)."""
    strm.bmux_evts = report(strm.bmux_evts, MUXC | BACK, typ)


def bc(strm: Any, typ: int) -> None:
    """An event of the server connection's socket (``F``)."""
    strm.bc_evts = report(strm.bc_evts, FD | BACK, typ)


def new_server_conn(strm: Any) -> None:
    """The stream uses another server connection (a retry): its log starts afresh."""
    strm.bc_evts = strm.bmux_evts = 0


# -- the usual sequences ---------------------------------------------------------------------------

def client_closed(strm: Any, *, error: bool, complete: bool) -> None:
    """The client closed (``error``: reset) while the stream was alive; ``complete``: its
    request had been received entirely."""
    sess = strm.sess
    fc(sess, RCV_ERR if error else SHUTR)
    if error:
        fmux(sess, RCV_ERR if complete else TRUNCATED_RCV_ERR)
        fse(strm, RCV_ERR if complete else TRUNCATED_RCV_ERR)
        front(strm, RCV_ERR if complete else TRUNCATED_RCV_ERR)
    else:
        fmux(sess, SHUTR if complete else TRUNCATED_SHUTR)
        fse(strm, EOS if complete else TRUNCATED_EOS)
        front(strm, EOS if complete else TRUNCATED_EOS)


def server_closed(strm: Any, *, error: bool, complete: bool) -> None:
    """The server closed (``error``: reset) its connection; ``complete``: between
    messages (not in the middle of a response)."""
    bc(strm, RCV_ERR if error else SHUTR)
    if error:
        bmux(strm, RCV_ERR if complete else TRUNCATED_RCV_ERR)
        bse(strm, RCV_ERR if complete else TRUNCATED_RCV_ERR)
        back(strm, RCV_ERR if complete else TRUNCATED_RCV_ERR)
    else:
        bmux(strm, SHUTR if complete else TRUNCATED_SHUTR)
        bse(strm, EOS if complete else TRUNCATED_EOS)
        back(strm, EOS if complete else TRUNCATED_EOS)


def server_released(strm: Any) -> None:
    """The stream closes its server side (after a client abort, an error, a timeout)."""
    if strm.srv_conn is not None:
        back(strm, SHUTW)
        bse(strm, SHUTW)
        bmux(strm, SHUTW)
        bc(strm, SHUTW)


def client_shut(strm: Any) -> None:
    """The stream shuts its client side (a reply after which the connection closes, an
    abort)."""
    front(strm, SHUTW)
    fse(strm, SHUTW)
