"""Retries: ``retries``, ``retry-on`` and ``option redispatch [<interval>]``, as HAProxy
has them.

A failed connection attempt, and in HTTP any event ``retry-on`` names (an empty response, a
junk response, a response timeout, one of the listed statuses) is retried up to ``retries``
times, all kinds sharing that count (``txn.conn_retries``, the ``%rc`` log field).  A retry
stays on the same server unless ``option redispatch`` allows leaving it: its server is down,
the retry is one the interval selects (P > 0: every P-th retry; N < 0: the N-th before the
last; default -1: the last), or the stream is not bound to its server (no use-server rule)
while more than one active server is usable and the algorithm is not hash-based.  Leaving
the server marks the stream redispatched (``txn.redispatched``, the ``+`` of ``%rc``) when
the next server differs.  A connection refused by the same server is retried after
min(``timeout connect``, 1s) (HAProxy's turn-around timer).

Layer-7 retries resend the request, so only a request whose head and body fit in one buffer
(``tune.bufsize``, default 16384) is retried: its bytes are kept until the response starts.
As in HAProxy no method is excluded: replay safety is the administrator's choice.

Interface::

    policy_for(backend, bufsize) -> RetryPolicy     # cached in backend.ext["retry"]
    policy.may_retry(strm) -> bool                  # retries left
    policy.redispatch(strm, srv, direct) -> bool    # leave srv for this retry?
    policy.count(strm, old, new)                    # counters once the next server is known
    conn_error(strm, srv, backend) / resp_error(...) # econ / eresp counters
    DISCARD      # owner of an HTTP server connection whose response a retry drops
"""

from __future__ import annotations

from typing import Any

from ..stream import ProxyState

RETRY_KEY = "retry"
#: HAProxy's longest wait before retrying a server that refused a connection (ms)
TURN_AROUND = 1000
CONN_FAILURE = "conn-failure"
EMPTY_RESPONSE = "empty-response"
JUNK_RESPONSE = "junk-response"
RESPONSE_TIMEOUT = "response-timeout"
ZERO_RTT = "0rtt-rejected"


def _state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


class RetryPolicy:
    """A backend's retry settings, compiled once."""

    __slots__ = ("backend", "retries", "conn", "empty", "junk", "timeout", "statuses", "l7",
                 "redispatch_on", "interval", "bufsize", "turn_around", "state")

    def __init__(self, backend: Any, bufsize: int = 16384) -> None:
        self.backend = backend
        self.state = _state(backend)
        self.retries = int(backend.settings.get("retries", 3))
        on = backend.settings.get("retry-on")
        words = frozenset({CONN_FAILURE}) if on is None else frozenset(on)
        if backend.mode != "http":
            # retry-on is silently ignored outside HTTP: connection failures are retried
            words = frozenset({CONN_FAILURE})
        self.conn = CONN_FAILURE in words
        self.empty = EMPTY_RESPONSE in words
        self.junk = JUNK_RESPONSE in words
        self.timeout = RESPONSE_TIMEOUT in words
        #: statuses that trigger a retry
        self.statuses = frozenset(int(w) for w in words if w.isdigit())
        #: True when a retry may resend a request already sent (the request is kept)
        self.l7 = bool(self.empty or self.junk or self.timeout or self.statuses)
        self.redispatch_on = bool(backend.options.get("redispatch"))
        self.interval = int(backend.settings.get("redispatch", -1))
        if self.interval == 0:
            self.redispatch_on = False
        self.bufsize = bufsize
        connect = backend.timeouts.get("connect")
        self.turn_around = min(connect, TURN_AROUND) if connect else TURN_AROUND

    def may_retry(self, strm: Any) -> bool:
        return strm.conn_retries < self.retries

    def redispatch(self, strm: Any, srv: Any, direct: bool, hash_based: bool) -> bool:
        """HAProxy's stream_choose_redispatch, ``strm.conn_retries`` already counting this
        retry."""
        if not self.redispatch_on or srv is None:
            return False
        if not getattr(srv, "up", True):
            return True
        n = strm.conn_retries
        if self.interval > 0:
            if n % self.interval == 0:
                return True
        else:
            div = self.retries + 1 + self.interval
            if div > 0 and n % div == 0:
                return True
        if direct or hash_based:
            return False
        active = sum(1 for s in self.backend.servers
                     if not getattr(s, "backup", False) and getattr(s, "usable", True))
        return active > 1

    def count(self, strm: Any, old: Any, new: Any) -> None:
        """A retry goes to ``new`` after ``old``: a redispatch when they differ (counted on
        the server left), else a retry on the same server."""
        if old is not None and new is not None and old is not new:
            strm.redispatched = True
            old.live.redispatches += 1
            self.state.redispatches += 1
        else:
            srv = new or old
            if srv is not None:
                srv.live.retries += 1
            self.state.retries += 1


def policy_for(backend: Any, bufsize: int = 16384) -> RetryPolicy:
    pol = backend.ext.get(RETRY_KEY)
    if pol is None:
        pol = backend.ext[RETRY_KEY] = RetryPolicy(backend, bufsize)
    return pol


def conn_error(strm: Any, srv: Any, backend: Any) -> None:
    """Count a failed connection attempt [econ]."""
    if srv is not None and getattr(srv, "live", None) is not None:
        srv.live.conn_errors += 1
    _state(backend).conn_errors += 1


def resp_error(strm: Any, srv: Any, backend: Any) -> None:
    """Count a failed response [eresp]."""
    if srv is not None and getattr(srv, "live", None) is not None:
        srv.live.resp_errors += 1
    if backend is not None:
        _state(backend).resp_errors += 1


class Discard:
    """The owner of a server connection whose response is dropped (a retry): whatever
    the parser still delivers goes nowhere."""

    __slots__ = ()

    def on_response_headers(self, *args: Any) -> None:
        pass

    def on_response_body(self, data: bytes) -> None:
        pass

    def on_response_complete(self) -> None:
        pass

    def on_response_upgrade(self, rest: bytes) -> None:
        pass

    def server_error(self, conn: Any, why: str) -> None:
        pass

    def server_closed(self, conn: Any) -> None:
        pass

    def server_pause_writing(self) -> None:
        pass

    def server_resume_writing(self) -> None:
        pass


DISCARD = Discard()
