"""Fetches reading the live state of proxies and servers: nbsrv, be_conn, queue, avg_queue,
connslots, fe_conn, act_conn and srv_is_up.

Where the state lives (the data path keeps it up to date):

* a proxy's counters: ``proxy.ext["state"]``, a :class:`~hapx.core.stream.ProxyState`
  (``cur_conn``: established connections, ``queued``: requests in the backend's own queue);
* a server's state: its ``live`` attribute, a :class:`~hapx.core.stream.ServerState`
  (``up``, ``cur_conn``, ``queued``); the configured ``maxconn``, ``maxqueue`` (0: unlimited),
  ``weight`` and ``backup`` are read from the server object itself;
* process-wide active connections: ``strm.proc.act_conn``.

Both state objects are created on first use, so a proxy nobody touched reads as idle and a
server as UP.

A backend or frontend argument is a name resolved once the configuration is parsed; without
one, the proxy the rule is written in is used (as HAProxy does), or the stream's own backend
or frontend when the rule comes from a defaults section.
"""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import Proxy
from hapx.core.records import Arg, ArgType, Fetch, SmpType, Use
from hapx.core.sample.types import Sample
from hapx.core.stream import ProxyState, ServerState

STATE_KEY = "state"
SERVER_ATTR = "live"


def proxy_state(px: Proxy) -> ProxyState:
    """The live counters of a proxy, created on first use."""
    st = px.ext.get(STATE_KEY)
    if st is None:
        st = px.ext[STATE_KEY] = ProxyState()
    return st


def server_state(srv: Any) -> ServerState:
    """The live state of a server, created on first use (UP, idle)."""
    st = getattr(srv, SERVER_ATTR, None)
    if st is None:
        st = ServerState()
        try:
            setattr(srv, SERVER_ATTR, st)
        except (AttributeError, TypeError):
            pass  # an immutable server object: it reads as UP and idle
    return st


def usable_servers(px: Proxy) -> int:
    """HAProxy's nbsrv: UP active servers with a weight, else the UP backups (only the first
    one counts unless ``option allbackups``)."""
    act = bck = 0
    for srv in px.servers:
        if not server_state(srv).up or getattr(srv, "weight", 1) == 0:
            continue
        if getattr(srv, "backup", False):
            bck += 1
        else:
            act += 1
    if act:
        return act
    if bck and not px.options.get("allbackups"):
        return 1
    return bck


def total_queued(px: Proxy) -> int:
    return proxy_state(px).queued + sum(server_state(s).queued for s in px.servers)


class ProxyRef:
    """A proxy argument, resolved once the configuration is parsed."""

    __slots__ = ("name", "px")

    def __init__(self, name: str | None, px: Proxy | None = None) -> None:
        self.name = name
        self.px = px


def _current(ctx: Any) -> Proxy | None:
    cur = getattr(ctx, "proxy", None)
    if isinstance(cur, Proxy) and not cur.is_defaults:
        return cur
    return None


def _proxy_validator(kind: str):  # noqa: ANN202
    def validate(args: list[Any], ctx: Any) -> list[Any]:
        name = args[0]
        if name is None:
            return [ProxyRef(None, _current(ctx))]
        ref = ProxyRef(name)

        def resolve(config: Any) -> None:
            ref.px = config.backend(name) if kind == "backend" else config.frontend(name)

        ctx.defer(resolve)
        return [ref]

    return validate


def _backend(ref: ProxyRef, strm: Any) -> Proxy | None:
    if ref.px is not None:
        return ref.px
    if ref.name is not None or strm is None:
        return None
    return strm.backend or strm.frontend


def _frontend(ref: ProxyRef, strm: Any) -> Proxy | None:
    if ref.px is not None:
        return ref.px
    if ref.name is not None or strm is None:
        return None
    return strm.frontend or strm.sess.frontend


def _nbsrv(args: list[Any], strm: Any) -> Sample | None:
    px = _backend(args[0], strm)
    return None if px is None else Sample(SmpType.SINT, usable_servers(px))


def _be_conn(args: list[Any], strm: Any) -> Sample | None:
    px = _backend(args[0], strm)
    return None if px is None else Sample(SmpType.SINT, proxy_state(px).cur_conn)


def _queue(args: list[Any], strm: Any) -> Sample | None:
    px = _backend(args[0], strm)
    return None if px is None else Sample(SmpType.SINT, total_queued(px))


