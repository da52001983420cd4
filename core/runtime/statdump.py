"""Rendering the statistics registry: ``show stat`` (CSV, typed, json), ``show info`` (the
process fields) and the per-object views the field getters read.

The layouts follow HAProxy's: CSV starts with ``# pxname,svname,...`` and every line ends
with a comma; typed lines are ``<obj>.<iid>.<sid>.<pos>.<name>.<proc>:<tags>:<type>:<value>``
(info: ``<pos>.<name>.<proc>:...``); json is a list (per object) of lists of field objects.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

from ..net.listeners import listener_id
from ..stats import (
    NATURES,
    OBJ_NAMES,
    ORIGINS,
    SCOPES,
    InfoField,
    StatField,
    StatsRegistry,
    counters_of,
    stats_of,
)
from ..stream import ProxyState, ServerState
from ..version import HAPROXY_VERSION, HAPX_RELEASE_DATE, HAPX_VERSION

VERSION = f"{HAPROXY_VERSION} (hapx {HAPX_VERSION})"


def _proxy_state(px: Any) -> ProxyState:
    st = px.ext.get("state")
    if st is None:
        st = px.ext["state"] = ProxyState()
    return st


def _server_state(srv: Any) -> ServerState:
    st = getattr(srv, "live", None)
    if st is None:
        st = srv.live = ServerState()
    return st


@dataclass
class StatObject:
    """What field getters see of one row: the proxy, the server (server rows), the live
    state and counters, and derived values."""

    kind: str
    px: Any
    srv: Any
    ctx: Any
    #: the bind of a listener row (kind "L")
    bind: Any = None

    def __post_init__(self) -> None:
        if self.bind is not None:
            self.counters = counters_of(self.bind)
            self.live = _proxy_state(self.px)
        else:
            obj = self.srv if self.srv is not None else self.px
            self.counters = counters_of(obj)
            self.live = (_server_state(self.srv) if self.srv is not None
                         else _proxy_state(self.px))
        self.http = self.px.mode == "http"

    @property
    def svname(self) -> str:
        if self.kind == "F":
            return "FRONTEND"
        if self.kind == "B":
            return "BACKEND"
        if self.kind == "L":
            return self.bind.name or f"sock-{self.sid}"
        return self.srv.name

    @property
    def sid(self) -> int:
        if self.kind == "L":
            return listener_id(self.px, self.bind)
        return self.srv.id if self.srv is not None else 0

    @property
    def bind_conns(self) -> int:
        """Connections open on a listener row's bind."""
        return int(getattr(self.ctx.engine, "bind_conns", {}).get(id(self.bind), 0))

    @property
    def scur(self) -> int:
        if self.kind == "F":
            return self.live.cur_conn
        if self.kind == "L":
            return self.bind_conns
        return self.live.served

    @property
    def slim(self) -> int | None:
        if self.kind == "L":
            return self.bind.maxconn
        if self.kind == "F":
            return int(self.px.settings.get("maxconn") or self.ctx.maxconn)
        if self.kind == "B":
            full = self.px.settings.get("fullconn")
            if full:
                return int(full)
            total = sum(int(fe.settings.get("maxconn") or self.ctx.maxconn)
                        for fe in self.ctx.config.frontends
                        if _routes_to(fe, self.px))
            return (total + 9) // 10 if total else 1
        return self.srv.maxconn or None

    def _usable(self) -> list[Any]:
        return [s for s in self.px.servers if _server_state(s).up and s.up and s.uweight > 0]

    @property
    def status(self) -> str:
        if self.kind == "F":
            return "STOP" if self.ctx.stopping else "OPEN"
        if self.kind == "L":
            if self.bind.maxconn and self.bind_conns >= self.bind.maxconn:
                return "FULL"
            return "WAITING" if self.ctx.stopping else "OPEN"
        if self.kind == "B":
            # HAProxy: UP with usable servers, or with no server at all
            return "UP" if self._usable() or not self.px.servers else "DOWN"
        srv = self.srv
        # a server's state object (``srv.check_state``, kept by the plugin that owns
        # health and administrative states) knows the column best: MAINT, DRAIN, "UP 1/3"
        status_text = getattr(getattr(srv, "check_state", None), "status_text", None)
        if status_text is not None:
            return str(status_text())
        if srv.disabled or getattr(srv, "maint", False):
            return "MAINT"
        up = srv.up and _server_state(srv).up
        if not srv.check:
            return "no check" if up else "DOWN"
        if up and srv.uweight == 0:
            return "DRAIN"
        return "UP" if up else "DOWN"

    @property
    def weight(self) -> int:
        if self.kind == "S":
            return self.srv.uweight
        usable = self._usable()
        active = [s for s in usable if not s.backup]
        return sum(s.uweight for s in (active or usable))

    @property
    def uweight(self) -> int:
        if self.kind == "S":
            return self.srv.uweight
        return sum(s.uweight for s in self._usable() if not s.backup)

    @property
    def act(self) -> int:
        if self.kind == "S":
            return 0 if self.srv.backup else 1
        return sum(1 for s in self._usable() if not s.backup)

    @property
    def bck(self) -> int:
        if self.kind == "S":
            return 1 if self.srv.backup else 0
        return sum(1 for s in self._usable() if s.backup)

    @property
    def lastchg(self) -> int:
        since = getattr(self.srv if self.srv is not None else self.px, "last_change", None)
        return int(time.time() - (since or self.ctx.started))

    @property
    def addr(self) -> str | None:
        if self.bind is not None:
            return _bind_addr(self.bind)
        if self.srv is None:
            return None
        a = self.srv.address
        ip = getattr(a, "ip", None)
        port = a.port if getattr(a, "port", None) is not None else ""
        if ip is None:
            return None
        return f"[{ip}]:{port}" if a.family == "inet6" else f"{ip}:{port}"

    @property
    def cookie(self) -> str | None:
        return self.srv.opt("cookie") if self.srv is not None else None

    @property
    def algo(self) -> str:
        bal = self.px.settings.get("balance")
        if isinstance(bal, (list, tuple)):
            bal = bal[0] if bal else None
        name = getattr(bal, "name", None) or (bal if isinstance(bal, str) else None)
        return name or "roundrobin"

    @property
    def proto(self) -> str:
        return "tcp"


