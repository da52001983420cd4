"""Runtime API commands about the process, its statistics and its streams: show info, show
stat, show env, show version, show activity, show pools, show sess, shutdown session,
clear counters."""

from __future__ import annotations

import gc
import ipaddress
import os
import sys
import time
from typing import Any

from hapx.core.runtime import activity, live
from hapx.core.runtime.cli_api import CliError, CliSession, cli_command
from hapx.core.runtime.statdump import (
    VERSION,
    context,
    dump_csv,
    dump_info,
    dump_json,
    dump_typed,
    rows,
)
from hapx.core.stats import clear_counters, counters_of, stats_of

# -- show info / show stat ---------------------------------------------------------------------

def _show_info(cli: CliSession, args: list[str]) -> str:
    fmt, desc = "", False
    for word in args[2:]:
        if word in ("typed", "json"):
            fmt = word
        elif word == "desc":
            desc = True
        elif word == "float":
            continue
        else:
            raise CliError("show info: unknown option '" + word + "'. Supported options: "
                           "desc, float, json, typed.")
    return dump_info(cli.config, fmt, desc)


def _show_stat(cli: CliSession, args: list[str]) -> str:
    words = args[2:]
    fmt, desc, up, no_maint = "", False, False, False
    proxy, types, sid = None, -1, -1
    if words[:1] == ["domain"]:
        if words[1:2] != ["proxy"]:
            raise CliError("Only 'proxy' domain is supported here.")
        words = words[2:]
    if words and words[0] not in ("typed", "json", "desc", "up", "no-maint"):
        if len(words) < 3:
            raise CliError("Usage: show stat [{<iid>|<proxy>} <type> <sid>] "
                           "[typed|json] [desc] [up|no-maint]")
        key, typ, srv = words[:3]
        words = words[3:]
        if key != "-1":
            proxy = _find_proxy(cli, key)
            if proxy is None:
                raise CliError("No such proxy.")
        try:
            types, sid = int(typ), int(srv)
        except ValueError:
            raise CliError("Invalid type or server id.") from None
    for word in words:
        if word in ("typed", "json"):
            fmt = word
        elif word == "desc":
            desc = True
        elif word == "up":
            up = True
        elif word == "no-maint":
            no_maint = True
    reg = stats_of(cli.config)
    objs = rows(context(cli.config), proxy=proxy, types=types, sid=sid, up_only=up,
                no_maint=no_maint)
    if fmt == "typed":
        return dump_typed(reg, objs, desc)
    if fmt == "json":
        return dump_json(reg, objs, desc)
    return dump_csv(reg, objs)


def _find_proxy(cli: CliSession, key: str) -> Any:
    if key.startswith("#"):
        key = key[1:]
    for px in cli.config.proxies:
        if px.kind == "defaults":
            continue
        if px.name == key or (key.isdigit() and px.uuid == int(key)):
            return px
    return None


def _clear_counters(cli: CliSession, args: list[str]) -> str:
    everything = args[2:3] == ["all"]
    if everything and not cli.has_level("admin"):
        raise CliError("Permission denied")
    for px in cli.config.proxies:
        clear_counters(px, everything)
        for srv in px.servers:
            clear_counters(srv, everything)
    return ""


# -- process -----------------------------------------------------------------------------------

def _show_env(cli: CliSession, args: list[str]) -> str:
    if len(args) > 2:
        name = args[2]
        if name not in os.environ:
            raise CliError("Variable not found\n")
        return f"{name}={os.environ[name]}\n"
    return "".join(f"{k}={v}\n" for k, v in os.environ.items())


def _show_version(cli: CliSession, args: list[str]) -> str:
    return VERSION + "\n"