def _avg_queue(args: list[Any], strm: Any) -> Sample | None:
    px = _backend(args[0], strm)
    if px is None:
        return None
    queued = total_queued(px)
    n = usable_servers(px)
    return Sample(SmpType.SINT, (queued + n - 1) // n if n else queued * 2)


def _connslots(args: list[Any], strm: Any) -> Sample | None:
    px = _backend(args[0], strm)
    if px is None:
        return None
    total = 0
    for srv in px.servers:
        st = server_state(srv)
        if not st.up:
            continue
        maxconn = getattr(srv, "maxconn", 0) or 0
        maxqueue = getattr(srv, "maxqueue", 0) or 0
        if not maxconn or not maxqueue:
            return Sample(SmpType.SINT, -1)
        total += (maxconn - st.cur_conn) + (maxqueue - st.queued)
    return Sample(SmpType.SINT, total)


def _fe_conn(args: list[Any], strm: Any) -> Sample | None:
    px = _frontend(args[0], strm)
    return None if px is None else Sample(SmpType.SINT, proxy_state(px).cur_conn)


def _act_conn(args: list[Any], strm: Any) -> Sample:
    proc = getattr(strm, "proc", None)
    return Sample(SmpType.SINT, proc.act_conn if proc is not None else 0)


class ServerRef:
    """A ``[<backend>/]<server>`` argument, resolved once the configuration is parsed."""

    __slots__ = ("text", "srv")

    def __init__(self, text: str) -> None:
        self.text = text
        self.srv: Any = None


def _validate_server(args: list[Any], ctx: Any) -> list[Any]:
    ref = ServerRef(args[0])
    be_name, _, srv_name = args[0].rpartition("/")
    current = _current(ctx)

    def resolve(config: Any) -> None:
        px = config.backend(be_name) if be_name else current
        ref.srv = px.server(srv_name) if px is not None else None

    ctx.defer(resolve)
    return [ref]


def _srv_is_up(args: list[Any], strm: Any) -> Sample | None:
    srv = args[0].srv
    if srv is None:
        return None
    return Sample(SmpType.BOOL, server_state(srv).up)


_BE = (Arg("backend", ArgType.BACKEND, optional=True),)
_FE = (Arg("frontend", ArgType.FRONTEND, optional=True),)
_be_validate = _proxy_validator("backend")
_fe_validate = _proxy_validator("frontend")

RECORDS = (
    Fetch("nbsrv", process=_nbsrv, out_type=SmpType.SINT, uses=Use.INTERNAL, args=_BE,
          validate=_be_validate,
          doc="nbsrv([<backend>])\n\nReturns the number of usable servers of the backend "
              "(the current one by default): the UP active servers, or else the UP backup "
              "servers (one unless 'option allbackups')."),
    Fetch("be_conn", process=_be_conn, out_type=SmpType.SINT, uses=Use.INTERNAL, args=_BE,
          validate=_be_validate,
          doc="be_conn([<backend>])\n\nReturns the number of connections currently "
              "established on the backend (the current one by default)."),
    Fetch("queue", process=_queue, out_type=SmpType.SINT, uses=Use.INTERNAL, args=_BE,
          validate=_be_validate,
          doc="queue([<backend>])\n\nReturns the number of queued requests of the backend, "
              "server queues included."),
    Fetch("avg_queue", process=_avg_queue, out_type=SmpType.SINT, uses=Use.INTERNAL,
          args=_BE, validate=_be_validate,
          doc="avg_queue([<backend>])\n\nReturns the backend's queued requests divided by "
              "its usable servers (rounded up), or twice the queue when none is usable."),
    Fetch("connslots", process=_connslots, out_type=SmpType.SINT, uses=Use.INTERNAL,
          args=_BE, validate=_be_validate,
          doc="connslots([<backend>])\n\nReturns the free connection and queue slots of the "
              "backend's UP servers; -1 when a server has no maxconn or maxqueue."),
    Fetch("fe_conn", process=_fe_conn, out_type=SmpType.SINT, uses=Use.INTERNAL, args=_FE,
          validate=_fe_validate,
          doc="fe_conn([<frontend>])\n\nReturns the number of connections currently "
              "established on the frontend (the current one by default)."),
    Fetch("act_conn", process=_act_conn, out_type=SmpType.SINT, uses=Use.INTERNAL,
          doc="act_conn\n\nReturns the number of connections active on the whole process."),
    Fetch("srv_is_up", process=_srv_is_up, out_type=SmpType.BOOL, uses=Use.INTERNAL,
          args=(Arg("server", ArgType.SERVER),), validate=_validate_server,
          doc="srv_is_up([<backend>/]<server>)\n\nReturns true when the server is UP, false "
              "when it is DOWN or in maintenance. Without <backend>, the server is looked up "
              "in the current backend."),
)