def _bind_addr(bind: Any) -> str:
    """A listener's address as HAProxy's stats show it: ip:port, [ipv6]:port, or the
    address as written for other families (unix sockets ...)."""
    a = bind.address
    ip = getattr(a, "ip", None)
    port = getattr(a, "port", None)
    if ip is not None and getattr(a, "family", "") in ("inet", "inet6"):
        return f"[{ip}]:{port}" if a.family == "inet6" else f"{ip}:{port}"
    return str(getattr(bind, "written", "") or a)


def _routes_to(fe: Any, be: Any) -> bool:
    if fe is be:
        return True
    default = fe.settings.get("default_backend")
    if getattr(default, "name", default) == be.name:
        return True
    return be.name in (getattr(fe, "used_backends", None) or ())


@dataclass
class StatsContext:
    """What a dump needs from the running process."""

    config: Any
    engine: Any
    started: float
    maxconn: int
    stopping: bool = False


def context(config: Any) -> StatsContext:
    from .engine import engine_of

    engine = engine_of(config)
    started = getattr(engine, "started", None) or time.time()
    maxconn = getattr(engine, "maxconn", 0) or int(config.global_.settings.get("maxconn")
                                                   or 0)
    return StatsContext(config, engine, started, maxconn,
                        bool(getattr(engine, "stopping", False)))


# -- rows ------------------------------------------------------------------------------------------