def _show_activity(cli: CliSession, args: list[str]) -> str:
    """HAProxy's layout (``name: total [per thread]``) with the counters hapx keeps (the
    scheduler counters HAProxy has and hapx does not measure are left out)."""
    cfg = cli.config
    conns = sum(counters_of(fe).conn_tot for fe in cfg.frontends)
    streams = sum(counters_of(fe).stot for fe in cfg.frontends)
    reqs = sum(counters_of(fe).req_tot for fe in cfg.frontends)
    now = time.time()
    started = getattr(cli.runtime, "started", None) or activity.STARTED
    t = os.times()
    counts = gc.get_count()
    lines = [
        "thread_id: 1 (1..1)",
        f"date_now: {now:.6f}",
        f"uptime_now: {now - started:.6f}",
        f"accepted: {conns} [ {conns} ]",
        f"accq_pushed: {conns} [ {conns} ]",
        f"streams: {streams} [ {streams} ]",
        f"requests: {reqs} [ {reqs} ]",
        f"live_streams: {len(live.STREAMS)} [ {len(live.STREAMS)} ]",
        f"idle_pct: {activity.idle_pct()} [ {activity.idle_pct()} ]",
        f"cpu_user_s: {t.user:.3f}",
        f"cpu_sys_s: {t.system:.3f}",
        f"gc_pending: {counts[0]} {counts[1]} {counts[2]}",
    ]
    return "\n".join(lines) + "\n"


