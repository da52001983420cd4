"""Server slots and queues: ``maxconn``, ``minconn`` with ``fullconn``, ``maxqueue`` and
``timeout queue``, as HAProxy has them.

A stream going to a server takes one of its slots; ``maxconn`` bounds the slots in use
(HAProxy's ``served``: concurrent requests in HTTP, connections in TCP).  A stream that finds
its server full waits in that server's queue when it must go to that very server (a
``use-server`` rule, persistence, a hash-based algorithm), else in the backend's queue.  When
a stream leaves a server, the server serves the oldest waiting stream of its own queue and of
the backend's queue (HAProxy's ``process_srv_queue``), in arrival order.  A stream still
waiting after ``timeout queue`` (else ``timeout connect``) gets a 503 with termination state
``sQ``; one refused because the server's queue is at ``maxqueue`` gets a 503 ``SQ``.

Interface::

    acquire(backend, strm) -> Server | Pending
        # a plain call: the server, its slot taken, when one is free; a Pending (awaitable)
        # when the stream must wait; raises NoSlot(term) when there is no server ("SC") or
        # the server's queue is full ("SQ")
    await pending            -> Server   # raises NoSlot("sQ") at timeout queue
    free_slot(strm)          # the stream leaves its server (before a redispatch)
    is_direct(strm)          # its server came from a use-server rule
    leave(strm)              # the stream ends: out of its queue, its slot freed
    server_up(srv) / server_down(srv)   # take from the backend queue / redistribute
    dynamic_maxconn(srv)     # the current limit (minconn/fullconn ramp), 0: none
    is_full(srv)             # HAProxy's test of a full server, for pickers
    conn_opened(srv, transport) / conn_closed(srv, transport)  # cur_conn, max_conn, conns

Extension point: what counts against ``maxconn`` besides the streams served.  A plugin sets a
:class:`ConnLimit` on a server (``set_conn_limit``); the HTTP data path calls its
``reserve`` before opening a new connection to the server and ``done`` after the attempt,
and ``conn_closed`` reaches it when one of the server's connections closes.

Pickers: a balancing algorithm that maps a request to one server whatever its load
(hash-based ones) sets ``hash_based = True`` on its picker: a full server then queues the
stream on that server.  For the others a full server is skipped (the picker is asked again,
at most once per server) and when every server is full the stream waits in the backend's
queue.  A picker returning None while a server is usable means "all full".
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from typing import Any

from ..stream import ProxyState, ServerState
from .backend import on_servers_changed, picker_for

QUEUE_KEY = "queue"
#: where a stream's held backend and server are recorded (shared with accounting)
HELD = "accounting"
_monotonic = time.monotonic
_seq = itertools.count()


class NoSlot(Exception):
    """No server slot for the stream: ``term`` is its termination state ("SC" no server,
    "SQ" server queue full, "sQ" timeout queue)."""

    def __init__(self, term: str) -> None:
        super().__init__(term)
        self.term = term


class ConnLimit:
    """What counts against a server's ``maxconn`` besides the streams it serves (the
    extension point; the default counts streams only)."""

    async def reserve(self, srv: Any, strm: Any, timeout_ms: int | None) -> None:
        """Return once a new connection to ``srv`` may be opened (raise TimeoutError when
        none can be within ``timeout_ms``)."""

    def done(self, srv: Any) -> None:
        """The connection attempt that followed ``reserve`` ended (made or failed)."""

    def conn_closed(self, srv: Any) -> None:
        """One of the server's connections closed."""


def _proxy_state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


def _live(srv: Any) -> ServerState:
    st = getattr(srv, "live", None)
    if st is None:
        st = srv.live = ServerState()
    return st