def rows(ctx: StatsContext, *, proxy: Any = None, types: int = -1, sid: int = -1,
         up_only: bool = False, no_maint: bool = False) -> list[StatObject]:
    """The objects of ``show stat``, in HAProxy's order: per proxy, the FRONTEND row, the
    listener rows (``option socket-stats``), the server rows, the BACKEND row.  ``types``
    is the 1/2/4/8 bitmask (8: listeners); ``sid`` one server."""
    out: list[StatObject] = []
    for px in ctx.config.proxies:
        if px.kind == "defaults" or (proxy is not None and px is not proxy):
            continue
        if px.is_frontend and types & 1 and px.binds:
            out.append(StatObject("F", px, None, ctx))
        if px.is_frontend and types & 8 and px.options.get("socket-stats"):
            out.extend(StatObject("L", px, None, ctx, bind) for bind in px.binds)
        if px.is_backend:
            if types & 4:
                for srv in px.servers:
                    if sid >= 0 and srv.id != sid:
                        continue
                    obj = StatObject("S", px, srv, ctx)
                    if up_only and obj.status not in ("UP", "no check"):
                        continue
                    if no_maint and obj.status.startswith("MAINT"):
                        continue
                    out.append(obj)
            if types & 2:
                out.append(StatObject("B", px, None, ctx))
    return out


def values(reg: StatsRegistry, obj: StatObject) -> list[tuple[int, StatField, Any]]:
    """(position, field, value) of every field; value None = empty cell."""
    out = []
    for pos, fld in enumerate(reg.all_fields()):
        val = None
        if obj.kind in fld.kinds and fld.get is not None:
            try:
                val = fld.get(obj.kind, obj)
            except Exception:  # noqa: BLE001 - one broken plugin field must not break dumps
                val = None
        out.append((pos, fld, val))
    return out


def _csv_cell(val: Any) -> str:
    if val is None:
        return ""
    text = str(val)
    if "," in text or '"' in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def header(reg: StatsRegistry) -> str:
    names = [f.name for f in reg.fields]
    if reg.extra:
        names += ["-"] + [f.name for f in reg.extra]
    return "# " + ",".join(names) + ",\n"


def dump_csv(reg: StatsRegistry, objs: list[StatObject], *, with_header: bool = True) -> str:
    out = [header(reg)] if with_header else []
    nkernel = len(reg.fields)
    for obj in objs:
        cells = [_csv_cell(v) for _p, _f, v in values(reg, obj)]
        if reg.extra:
            cells.insert(nkernel, "-")
        out.append(",".join(cells) + ",\n")
    return "".join(out)


def _typed_value(fld: StatField | InfoField, val: Any) -> str:
    if fld.type == "flt" and isinstance(val, float):
        return f"{val:f}"
    return str(val)


def dump_typed(reg: StatsRegistry, objs: list[StatObject], desc: bool = False) -> str:
    out = []
    for obj in objs:
        iid, sid = obj.px.uuid, obj.sid
        for pos, fld, val in values(reg, obj):
            if val is None:
                continue
            line = (f"{obj.kind}.{iid}.{sid}.{pos}.{fld.name}.1:{fld.tags}:{fld.type}:"
                    f"{_typed_value(fld, val)}")
            if desc:
                line += f":{fld.desc}"
            out.append(line + "\n")
    return "".join(out)


def _tags(tags: str) -> dict[str, str]:
    return {"origin": ORIGINS.get(tags[0], "Unknown"), "nature": NATURES.get(tags[1], "Unknown"),
            "scope": SCOPES.get(tags[2], "Unknown")}


def _json_value(fld: StatField | InfoField, val: Any) -> dict[str, Any]:
    if fld.type == "str":
        return {"type": "str", "value": str(val)}
    if fld.type == "flt":
        return {"type": "flt", "value": float(val)}
    return {"type": fld.type, "value": int(val)}


def dump_json(reg: StatsRegistry, objs: list[StatObject], desc: bool = False) -> str:
    out = []
    for obj in objs:
        row = []
        for pos, fld, val in values(reg, obj):
            if val is None:
                continue
            item: dict[str, Any] = {"objType": OBJ_NAMES[obj.kind], "proxyId": obj.px.uuid,
                                    "id": obj.sid, "field": {"pos": pos, "name": fld.name},
                                    "processNum": 1, "tags": _tags(fld.tags),
                                    "value": _json_value(fld, val)}
            if desc:
                item["desc"] = fld.desc
            row.append(item)
        out.append(row)
    return json.dumps(out, separators=(",", ":")) + "\n"