def _show_pools(cli: CliSession, args: list[str]) -> str:
    """Python's equivalent of HAProxy's pools: one "pool" per object type, with the number
    of live objects of that type tracked by the garbage collector and their shallow size
    (``sys.getsizeof``).  ``used`` equals ``allocated``: Python frees unused objects (there
    is no per-pool free list to report)."""
    order, limit, prefix = "bysize", 0, ""
    words = args[2:]
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("byname", "bysize", "byusage"):
            order = w
        elif w == "match" and i + 1 < len(words):
            prefix = words[i + 1]
            i += 1
        elif w == "detailed":
            pass
        elif w.isdigit():
            limit = int(w)
        i += 1
    pools: dict[str, list[int]] = {}
    for obj in gc.get_objects():
        name = type(obj).__name__
        if prefix and not name.startswith(prefix):
            continue
        entry = pools.setdefault(name, [0, 0])
        entry[0] += 1
        try:
            entry[1] += sys.getsizeof(obj)
        except TypeError:
            pass
    items = list(pools.items())
    if order == "byname":
        items.sort(key=lambda kv: kv[0])
    elif order == "byusage":
        items.sort(key=lambda kv: -kv[1][1])
    else:
        items.sort(key=lambda kv: -(kv[1][1] // max(kv[1][0], 1)))
    if limit:
        items = items[:limit]
    out = ["Dumping pools usage. Use SIGQUIT to flush them.\n"]
    total_bytes = 0
    for name, (count, size) in items:
        each = size // count if count else 0
        total_bytes += size
        out.append(f"  - Pool {name} ({each} bytes) : {count} allocated ({size} bytes), "
                   f"{count} used (~0 by thread caches), needed_avg {count}, 0 failures, "
                   f"1 users\n")
    out.append(f"Total: {len(items)} pools, {total_bytes} bytes allocated, {total_bytes} "
               f"used (~0 by thread caches).\n")
    return "".join(out)


# -- streams -----------------------------------------------------------------------------------

def _addr(ip: Any, port: int) -> str:
    if ip is None:
        return "unix:1"
    if isinstance(ip, ipaddress.IPv6Address):
        return f"[{ip}]:{port}"
    return f"{ip}:{port}"


def _proto(sess: Any) -> str:
    ip = sess.src
    if ip is None:
        return "unix_stream"
    return "tcpv6" if isinstance(ip, ipaddress.IPv6Address) else "tcpv4"


def _age(strm: Any) -> str:
    secs = int(time.time() - strm.sess.accept_date)
    if secs < 60:
        return f"{secs}s"
    m, s = divmod(secs, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m"


def _sess_line(ptr: int, owner: Any, show_uri: bool) -> str:
    strm = owner.strm
    sess = strm.sess
    fe = strm.frontend.name if strm.frontend is not None else "<NONE>"
    be = strm.backend.name if strm.backend is not None else "<NONE>"
    srv = strm.server.name if strm.server is not None else "<none>"
    line = (f"0x{ptr:x}: proto={_proto(sess)} src={_addr(sess.src, sess.src_port)} "
            f"fe={fe} be={be} srv={srv} ts=00 epoch=0 age={_age(strm)} calls=1 "
            f"rate=0 cpu=0 lat=0")
    if show_uri and strm.req is not None:
        line += f" uri={strm.req.uri}"
    return line + "\n"


def _sess_detail(ptr: int, owner: Any) -> str:
    strm = owner.strm
    sess = strm.sess
    fe = strm.frontend
    be = strm.backend
    srv = strm.server
    accepted = time.strftime("%d/%b/%Y:%H:%M:%S", time.localtime(sess.accept_date))
    srv_ptr = f"0x{id(srv):x}" if srv is not None else "(nil)"
    out = [f"0x{ptr:x}: [{accepted}] id={strm.uniq_id} proto={_proto(sess)} "
           f"source={_addr(sess.src, sess.src_port)}\n",
           f"  flags=0x0, conn_retries={strm.conn_retries}, conn_exp=<NEVER> "
           f"conn_et=0x000 srv_conn={srv_ptr}, "
           f"pend_pos=(nil) waiting=0 sigs=0\n",
           f"  frontend={fe.name if fe else '<NONE>'} "
           f"(id={fe.uuid if fe else 0} mode={fe.mode if fe else ''}), "
           f"listener=? (id=0) addr={_addr(sess.dst, sess.dst_port)}\n",
           f"  backend={be.name if be else '<NONE>'} "
           f"(id={be.uuid if be else -1} mode={be.mode if be else '-'})"]
    if strm.srv_conn is not None:
        sc = strm.srv_conn
        out.append(f" addr={_addr(sc.src, sc.src_port)}")
    out.append("\n")
    out.append(f"  server={srv.name if srv else '<NONE>'} (id={srv.id if srv else -1})")
    if strm.srv_conn is not None:
        sc = strm.srv_conn
        out.append(f" addr={_addr(sc.dst, sc.dst_port)}")
    out.append("\n")
    out.append(f"  task=0x{id(owner):x} (state=0x00 nice=0 calls=1 rate=0 exp=<NEVER> "
               f"tid=1(1/1) age={_age(strm)})\n")
    if strm.req is not None:
        out.append(f"  txn=0x{id(strm.req):x} flags=0x0 meth={strm.req.method} "
                   f"status={strm.status} req.uri={strm.req.uri}\n")
    out.append(f"  term_state={strm.term_state} bytes_in="
               f"{strm.counters.get('bytes_in', 0)} bytes_out="
               f"{strm.counters.get('bytes_out', 0)}\n")
    return "".join(out)


SESS_HELP = ("Usage: show sess [<id> | all | help] [<options>*]\n"
             "Dumps active streams (formerly called 'sessions'). Available selectors:\n"
             "   <id>      dump only this stream identifier (0x...)\n"
             "   all       dump all stream in large format\n"
             "   help      show this message\n"
             "   susp      report only entries which are suspicious\n"
             "   older <s> only display stream older than <s>\n"
             "   show-uri  also display the transaction URI, if available\n"
             "   frontend <f> only display streams attached to frontend <f>\n"
             "   backend <b>  only display streams attached to backend <b>\n"
             "   server <b/s> only display streams attached to server <s> of backend <b>\n"
             "Without any argument, all streams are dumped in a shorter format.")


def _parse_ptr(text: str) -> int | None:
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text, 16)
    except ValueError:
        return None


def _show_sess(cli: CliSession, args: list[str]) -> str:
    words = args[2:]
    detail, only, older, show_uri = False, None, -1, False
    fe_name = be_name = srv_name = None
    i = 0
    while i < len(words):
        w = words[i]
        if w == "help":
            raise CliError(SESS_HELP)
        if w == "all":
            detail = True
        elif w == "susp":
            pass
        elif w == "show-uri":
            show_uri = True
        elif w in ("older", "frontend", "backend", "server"):
            if i + 1 >= len(words):
                raise CliError(f"Missing argument after '{w}'.")
            val = words[i + 1]
            i += 1
            if w == "older":
                from hapx.plugins.confkit import v_time

                try:
                    older = int(v_time("s")(val)) // 1000
                except ValueError:
                    raise CliError("Invalid age argument.") from None
            elif w == "frontend":
                if cli.config.frontend(val) is None:
                    raise CliError(f"Unknown frontend '{val}'.")
                fe_name = val
            elif w == "backend":
                if cli.config.backend(val) is None:
                    raise CliError(f"Unknown backend '{val}'.")
                be_name = val
            else:
                if "/" not in val:
                    raise CliError("Require 'backend/server'.")
                be, _, sv = val.partition("/")
                bpx = cli.config.backend(be)
                if bpx is None or not any(s.name == sv for s in bpx.servers):
                    raise CliError("No such server.")
                be_name, srv_name = be, sv
        else:
            ptr = _parse_ptr(w)
            if ptr is None:
                raise CliError(SESS_HELP)
            only, detail = ptr, True
        i += 1
    out = []
    now = time.time()
    for ptr, owner in list(live.STREAMS.items()):
        strm = getattr(owner, "strm", None)
        if strm is None:
            continue
        if only is not None and ptr != only:
            continue
        if older >= 0 and now - strm.sess.accept_date < older:
            continue
        if fe_name is not None and (strm.frontend is None or strm.frontend.name != fe_name):
            continue
        if be_name is not None and (strm.backend is None or strm.backend.name != be_name):
            continue
        if srv_name is not None and (strm.server is None or strm.server.name != srv_name):
            continue
        out.append(_sess_detail(ptr, owner) if detail else _sess_line(ptr, owner, show_uri))
    if only is not None and not out:
        return "Session not found.\n"
    return "".join(out)


def _shutdown_session(cli: CliSession, args: list[str]) -> str:
    if len(args) < 3:
        raise CliError("Session pointer expected (use 'show sess').")
    ptr = _parse_ptr(args[2])
    owner = live.find(ptr) if ptr is not None else None
    if owner is None:
        raise CliError("No such session (use 'show sess').")
    owner.kill()
    return ""


def install(config: Any) -> None:
    """Nothing to install per configuration: the kernel accounts streams for statistics."""


COMMANDS = [
    cli_command(
        "show info [desc|json|typed|float]*", _show_info, level="user", explain=(
            "Report information about the running process. Key: value lines in HAProxy's order; "
            "typed and json forms carry each field's tags; desc adds descriptions.")),
    cli_command(
        "show stat [desc|json|no-maint|typed|up]*", _show_stat, level="user",
        synopsis=("show stat [domain proxy] [{<iid>|<proxy>} <type> <sid>] [typed|json] "
                  "[desc] [up|no-maint]"), explain=(
            "Report counters for each proxy and server. CSV with HAProxy's header and column "
            "order; type is a bitmask (1 frontends, 2 backends, 4 servers, -1 all).")),
    cli_command(
        "clear counters [all]", _clear_counters, level="operator", explain=(
            "Clear max statistics counters (or all counters). 'all' needs the admin level.")),
    cli_command(
        "show env [var]", _show_env, level="operator", explain=(
            "Dump environment variables known to the process.")),
    cli_command(
        "show version", _show_version, level="user", explain=(
            "Show version of the current process.")),
    cli_command(
        "show activity", _show_activity, level="user", explain=(
            "Show process activity counters (accepted connections, streams, requests, live "
            "streams, idle percentage, CPU time).")),
    cli_command(
        "show pools [byname|bysize|byusage] [detailed] [match <pfx>] [<nb>]", _show_pools,
        level="user", explain=(
            "Report information about the memory pools usage. In hapx a pool is a Python object "
            "type: the number of live objects the garbage collector tracks and their shallow size "
            "in bytes.")),
    cli_command(
        "show sess [help|<id>|all] [opts...]", _show_sess, level="operator",
        synopsis=("show sess [<id> | all | help] [older <age>] [susp] [show-uri] [frontend <f>] "
                  "[backend <b>] [server <b/s>]"), explain=(
            "Report the list of current streams or dump this exact stream. One line per stream, or "
            "the detailed form with all or an id.")),
    cli_command(
        "shutdown session [id]", _shutdown_session, level="admin",
        synopsis="shutdown session <id>", explain=(
            "Kill a specific stream (termination state K).")),
]
