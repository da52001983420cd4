"""The statistics registry: every statistic hapx reports, with its name, type, tags and
description, for each kind of object (frontend, backend, server, listener) and for the
process (``info``).  ``show stat``, ``show info`` (and later the stats page and Prometheus)
read it, so a field a plugin adds appears in every output without editing a list.

Plugins add fields in ``hapx_register_stats(stats)`` (a :class:`StatsRegistry`): extra
proxy fields follow HAProxy's ``-`` column, as its module counters do.

The per-object counters the data path accumulates live in :class:`Counters`, kept in
``proxy.ext["counters"]`` and ``server.counters``; they are fed by a ``stream_end`` observer
(:func:`account_stream`) and by the engine when it accepts a connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: object kinds: frontend, backend, server, listener
KINDS = ("F", "B", "S", "L")
#: HAProxy's ``type`` column values and typed-output letters
TYPE_NUM = {"F": 0, "B": 1, "S": 2, "L": 3}
OBJ_NAMES = {"F": "Frontend", "B": "Backend", "S": "Server", "L": "Listener"}
ORIGINS = {"M": "Metric", "S": "Status", "K": "Key", "C": "Config", "P": "Product",
           "U": "Unknown"}
NATURES = {"G": "Gauge", "L": "Limit", "M": "Max", "R": "Rate", "C": "Counter",
           "D": "Duration", "A": "Age", "T": "Time", "N": "Name", "O": "Output", "a": "Avg"}
SCOPES = {"P": "Process", "S": "Service", "s": "System", "C": "Cluster"}

Getter = Callable[[str, Any], Any]


@dataclass(frozen=True)
class StatField:
    """One statistic.  ``tags`` are HAProxy's three typed-output letters (origin, nature,
    scope), ``type`` one of u32, s32, u64, s64, flt, str; ``kinds`` the object kinds it
    applies to (others print an empty cell); ``get(kind, obj)`` its value (None: not known,
    printed empty)."""

    name: str
    tags: str
    type: str
    kinds: str
    desc: str
    get: Getter | None = None
    owner: str = "kernel"


@dataclass(frozen=True)
class InfoField:
    """One ``show info`` line: ``get(ctx)`` receives a :class:`StatsContext`."""

    name: str
    tags: str
    type: str
    desc: str
    get: Callable[[Any], Any] | None = None
    owner: str = "kernel"


class StatsRegistry:
    """The ordered fields of ``show stat`` (kernel ones, then extras) and ``show info``."""

    def __init__(self) -> None:
        self.fields: list[StatField] = []
        self.extra: list[StatField] = []
        self.info: list[InfoField] = []

    def add(self, fld: StatField | InfoField, *, extra: bool = True) -> None:
        """Add a field; ``extra`` proxy fields (module counters) go after the ``-`` column."""
        if isinstance(fld, InfoField):
            if any(f.name == fld.name for f in self.info):
                raise ValueError(f"info field '{fld.name}' registered twice")
            self.info.append(fld)
            return
        if any(f.name == fld.name for f in self.all_fields()):
            raise ValueError(f"stat field '{fld.name}' registered twice")
        (self.extra if extra else self.fields).append(fld)

    def all_fields(self) -> list[StatField]:
        return self.fields + self.extra

    def provide(self, name: str, get: Callable[[str, Any, Callable[[], Any]], Any],
                kinds: str) -> None:
        """Let a plugin compute an existing field for the object ``kinds`` it knows about
        (the health checks plugin gives servers their status and check columns).
        ``get(kind, obj, default)`` receives ``default()``, the value the field had before,
        to fall back on; the field keeps its name, position and tags."""
        for i, fld in enumerate(self.fields):
            if fld.name != name:
                continue
            prev = fld.get

            def merged(kind: str, obj: Any, _get: Any = get, _prev: Any = prev) -> Any:
                def default() -> Any:
                    return _prev(kind, obj) if _prev is not None else None
                if kind in kinds:
                    return _get(kind, obj, default)
                return default()
            self.fields[i] = StatField(fld.name, fld.tags, fld.type,
                                       "".join(sorted(set(fld.kinds) | set(kinds),
                                                      key="FBSL".index)),
                                       fld.desc, merged, fld.owner)
            return
        raise KeyError(f"no stat field '{name}' to provide")


# -- counters ----------------------------------------------------------------------------------

class FreqCtr:
    """Events per second over the last second, as HAProxy's freq_ctr: the previous
    period's count weighted by what remains of it, plus the current count."""

    __slots__ = ("curr", "prev", "start")

    def __init__(self) -> None:
        self.curr = self.prev = 0
        self.start = int(time.monotonic())

    def _rotate(self, now: float) -> None:
        sec = int(now)
        if sec != self.start:
            self.prev = self.curr if sec == self.start + 1 else 0
            self.curr = 0
            self.start = sec

    def add(self, n: int = 1) -> int:
        now = time.monotonic()
        self._rotate(now)
        self.curr += n
        return self.read(now)

    def read(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        self._rotate(now)
        frac = now - self.start
        return int(self.curr + self.prev * (1.0 - frac))


#: HAProxy averages times over this many last samples (TIME_STATS_SAMPLES)
TIME_SAMPLES = 512


@dataclass
class Counters:
    """Cumulated statistics of one frontend, backend, server or listener."""

    stot: int = 0
    bin: int = 0
    bout: int = 0
    dreq: int = 0
    dresp: int = 0
    ereq: int = 0
    econ: int = 0
    eresp: int = 0
    wretr: int = 0
    wredis: int = 0
    lbtot: int = 0
    req_tot: int = 0
    cli_abrt: int = 0
    srv_abrt: int = 0
    intercepted: int = 0
    dcon: int = 0
    dses: int = 0
    wrew: int = 0
    connect: int = 0
    reuse: int = 0
    eint: int = 0
    conn_tot: int = 0
    smax: int = 0
    qmax: int = 0
    hrsp: list[int] = field(default_factory=lambda: [0] * 6)
    last_sess: float = 0.0
    sess_rate: FreqCtr = field(default_factory=FreqCtr)
    req_rate: FreqCtr = field(default_factory=FreqCtr)
    conn_rate: FreqCtr = field(default_factory=FreqCtr)
    rate_max: int = 0
    req_rate_max: int = 0
    conn_rate_max: int = 0
    #: sliding sums of the queue, connect, response and total times, and their maxima
    tsum: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    tmax: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    samples: int = 0
    #: per-plugin counters (a plugin's extra stat fields read them)
    ext: dict[str, Any] = field(default_factory=dict)

    def add_times(self, times: tuple[int, int, int, int]) -> None:
        """HAProxy's swrate_add_dynamic over the last ``TIME_SAMPLES`` samples."""
        self.samples += 1
        n = min(self.samples, TIME_SAMPLES)
        for i, v in enumerate(times):
            if v < 0:
                v = 0
            s = self.tsum[i]
            self.tsum[i] = s - (s + n - 1) // n + v
            if v > self.tmax[i]:
                self.tmax[i] = v

    def avg(self, i: int) -> int:
        n = min(self.samples, TIME_SAMPLES)
        return (self.tsum[i] + n - 1) // n if n else 0

    def session(self) -> None:
        self.stot += 1
        self.last_sess = time.time()
        rate = self.sess_rate.add()
        if rate > self.rate_max:
            self.rate_max = rate


def counters_of(obj: Any) -> Counters:
    """The counters of a proxy (``ext["counters"]``) or a server (``counters``)."""
    ext = getattr(obj, "ext", None)
    if isinstance(ext, dict):
        c = ext.get("counters")
        if c is None:
            c = ext["counters"] = Counters()
        return c
    c = getattr(obj, "counters", None)
    if c is None:
        c = Counters()
        obj.counters = c
    return c


def clear_counters(obj: Any, everything: bool) -> None:
    """``clear counters``: the maxima only, or (``all``) every counter."""
    c = counters_of(obj)
    if everything:
        fresh = Counters()
        fresh.ext = c.ext
        for name in Counters.__dataclass_fields__:
            setattr(c, name, getattr(fresh, name))
        return
    c.smax = c.qmax = c.rate_max = c.req_rate_max = c.conn_rate_max = 0
    c.tmax = [0, 0, 0, 0]


def account_connection(frontend: Any, cur_conn: int) -> None:
    """The engine accepted a connection on ``frontend`` (``cur_conn`` now open)."""
    c = counters_of(frontend)
    c.conn_tot += 1
    c.session()
    if cur_conn > c.smax:
        c.smax = cur_conn
    rate = c.conn_rate.add()
    if rate > c.conn_rate_max:
        c.conn_rate_max = rate


def _status_class(status: int) -> int:
    if 100 <= status < 600:
        return status // 100 - 1
    return 5


def account_stream(strm: Any) -> None:
    """The ``stream_end`` observer: add a finished stream to its frontend's, backend's and
    server's counters."""
    fe, be, srv = strm.frontend, strm.backend, strm.server
    cnt = strm.counters
    bin_, bout = cnt.get("bytes_in", 0), cnt.get("bytes_out", 0)
    term = strm.term_state or "--"
    status = strm.status
    http = strm.req is not None
    t = strm.timers
    denied_conn = cnt.get("denied_conn", 0)
    denied_sess = cnt.get("denied_sess", 0)
    objs = []
    if fe is not None:
        f = counters_of(fe)
        objs.append(f)
        if denied_conn:
            # the engine counted the connection as a session: it never became one
            f.dcon += 1
            f.stot -= 1
        elif denied_sess:
            f.dses += 1
            f.stot -= 1
        if http:
            f.req_tot += 1
            rate = f.req_rate.add()
            if rate > f.req_rate_max:
                f.req_rate_max = rate
        if cnt.get("denied_req"):
            f.dreq += 1
        if cnt.get("intercepted_req"):
            f.intercepted += 1
        if term[1:2] == "R" and term[0] in "CP" and status == 400:
            f.ereq += 1
    for obj in (be, srv):
        if obj is None:
            continue
        c = counters_of(obj)
        objs.append(c)
        c.session()
        if srv is not None:
            c.lbtot += 1
        if http:
            c.req_tot += 1
        if term[0] == "C" and term[1] in "DH":
            c.cli_abrt += 1
        elif term[0] == "S":
            if term[1] == "C":
                c.econ += 1
            elif term[1] in "HD":
                c.eresp += 1
                if term[1] == "D":
                    c.srv_abrt += 1
        if strm.conn_retries:
            c.wretr += strm.conn_retries
        if strm.redispatched:
            c.wredis += 1
        if strm.srv_conn is not None:
            c.connect += 0 if strm.srv_conn.reused else 1
            c.reuse += 1 if strm.srv_conn.reused else 0
        if t.get("Tr", -1) >= 0 or not http:
            c.add_times((t.get("Tw", 0), t.get("Tc", 0), t.get("Tr", 0),
                         t.get("Tt", 0)))
    lst = strm.sess.listener
    if lst is not None and lst.stats is not None:
        # option socket-stats: the listener's row
        lc = lst.stats
        lc.bin += bin_
        lc.bout += bout
        if denied_conn:
            lc.dcon += 1
            lc.stot -= 1
        elif denied_sess:
            lc.dses += 1
            lc.stot -= 1
        if cnt.get("denied_req"):
            lc.dreq += 1
        if term[1:2] == "R" and term[0] in "CP" and status == 400:
            lc.ereq += 1
        if cnt.get("failed_rewrites"):
            lc.wrew += cnt["failed_rewrites"]
    for c in objs:
        c.bin += bin_
        c.bout += bout
        if http and status > 0:
            c.hrsp[_status_class(status)] += 1
        if cnt.get("failed_rewrites"):
            c.wrew += cnt["failed_rewrites"]


# -- the kernel's fields -------------------------------------------------------------------------

def _ctr(attr: str) -> Getter:
    return lambda kind, o: getattr(o.counters, attr)


def _ext_ctr(name: str) -> Getter:
    """A counter a plugin keeps in ``Counters.ext`` (0 until it counts one)."""
    return lambda kind, o: o.counters.ext.get(name, 0)


def _hrsp(i: int) -> Getter:
    return lambda kind, o: o.counters.hrsp[i] if o.http else 0


def _time_avg(i: int) -> Getter:
    return lambda kind, o: o.counters.avg(i)


def _time_max(i: int) -> Getter:
    return lambda kind, o: o.counters.tmax[i]


def _lastsess(kind: str, o: Any) -> int:
    last = o.counters.last_sess
    return int(time.time() - last) if last else -1


#: the kernel's columns, in HAProxy 3.2's order: name, tags, type, kinds, description, getter
#: (getters receive a StatObject; None = not known by hapx, an empty cell)
_KERNEL: list[tuple[str, str, str, str, str, Getter | None]] = [
    ("pxname", "KNS", "str", "FBSL", "Proxy name", lambda k, o: o.px.name),
    ("svname", "KNS", "str", "FBSL", "Service name (FRONTEND, BACKEND, server or listener "
     "name)", lambda k, o: o.svname),
    ("qcur", "MGP", "u32", "BS", "Number of streams waiting in the queue",
     lambda k, o: o.live.queued),
    ("qmax", "MMP", "u32", "BS", "Highest queue length seen",
     lambda k, o: max(o.counters.qmax, o.live.queued)),
    ("scur", "MGP", "u32", "FBSL", "Current number of streams or connections",
     lambda k, o: o.scur),
    ("smax", "MMP", "u32", "FBSL", "Highest number of concurrent streams or connections",
     lambda k, o: max(o.counters.smax, o.scur)),
    ("slim", "CLP", "u32", "FBSL", "Configured limit of concurrent sessions",
     lambda k, o: o.slim),
    ("stot", "MCP", "u64", "FBSL", "Total sessions (frontend) or streams (backend, server)",
     _ctr("stot")),
    ("bin", "MCP", "u64", "FBSL", "Bytes received from clients", _ctr("bin")),
    ("bout", "MCP", "u64", "FBSL", "Bytes sent to clients", _ctr("bout")),
    ("dreq", "MCP", "u64", "FBL", "Requests denied by rules", _ctr("dreq")),
    ("dresp", "MCP", "u64", "FBSL", "Responses denied by rules", _ctr("dresp")),
    ("ereq", "MCP", "u64", "FL", "Invalid requests", _ctr("ereq")),
    ("econ", "MCP", "u64", "BS", "Failed connection attempts to servers", _ctr("econ")),
    ("eresp", "MCP", "u64", "BS", "Invalid or aborted responses", _ctr("eresp")),
    ("wretr", "MCP", "u64", "BS", "Connection retries", _ctr("wretr")),
    ("wredis", "MCP", "u64", "BS", "Redispatches to another server", _ctr("wredis")),
    ("status", "SGP", "str", "FBSL", "Status (OPEN/STOP, UP/DOWN, no check ...)",
     lambda k, o: o.status),
    ("weight", "MaP", "u32", "BS", "Effective weight (sum of active servers for a backend)",
     lambda k, o: o.weight),
    ("act", "SGP", "u32", "BS", "Active servers (server: 1 if active)", lambda k, o: o.act),
    ("bck", "SGP", "u32", "BS", "Backup servers (server: 1 if backup)", lambda k, o: o.bck),
    ("chkfail", "MCP", "u64", "S", "Failed health checks", None),
    ("chkdown", "MCP", "u64", "BS", "UP to DOWN transitions",
     lambda k, o: 0 if k == "B" else None),
    ("lastchg", "MAP", "u32", "BS", "Seconds since the last UP/DOWN transition",
     lambda k, o: o.lastchg),
    ("downtime", "MCP", "u32", "BS", "Total seconds spent DOWN",
     lambda k, o: 0 if k == "B" else None),
    ("qlimit", "CLP", "u32", "S", "Configured maxqueue of the server",
     lambda k, o: o.srv.maxqueue or None),
    ("pid", "KGP", "u32", "FBSL", "Relative process number (1)", lambda k, o: 1),
    ("iid", "KGS", "u32", "FBSL", "Proxy ID", lambda k, o: o.px.uuid),
    ("sid", "KGS", "u32", "FBSL", "Server or listener ID (0 for frontends and backends)",
     lambda k, o: o.sid),
    ("throttle", "MGP", "u32", "S", "Current throttle percentage (slowstart)", None),
    ("lbtot", "MCP", "u64", "BS", "Times the server was chosen by load balancing",
     _ctr("lbtot")),
    ("tracked", "CGS", "str", "S", "Server whose checks this one tracks", None),
    ("type", "CGS", "u32", "FBSL", "Object type (0 frontend, 1 backend, 2 server, 3 "
     "listener)", lambda k, o: TYPE_NUM[k]),
    ("rate", "MRP", "u32", "FBS", "Sessions per second over the last second",
     lambda k, o: o.counters.sess_rate.read()),
    ("rate_lim", "CLP", "u32", "F", "Configured limit of new sessions per second",
     lambda k, o: int(o.px.settings.get("rate-limit sessions") or 0)),
    ("rate_max", "MMP", "u32", "FBS", "Highest sessions per second", _ctr("rate_max")),
    ("check_status", "SGP", "str", "S", "Status of the last health check", None),
    ("check_code", "MGP", "u32", "S", "Layer 5-7 code of the last health check", None),
    ("check_duration", "MDP", "u64", "S", "Duration of the last health check (ms)", None),
    ("hrsp_1xx", "MCP", "u64", "FBS", "HTTP responses with a 1xx code", _hrsp(0)),
    ("hrsp_2xx", "MCP", "u64", "FBS", "HTTP responses with a 2xx code", _hrsp(1)),
    ("hrsp_3xx", "MCP", "u64", "FBS", "HTTP responses with a 3xx code", _hrsp(2)),
    ("hrsp_4xx", "MCP", "u64", "FBS", "HTTP responses with a 4xx code", _hrsp(3)),
    ("hrsp_5xx", "MCP", "u64", "FBS", "HTTP responses with a 5xx code", _hrsp(4)),
    ("hrsp_other", "MCP", "u64", "FBS", "HTTP responses with another code", _hrsp(5)),
    ("hanafail", "MCP", "u64", "S", "Failed health checks details", None),
    ("req_rate", "MRP", "u32", "F", "HTTP requests per second over the last second",
     lambda k, o: o.counters.req_rate.read()),
    ("req_rate_max", "MMP", "u32", "F", "Highest HTTP requests per second",
     _ctr("req_rate_max")),
    ("req_tot", "MCP", "u64", "FBS", "Total HTTP requests",
     lambda k, o: o.counters.req_tot if o.http or k == "S" else 0),
    ("cli_abrt", "MCP", "u64", "BS", "Transfers aborted by the client", _ctr("cli_abrt")),
    ("srv_abrt", "MCP", "u64", "BS", "Transfers aborted by the server", _ctr("srv_abrt")),
    ("comp_in", "MCP", "u64", "FB", "Bytes fed to the compressor", None),
    ("comp_out", "MCP", "u64", "FB", "Bytes produced by the compressor", None),
    ("comp_byp", "MCP", "u64", "FB", "Bytes that bypassed the compressor", None),
    ("comp_rsp", "MCP", "u64", "FB", "Responses compressed", None),
    ("lastsess", "MAP", "s32", "BS", "Seconds since the last stream (-1: never)", _lastsess),
    ("last_chk", "SGP", "str", "S", "Details of the last health check", None),
    ("last_agt", "SGP", "str", "S", "Details of the last agent check", None),
    ("qtime", "MaP", "u32", "BS", "Average queue time (ms) of the last 1024 streams",
     _time_avg(0)),
    ("ctime", "MaP", "u32", "BS", "Average connect time (ms)", _time_avg(1)),
    ("rtime", "MaP", "u32", "BS", "Average response time (ms)", _time_avg(2)),
    ("ttime", "MaP", "u32", "BS", "Average total stream time (ms)", _time_avg(3)),
    ("agent_status", "SGP", "str", "S", "Status of the last agent check", None),
    ("agent_code", "MGP", "u32", "S", "Code of the last agent check", None),
    ("agent_duration", "MDP", "u64", "S", "Duration of the last agent check (ms)", None),
    ("check_desc", "SGP", "str", "S", "Description of the last check status", None),
    ("agent_desc", "SGP", "str", "S", "Description of the last agent status", None),
    ("check_rise", "CGS", "u32", "S", "Check rise parameter", None),
    ("check_fall", "CGS", "u32", "S", "Check fall parameter", None),
    ("check_health", "SGP", "u32", "S", "Current check health", None),
    ("agent_rise", "MaP", "u32", "S", "Agent rise parameter", None),
    ("agent_fall", "MaP", "u32", "S", "Agent fall parameter", None),
    ("agent_health", "SGP", "u32", "S", "Current agent health", None),
    ("addr", "CGS", "str", "SL", "Address (ip:port, IPv6 in brackets)",
     lambda k, o: o.addr),
    ("cookie", "CGS", "str", "BS", "Persistence cookie value",
     lambda k, o: o.cookie),
    ("mode", "CGS", "str", "FBSL", "Proxy mode (tcp, http, health)",
     lambda k, o: o.px.mode),
    ("algo", "CGS", "str", "B", "Load-balancing algorithm",
     lambda k, o: o.algo),
    ("conn_rate", "MRP", "u32", "F", "Connections per second over the last second",
     lambda k, o: o.counters.conn_rate.read()),
    ("conn_rate_max", "MMP", "u32", "F", "Highest connections per second",
     _ctr("conn_rate_max")),
    ("conn_tot", "MCP", "u64", "F", "Total connections", _ctr("conn_tot")),
    ("intercepted", "MCP", "u64", "F", "Requests intercepted (stats, services, redirects)",
     _ctr("intercepted")),
    ("dcon", "MCP", "u64", "FL", "Connections denied by tcp-request connection rules",
     _ctr("dcon")),
    ("dses", "MCP", "u64", "FL", "Sessions denied by tcp-request session rules",
     _ctr("dses")),
    ("wrew", "MCP", "u64", "FBSL", "Failed header rewrites", _ctr("wrew")),
    ("connect", "MCP", "u64", "BS", "Connection establishment attempts", _ctr("connect")),
    ("reuse", "MCP", "u64", "BS", "Connection reuses", _ctr("reuse")),
    ("cache_lookups", "MCP", "u64", "FB", "Cache lookups", _ext_ctr("cache_lookups")),
    ("cache_hits", "MCP", "u64", "FB", "Cache hits", _ext_ctr("cache_hits")),
    ("srv_icur", "MGP", "u32", "S", "Idle connections available for reuse", None),
    ("src_ilim", "MGP", "u32", "S", "Limit of idle connections", None),
    ("qtime_max", "MMP", "u32", "BS", "Highest queue time (ms)", _time_max(0)),
    ("ctime_max", "MMP", "u32", "BS", "Highest connect time (ms)", _time_max(1)),
    ("rtime_max", "MMP", "u32", "BS", "Highest response time (ms)", _time_max(2)),
    ("ttime_max", "MMP", "u32", "BS", "Highest total stream time (ms)", _time_max(3)),
    ("eint", "MCP", "u64", "FBSL", "Internal errors", _ctr("eint")),
    ("idle_conn_cur", "MGP", "u32", "S", "Unsafe idle connections", None),
    ("safe_conn_cur", "MGP", "u32", "S", "Safe idle connections", None),
    ("used_conn_cur", "MGP", "u32", "S", "Connections in use", None),
    ("need_conn_est", "MGP", "u32", "S", "Estimated connections needed", None),
    ("uweight", "MaP", "u32", "BS", "Server's user weight (backend: sum)",
     lambda k, o: o.uweight),
    ("agg_server_status", "MGP", "u32", "B", "Servers per status (aggregated)",
     None),
    ("agg_server_check_status", "MGP", "u32", "B", "Deprecated aggregated check status",
     None),
    ("agg_check_status", "MGP", "u32", "B", "Servers per check status (aggregated)", None),
    ("srid", "KGS", "u32", "S", "Server revision ID (dynamic servers)", lambda k, o: 0),
    ("sess_other", "MCP", "u64", "F", "Sessions of another protocol than HTTP",
     lambda k, o: 0 if o.http else o.counters.stot),
    ("h1sess", "MCP", "u64", "F", "HTTP/1 sessions",
     lambda k, o: o.counters.stot if o.http else 0),
    ("h2sess", "MCP", "u64", "F", "HTTP/2 sessions", lambda k, o: 0),
    ("h3sess", "MCP", "u64", "F", "HTTP/3 sessions", lambda k, o: 0),
    ("req_other", "MCP", "u64", "F", "Requests of another HTTP version",
     lambda k, o: 0),
    ("h1req", "MCP", "u64", "F", "HTTP/1 requests",
     lambda k, o: o.counters.req_tot if o.http else 0),
    ("h2req", "MCP", "u64", "F", "HTTP/2 requests", lambda k, o: 0),
    ("h3req", "MCP", "u64", "F", "HTTP/3 requests", lambda k, o: 0),
    ("proto", "CGS", "str", "L", "Protocol of the listener", lambda k, o: o.proto),
]


def kernel_registry() -> StatsRegistry:
    reg = StatsRegistry()
    for name, tags, typ, kinds, desc, get in _KERNEL:
        reg.add(StatField(name, tags, typ, kinds, desc, get), extra=False)
    return reg


def stats_of(config: Any) -> StatsRegistry:
    """The configuration's statistics registry: the kernel's fields, the info fields of
    :mod:`hapx.core.runtime.info`, then what plugins add in ``hapx_register_stats``."""
    reg = config.ext.get("stats")
    if reg is None:
        reg = config.ext["stats"] = kernel_registry()
        from .runtime.statdump import register_info

        register_info(reg)
        plugins = getattr(config, "plugins", None)
        pm = getattr(plugins, "pm", None)
        if pm is not None:
            pm.hook.hapx_register_stats(stats=reg)
    return reg