# -- show info -----------------------------------------------------------------------------------

def _uptime(ctx: StatsContext) -> str:
    up = int(time.time() - ctx.started)
    d, rest = divmod(up, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d {h}h{m:02d}m{s:02d}s"


def _mem_used() -> int:
    """Bytes allocated by Python's allocator (the closest thing to HAProxy's pools)."""
    try:
        return int(sys.getallocatedblocks() * 64)
    except AttributeError:  # pragma: no cover
        return 0


def _memmax(ctx: StatsContext) -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    return 0 if soft == resource.RLIM_INFINITY else soft


def _sum(ctx: StatsContext, attr: str) -> int:
    return sum(getattr(counters_of(fe), attr) for fe in ctx.config.frontends)


def _listeners(ctx: StatsContext) -> int:
    return ctx.config.listener_count()


def _proc(ctx: StatsContext) -> Any:
    return getattr(ctx.engine, "proc", None)


def _nbthread(ctx: StatsContext) -> int:
    return int(ctx.config.global_.settings.get("nbthread") or 1)


_INFO: list[tuple[str, str, str, str, Any]] = [
    ("Name", "POS", "str", "Product name", lambda c: "HAProxy"),
    ("Version", "POS", "str", "Product version", lambda c: VERSION),
    ("Release_date", "POS", "str", "Date of the product release", lambda c: HAPX_RELEASE_DATE),
    ("Nbthread", "CGS", "u32", "Number of started threads", _nbthread),
    ("Nbproc", "CGS", "u32", "Number of processes (always 1)", lambda c: 1),
    ("Process_num", "KGP", "u32", "Relative process number", lambda c: 1),
    ("Pid", "SGP", "u32", "This process's PID", lambda c: os.getpid()),
    ("Uptime", "MDP", "str", "How long ago the process was started", _uptime),
    ("Uptime_sec", "MDP", "u32", "Uptime in seconds",
     lambda c: int(time.time() - c.started)),
    ("Start_time_sec", "MDP", "u32", "Start time in seconds since the epoch",
     lambda c: int(c.started)),
    ("Memmax_MB", "CLP", "u32", "Memory limit (MB, 0: none)", lambda c: _memmax(c) >> 20),
    ("Memmax_bytes", "CLP", "u32", "Memory limit (bytes, 0: none)", _memmax),
    ("PoolAlloc_MB", "MGP", "u32", "Memory allocated by Python's allocator (MB)",
     lambda c: _mem_used() >> 20),
    ("PoolAlloc_bytes", "MGP", "u64", "Memory allocated by Python's allocator (bytes)",
     lambda c: _mem_used()),
    ("PoolUsed_MB", "MGP", "u32", "Memory in use (MB)", lambda c: _mem_used() >> 20),
    ("PoolUsed_bytes", "MGP", "u64", "Memory in use (bytes)", lambda c: _mem_used()),
    ("PoolFailed", "MCP", "u32", "Failed allocations", lambda c: 0),
    ("Ulimit-n", "CGP", "u32", "Maximum number of open files",
     lambda c: resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
    ("Maxsock", "CLP", "u32", "Maximum number of open sockets",
     lambda c: resource.getrlimit(resource.RLIMIT_NOFILE)[0]),
    ("Maxconn", "CLP", "u32", "Maximum number of concurrent connections", lambda c: c.maxconn),
    ("Hard_maxconn", "CLP", "u32", "Initial maxconn", lambda c: c.maxconn),
    ("CurrConns", "MGP", "u32", "Current connections",
     lambda c: getattr(_proc(c), "act_conn", 0)),
    ("CumConns", "MCP", "u32", "Total connections accepted", lambda c: _sum(c, "conn_tot")),
    ("CumReq", "MCP", "u32", "Total HTTP requests", lambda c: _sum(c, "req_tot")),
    ("MaxSslConns", "CLP", "u32", "Configured limit of SSL connections", lambda c: 0),
    ("CurrSslConns", "MGP", "u32", "Current SSL connections", lambda c: 0),
    ("CumSslConns", "MCP", "u32", "Total SSL connections", lambda c: 0),
    ("Maxpipes", "CLP", "u32", "Configured limit of pipes", lambda c: 0),
    ("PipesUsed", "MGP", "u32", "Pipes in use", lambda c: 0),
    ("PipesFree", "MGP", "u32", "Pipes unused", lambda c: 0),
    ("ConnRate", "MRP", "u32", "Connections per second",
     lambda c: sum(counters_of(fe).conn_rate.read() for fe in c.config.frontends)),
    ("ConnRateLimit", "CLP", "u32", "Configured limit of connections per second",
     lambda c: int(c.config.global_.settings.get("maxconnrate") or 0)),
    ("MaxConnRate", "MMP", "u32", "Highest connections per second",
     lambda c: max([counters_of(fe).conn_rate_max for fe in c.config.frontends] or [0])),
    ("SessRate", "MRP", "u32", "Sessions per second",
     lambda c: sum(counters_of(fe).sess_rate.read() for fe in c.config.frontends)),
    ("SessRateLimit", "CLP", "u32", "Configured limit of sessions per second",
     lambda c: int(c.config.global_.settings.get("maxsessrate") or 0)),
    ("MaxSessRate", "MMP", "u32", "Highest sessions per second",
     lambda c: max([counters_of(fe).rate_max for fe in c.config.frontends] or [0])),
    ("SslRate", "MRP", "u32", "SSL sessions per second", lambda c: 0),
    ("SslRateLimit", "CLP", "u32", "Configured limit of SSL sessions per second",
     lambda c: 0),
    ("MaxSslRate", "MMP", "u32", "Highest SSL sessions per second", lambda c: 0),
    ("SslFrontendKeyRate", "MRP", "u32", "SSL frontend key computations per second",
     lambda c: 0),
    ("SslFrontendMaxKeyRate", "MMP", "u32", "Highest SSL frontend key computations per "
     "second", lambda c: 0),
    ("SslFrontendSessionReuse_pct", "MRP", "u32", "SSL session reuse ratio (percent)",
     lambda c: 0),
    ("SslBackendKeyRate", "MRP", "u32", "SSL backend key computations per second",
     lambda c: 0),
    ("SslBackendMaxKeyRate", "MMP", "u32", "Highest SSL backend key computations per second",
     lambda c: 0),
    ("SslCacheLookups", "MCP", "u32", "SSL session cache lookups", lambda c: 0),
    ("SslCacheMisses", "MCP", "u32", "SSL session cache misses", lambda c: 0),
    ("CompressBpsIn", "MRP", "u32", "Bytes per second fed to compressors", lambda c: 0),
    ("CompressBpsOut", "MRP", "u32", "Bytes per second out of compressors", lambda c: 0),
    ("CompressBpsRateLim", "CLP", "u32", "Configured compression rate limit", lambda c: 0),
    ("ZlibMemUsage", "MGP", "u32", "Memory used by zlib", lambda c: 0),
    ("MaxZlibMemUsage", "CLP", "u32", "Configured zlib memory limit", lambda c: 0),
    ("Tasks", "MGP", "u32", "Tasks of the event loop",
     lambda c: _loop_tasks()),
    ("Run_queue", "MGP", "u32", "Callbacks ready to run", lambda c: _ready()),
    ("Idle_pct", "MaP", "u32", "Idle percentage (from the activity counters)",
     lambda c: _idle_pct()),
    ("node", "COS", "str", "Node name", lambda c: str(c.config.global_.settings.get("node")
                                                       or os.uname().nodename)),
    ("description", "COS", "str", "Node description",
     lambda c: str(c.config.global_.settings.get("description") or "")),
    ("Stopping", "SGP", "u32", "1 when the process is stopping", lambda c: int(c.stopping)),
    ("Jobs", "MGP", "u32", "Active jobs (listeners, connections)",
     lambda c: getattr(_proc(c), "act_conn", 0) + _listeners(c)),
    ("Unstoppable Jobs", "MGP", "u32", "Jobs that a soft stop does not end", lambda c: 0),
    ("Listeners", "MGP", "u32", "Listeners", _listeners),
    ("ActivePeers", "MGP", "u32", "Active peer connections", lambda c: 0),
    ("ConnectedPeers", "MGP", "u32", "Connected peers", lambda c: 0),
    ("DroppedLogs", "MCP", "u32", "Logs dropped", lambda c: 0),
    ("BusyPolling", "SGP", "u32", "1 when busy polling is on", lambda c: 0),
    ("FailedResolutions", "MCP", "u32", "Failed DNS resolutions", lambda c: 0),
    ("TotalBytesOut", "MCP", "u64", "Bytes sent to clients", lambda c: _sum(c, "bout")),
    ("TotalSplicedBytesOut", "MCP", "u64", "Bytes sent by splicing", lambda c: 0),
    ("BytesOutRate", "MRP", "u64", "Bytes sent per second", lambda c: 0),
    ("DebugCommandsIssued", "MCP", "u32", "Debug commands issued", lambda c: 0),
    ("CumRecvLogs", "MCP", "u64", "Log messages received by log-forward", lambda c: 0),
    ("Build info", "POS", "str", "Build information", lambda c: VERSION),
    ("Tainted", "SGP", "str", "Tainted flags", lambda c: "0"),
    ("TotalWarnings", "MCP", "u32", "Warnings emitted", lambda c: 0),
    ("MaxconnReached", "MCP", "u32", "Times maxconn was reached", lambda c: 0),
    ("BootTime_ms", "MDP", "u32", "Milliseconds from start to ready", lambda c: 0),
    ("Niced_tasks", "MGP", "u32", "Niced tasks", lambda c: 0),
    ("CurrStreams", "MGP", "u64", "Current streams", lambda c: _cur_streams()),
    ("CumStreams", "MCP", "u64", "Total streams",
     lambda c: sum(counters_of(fe).stot for fe in c.config.frontends)),
    ("BlockedTrafficWarnings", "MCP", "u32", "Warnings about blocked traffic", lambda c: 0),
]


def _loop_tasks() -> int:
    import asyncio

    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        return 0


def _ready() -> int:
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return 0
    return len(getattr(loop, "_ready", ()))


def _idle_pct() -> int:
    from . import activity

    return activity.idle_pct()


def _cur_streams() -> int:
    from . import live

    return len(live.STREAMS)


def register_info(reg: StatsRegistry) -> None:
    for name, tags, typ, desc, get in _INFO:
        reg.add(InfoField(name, tags, typ, desc, get))


def dump_info(config: Any, fmt: str = "", desc: bool = False) -> str:
    reg = stats_of(config)
    ctx = context(config)
    items = []
    for pos, fld in enumerate(reg.info):
        try:
            val = fld.get(ctx) if fld.get is not None else None
        except Exception:  # noqa: BLE001
            val = None
        items.append((pos, fld, val))
    if fmt == "json":
        out = []
        for pos, fld, val in items:
            if val is None:
                continue
            item: dict[str, Any] = {"field": {"pos": pos, "name": fld.name}, "processNum": 1,
                                    "tags": _tags(fld.tags), "value": _json_value(fld, val)}
            if desc:
                item["desc"] = fld.desc
            out.append(item)
        return json.dumps(out, separators=(",", ":")) + "\n"
    lines = []
    for pos, fld, val in items:
        if val is None:
            continue
        if fmt == "typed":
            line = f"{pos}.{fld.name}.1:{fld.tags}:{fld.type}:{_typed_value(fld, val)}"
            if desc:
                line += f":{fld.desc}"
        else:
            line = f"{fld.name}: {val}"
        lines.append(line + "\n")
    return "".join(lines)