def _fullconn(backend: Any, config: Any = None, global_maxconn: int = 0) -> int:
    """The backend's ``fullconn``, else HAProxy's default: 10% of the maxconn of the
    frontends whose use_backend/default_backend rules name it (at least 1).  A frontend
    without maxconn counts the global one."""
    value = int(backend.settings.get("fullconn") or 0)
    if value:
        return value
    total = 0
    for fe in getattr(config, "frontends", None) or ():
        sel = fe.settings.get("switching")
        targets = [t for _c, t in getattr(sel, "rules", ())] + [getattr(sel, "default", None)]
        if fe is backend or any(t is backend for t in targets):
            total += int(fe.settings.get("maxconn") or global_maxconn or 0)
    return max(1, (total + 9) // 10)


class BackendQueue:
    """A backend's queue and what slot decisions read from the backend."""

    __slots__ = ("backend", "state", "queue", "idx", "picker", "hash_based", "timeout",
                 "fullconn", "servers", "redispatch")

    def __init__(self, backend: Any, config: Any = None) -> None:
        self.backend = backend
        self.state = _proxy_state(backend)
        self.queue: deque[Pending] = deque()
        #: streams served from this queue so far (for %bq)
        self.idx = 0
        #: the balancer's picker, resolved when traffic starts (load())
        self.picker: Any = None
        self.hash_based = False
        t = backend.timeouts
        self.timeout = t.get("queue") or t.get("connect")
        self.fullconn = _fullconn(backend, config, int(
            getattr(config, "global_", None) and config.global_.settings.get("maxconn") or 0))
        self.servers = list(backend.servers)
        self.redispatch = bool(backend.options.get("redispatch")) and \
            backend.settings.get("redispatch", -1) != 0
        on_servers_changed(backend, self._refresh)

    def _refresh(self, backend: Any) -> None:
        """``add server``/``del server``: take the new list and the new picker."""
        self.servers = list(backend.servers)
        self.load()

    def load(self) -> Any:
        self.picker = picker = picker_for(self.backend)
        self.hash_based = bool(getattr(picker, "hash_based", False))
        return picker

    def can_wait(self) -> bool:
        """Is there a usable server that a slot may free up on (one with a maxconn)?"""
        return any(getattr(s, "usable", True) and getattr(s, "maxconn", 0)
                   for s in self.servers)


class ServerSlots:
    """A server's limits and queue."""

    __slots__ = ("srv", "bq", "live", "maxconn", "minconn", "maxqueue", "queue", "idx",
                 "limit")

    def __init__(self, srv: Any, bq: BackendQueue) -> None:
        self.srv = srv
        self.bq = bq
        self.live = _live(srv)
        maxconn = int(getattr(srv, "maxconn", 0) or 0)
        minconn = int(srv.options.get("minconn", 0) or 0) if hasattr(srv, "options") else 0
        # as HAProxy: minconn alone (or above maxconn) becomes maxconn; no minconn = maxconn
        if minconn > maxconn:
            maxconn = minconn
        self.maxconn = maxconn
        self.minconn = minconn or maxconn
        self.maxqueue = int(getattr(srv, "maxqueue", 0) or 0)
        self.queue: deque[Pending] = deque()
        self.idx = 0
        self.limit: ConnLimit | None = None

    def dynamic(self) -> int:
        """HAProxy's srv_dynamic_maxconn: maxconn, or between minconn and maxconn following
        the backend's load relative to fullconn."""
        mx = self.maxconn
        if self.minconn < mx:
            beconn = self.bq.state.served
            full = self.bq.fullconn
            if beconn < full:
                mx = max(self.minconn, beconn * mx // full)
        return mx

    def has_room(self) -> bool:
        return not self.maxconn or (not self.live.queued and self.live.served < self.dynamic())


def backend_queue(backend: Any, config: Any = None) -> BackendQueue:
    bq = backend.ext.get(QUEUE_KEY)
    if bq is None:
        bq = backend.ext[QUEUE_KEY] = BackendQueue(backend, config)
    return bq


def slots_of(srv: Any, backend: Any) -> ServerSlots:
    live = _live(srv)
    ss = live.slots
    if ss is None:
        ss = live.slots = ServerSlots(srv, backend_queue(backend))
    return ss


def prepare(config: Any, global_maxconn: int = 0) -> None:
    """Set up the queues of every backend when the proxies start (the default fullconn
    needs the frontends); the data path otherwise sets them up on first use."""
    for px in getattr(config, "proxies", ()):
        if px.is_backend:
            bq = backend_queue(px, config)
            bq.fullconn = _fullconn(px, config, global_maxconn)
            bq.load()
            for srv in px.servers:
                slots_of(srv, px)


def set_conn_limit(srv: Any, backend: Any, limit: ConnLimit | None) -> None:
    """Make ``limit`` decide what else counts against the server's maxconn."""
    slots_of(srv, backend).limit = limit


def conn_limit(srv: Any) -> ConnLimit | None:
    live = getattr(srv, "live", None)
    ss = live.slots if live is not None else None
    return ss.limit if ss is not None else None


def dynamic_maxconn(srv: Any) -> int:
    live = getattr(srv, "live", None)
    ss = live.slots if live is not None else None
    return ss.dynamic() if ss is not None else int(getattr(srv, "maxconn", 0) or 0)


def is_full(srv: Any) -> bool:
    """HAProxy's test of a saturated server: it has a maxconn and either streams waiting
    in its queue or every slot in use."""
    live = getattr(srv, "live", None)
    ss = live.slots if live is not None else None
    if ss is None:
        mx = int(getattr(srv, "maxconn", 0) or 0)
        return bool(mx) and live is not None and (live.queued > 0 or live.served >= mx)
    return not ss.has_room()


# -- connections -----------------------------------------------------------------------------

def conn_opened(srv: Any, transport: Any = None) -> None:
    """A connection to the server is established (``transport`` kept in ``live.conns``
    so that it can be closed when the server goes down)."""
    live = _live(srv)
    live.cur_conn += 1
    if live.cur_conn > live.max_conn:
        live.max_conn = live.cur_conn
    if transport is not None:
        live.conns.add(transport)


def conn_closed(srv: Any, transport: Any = None) -> None:
    live = _live(srv)
    live.cur_conn -= 1
    if transport is not None:
        live.conns.discard(transport)
    ss = live.slots
    if ss is not None and ss.limit is not None:
        ss.limit.conn_closed(srv)


# -- slots ----------------------------------------------------------------------------------------

def take_slot(strm: Any, srv: Any) -> None:
    """Count ``strm`` as served by ``srv`` (leaving the server it held, if another)."""
    held = strm.ext.get(HELD)
    if held is None:
        held = strm.ext[HELD] = {}
    old = held.get("server")
    if old is srv:
        return
    if old is not None:
        _free(old)
    held["server"] = srv
    live = _live(srv)
    live.served += 1
    live.total += 1
    if live.served > live.max_served:
        live.max_served = live.served
    strm.server = srv


def free_slot(strm: Any) -> Any:
    """The stream leaves its server (a redispatch): the slot goes to the next waiting
    stream.  Returns the server it left."""
    held = strm.ext.get(HELD)
    srv = held.pop("server", None) if held else None
    if srv is not None:
        _free(srv)
    return srv


def _free(srv: Any) -> None:
    live = _live(srv)
    live.served -= 1
    ss = live.slots
    if ss is not None and (live.queued or ss.bq.state.queued):
        process(ss)


def is_direct(strm: Any) -> bool:
    """True when the stream's server came from a use-server rule (HAProxy's SF_DIRECT)."""
    held = strm.ext.get(HELD)
    return bool(held and held.get("direct"))


def hash_based(backend: Any) -> bool:
    bq = backend.ext.get(QUEUE_KEY) or backend_queue(backend)
    if bq.picker is None:
        bq.load()
    return bq.hash_based


def leave(strm: Any, held: dict[str, Any]) -> Any:
    """The stream ends: out of any queue, its slot freed.  Returns the server it held."""
    p = held.pop("pending", None)
    if p is not None and p.queued:
        p.unlink()
        p.cancel()
        term = strm.term_state
        if term and term != "--":
            strm.term_state = term[0] + "Q" + term[2:]
    srv = held.get("server")
    if srv is not None:
        _free(srv)
    return srv


# -- choosing --------------------------------------------------------------------------------------

def acquire(backend: Any, strm: Any, lb_only: bool = False) -> Any:
    """A server with a slot taken for ``strm``, or a :class:`Pending` to await.  With
    ``lb_only`` use-server rules are skipped (a redispatch)."""
    bq = backend.ext.get(QUEUE_KEY) or backend_queue(backend)
    picker = bq.picker or bq.load()
    direct = False
    if lb_only:
        srv = picker.pick(strm)
        held = strm.ext.get(HELD)
        if held:
            held.pop("direct", None)
    else:
        # (_choose, inline)
        switch = backend.settings.get("server_switching")
        srv = switch(strm) if switch is not None else None
        # a use-server rule holds unless the server is down (its weight does not matter)
        if srv is not None and getattr(srv, "up", True):
            direct = True
            held = strm.ext.get(HELD)
            if held is None:
                held = strm.ext[HELD] = {}
            held["direct"] = True
        else:
            srv = picker.pick(strm)
    if srv is None:
        # the picker found no server with a free slot: all full, or none usable
        if bq.can_wait():
            return Pending(strm, bq, None)
        raise NoSlot("SC")
    live = srv.live if getattr(srv, "live", None) is not None else _live(srv)
    ss = live.slots or slots_of(srv, backend)
    if not ss.maxconn or (not live.queued and live.served < ss.dynamic()):
        held = strm.ext.get(HELD)
        if held is not None and held.get("server") is None:
            # (take_slot for a stream holding no server yet, inline)
            held["server"] = srv
            live.served += 1
            live.total += 1
            if live.served > live.max_served:
                live.max_served = live.served
            strm.server = srv
        else:
            take_slot(strm, srv)
        return srv
    if not direct and not bq.hash_based:
        # as HAProxy's non-hash algorithms: a full server is skipped
        for _ in range(len(bq.servers) - 1):
            other = picker.pick(strm)
            if other is None:
                break
            oss = slots_of(other, backend)
            if oss.has_room():
                take_slot(strm, other)
                return other
        return Pending(strm, bq, None)
    if ss.maxqueue and live.queued >= ss.maxqueue:
        if direct and bq.redispatch:
            return acquire(backend, strm, lb_only=True)
        live.conn_errors += 1
        bq.state.conn_errors += 1
        strm.server = srv
        raise NoSlot("SQ")
    strm.server = srv
    return Pending(strm, bq, ss)


def process(ss: ServerSlots) -> None:
    """A slot may be free on ``ss``'s server: serve the oldest streams of its queue and of
    the backend's queue while it has room (HAProxy's process_srv_queue)."""
    srv = ss.srv
    bq = ss.bq
    live = ss.live
    px_ok = _px_ok(srv, bq)
    while not ss.maxconn or live.served < ss.dynamic():
        p = _head(ss.queue)
        pp = _head(bq.queue) if px_ok else None
        if p is None and pp is None:
            return
        if p is None or (pp is not None and pp.seq < p.seq):
            pp.grant(srv)
        else:
            p.grant(srv)


def _px_ok(srv: Any, bq: BackendQueue) -> bool:
    """May this server take streams from the backend's queue?  Only when usable, and a
    backup one only when no active server is usable and it is the first usable backup
    (or ``option allbackups``)."""
    if not getattr(srv, "usable", True):
        return False
    if not getattr(srv, "backup", False):
        return True
    servers = bq.servers
    if any(getattr(s, "usable", True) and not s.backup for s in servers):
        return False
    if bq.backend.options.get("allbackups"):
        return True
    first = next((s for s in servers if s.backup and getattr(s, "usable", True)), None)
    return first is srv


def _head(q: deque[Pending]) -> Pending | None:
    while q:
        p = q[0]
        if p.queued:
            return p
        q.popleft()
    return None


def server_up(srv: Any, backend: Any) -> None:
    """A server became usable: it takes streams from the backend's queue."""
    process(slots_of(srv, backend))


def server_down(srv: Any, backend: Any) -> int:
    """A server went down: with ``option redispatch`` the streams in its queue go back to
    load balancing.  Returns how many were moved."""
    ss = slots_of(srv, backend)
    if not ss.bq.redispatch:
        return 0
    moved = 0
    for p in list(ss.queue):
        if p.queued:
            p.unlink()
            p.wake(None)
            moved += 1
    ss.queue.clear()
    return moved


# -- waiting ----------------------------------------------------------------------------------------

class Pending:
    """A stream waiting in a server's queue (``ss``) or the backend's (``ss`` None).
    Await it for the server (its slot taken), or NoSlot("sQ") at ``timeout queue``."""

    __slots__ = ("strm", "bq", "ss", "seq", "idx", "t0", "fut", "timer", "queued",
                 "result")

    def __init__(self, strm: Any, bq: BackendQueue, ss: ServerSlots | None) -> None:
        self.strm = strm
        self.bq = bq
        self.ss = ss
        self.seq = next(_seq)
        self.t0 = _monotonic()
        self.fut: asyncio.Future | None = None
        self.timer: Any = None
        self.result: Any = None
        self.queued = True
        if ss is not None:
            live = ss.live
            self.idx = ss.idx - 1
            ss.queue.append(self)
            live.queued += 1
            if live.queued > live.max_queued:
                live.max_queued = live.queued
        else:
            st = bq.state
            self.idx = bq.idx - 1
            bq.queue.append(self)
            st.queued += 1
            if st.queued > st.max_queued:
                st.max_queued = st.queued
        held = strm.ext.get(HELD)
        if held is None:
            held = strm.ext[HELD] = {}
        held["pending"] = self
        loop = asyncio.get_running_loop()
        self.fut = loop.create_future()
        if bq.timeout:
            self.timer = loop.call_later(bq.timeout / 1000, self.expire)

    def unlink(self) -> None:
        """Out of its queue; records the queue position for %sq/%bq and the wait (%Tw)."""
        if not self.queued:
            return
        self.queued = False
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        strm = self.strm
        counters = strm.counters
        if self.ss is not None:
            self.ss.live.queued -= 1
            counters["srv_queue"] = counters.get("srv_queue", 0) + self.ss.idx - self.idx
        else:
            self.bq.state.queued -= 1
            counters["be_queue"] = counters.get("be_queue", 0) + self.bq.idx - self.idx
        timers = strm.timers
        waited = int((_monotonic() - self.t0) * 1000)
        tw = timers.get("Tw", -1)
        timers["Tw"] = (tw if tw > 0 else 0) + waited

    def grant(self, srv: Any) -> None:
        """A slot on ``srv`` is this stream's."""
        self.unlink()
        if self.ss is not None:
            self.ss.idx += 1
        else:
            self.bq.idx += 1
        take_slot(self.strm, srv)
        self.wake(srv)

    def wake(self, srv: Any) -> None:
        held = self.strm.ext.get(HELD)
        if held is not None and held.get("pending") is self:
            del held["pending"]
        self.result = srv
        if self.fut is not None and not self.fut.done():
            self.fut.set_result(srv)

    def expire(self) -> None:
        """timeout queue."""
        self.timer = None
        if not self.queued:
            return
        self.unlink()
        held = self.strm.ext.get(HELD)
        if held is not None and held.get("pending") is self:
            del held["pending"]
        if self.ss is not None:
            self.ss.live.conn_errors += 1
        self.bq.state.conn_errors += 1
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(NoSlot("sQ"))

    def cancel(self) -> None:
        if self.fut is not None and not self.fut.done():
            self.fut.cancel()

    def __await__(self) -> Any:
        return self._wait().__await__()

    async def _wait(self) -> Any:
        p: Pending = self
        while True:
            assert p.fut is not None
            srv = await p.fut
            if srv is not None:
                return srv
            # redistributed (its server went down): load balancing again
            got = acquire(p.bq.backend, p.strm, lb_only=True)
            if not isinstance(got, Pending):
                return got
            p = got
