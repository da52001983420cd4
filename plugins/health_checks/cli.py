"""Runtime API commands over servers and their states: set server (state, weight, addr,
health, agent, check-port), set weight, get weight, set maxconn server, enable/disable
server|health|agent, show servers state, show backend, add server, del server and
``wait <delay> [srv-removable <b>/<s>]``, with HAProxy's syntax, levels and messages.

Every state change goes through :func:`~.state.set_server_state` (which logs HAProxy's
line and tells the backend's picker); weights through the picker's ``set_weight``.
Dynamic servers (``add server``) are created in forced maintenance, as in HAProxy; the
backend's picker is rebuilt with the new server list (its algorithm must be dynamic).
"""

from __future__ import annotations

import functools
import ipaddress
import time
from typing import Any

import anyio
from hapx.core.config.address import AddressError, Ports, parse_address
from hapx.core.runtime.backend import picker_for, server_state, servers_changed
from hapx.core.runtime.cli_api import CliError, CliSession, cli_command
from hapx.plugins.servers import SERVER_OPTIONS, Server

from .agent import allows_up, build_agent_plan, check_allows_up, init_agent
from .manager import EXT
from .plan import build_plan
from .state import health_of, set_server_state, still_draining
from .status import result_of

#: the reason of state changes forced with the runtime API
BY_CLI = "changed from CLI"

UPDATER = "stats socket command"
SET_SERVER_USAGE = ("usage: set server <backend>/<server> addr | agent | agent-addr | "
                    "agent-port | agent-send | check-addr | check-port | fqdn | health | "
                    "ssl | state | weight")
#: HAProxy's enum healthcheck_status numbers (show servers state)
CHECK_STATUS_NUM = {"UNK": 0, "INI": 1, "HANA": 4, "SOCKERR": 5, "L4OK": 6, "L4TOUT": 7,
                    "L4CON": 8, "L6OK": 9, "L6TOUT": 10, "L6RSP": 11, "L7TOUT": 12,
                    "L7RSP": 13, "L7OK": 15, "L7OKC": 16, "L7STS": 17, "PROCERR": 18,
                    "PROCTOUT": 19, "PROCOK": 20}
CHECK_RESULT_NUM = {"neutral": 1, "failed": 2, "passed": 3, "condpass": 4}
OP_STATE_NUM = {"DOWN": 0, "STARTING": 1, "UP": 2, "STOPPING": 3}
#: the server keywords HAProxy accepts on "add server" (those hapx knows)
DYNAMIC_KEYWORDS = frozenset({
    "addr", "agent-addr", "agent-check", "agent-inter", "agent-port", "agent-send",
    "allow-0rtt", "alpn", "backup", "ca-file", "check", "check-alpn", "check-proto",
    "check-reuse-pool", "check-send-proxy", "check-sni", "check-ssl", "check-via-socks4",
    "ciphers", "ciphersuites", "crl-file", "crt", "disabled", "downinter", "enabled",
    "error-limit", "fall", "fastinter", "force-sslv3", "force-tlsv10", "force-tlsv11",
    "force-tlsv12", "force-tlsv13", "guid", "hash-key", "id", "idle-ping", "init-state",
    "inter", "log-bufsize", "maxconn", "maxqueue", "minconn", "no-check",
    "no-check-reuse-pool", "no-send-proxy", "no-send-proxy-v2", "no-ssl", "no-ssl-reuse",
    "no-sslv3", "no-tls-tickets", "no-tlsv10", "no-tlsv11", "no-tlsv12", "no-tlsv13",
    "npn", "observe", "on-error", "on-marked-down", "on-marked-up", "pool-conn-name",
    "pool-low-conn", "pool-max-conn", "pool-purge-delay", "port", "proto",
    "proxy-v2-options", "rise", "send-proxy", "send-proxy-v2", "send-proxy-v2-ssl",
    "send-proxy-v2-ssl-cn", "set-proxy-v2-tlv-fmt", "shard", "slowstart", "sni", "source",
    "ssl", "ssl-max-ver", "ssl-min-ver", "strict-maxconn", "tfo", "tls-tickets", "track",
    "usesrc", "verify", "verifyhost", "weight", "ws",
})


# -- finding servers ---------------------------------------------------------------------------

def find_server(cli: CliSession, text: str) -> tuple[Any, Any]:
    """``<backend>/<server>``: (backend, server), or HAProxy's error."""
    be_name, sep, sv_name = text.partition("/")
    if not sep or not sv_name:
        raise CliError("Require 'backend/server'.")
    backend = cli.config.backend(be_name)
    if backend is None:
        raise CliError("No such backend.")
    srv = backend.server(sv_name)
    if srv is None:
        raise CliError("No such server.")
    return backend, srv


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


# -- weights -----------------------------------------------------------------------------------

def parse_weight(backend: Any, srv: Any, text: str) -> int:
    """HAProxy's ``server_parse_weight_change_request``: the new user weight."""
    if not text:
        raise CliError("Require <weight> or <weight%>.")
    digits = len(text) - len(text.lstrip("0123456789"))
    if digits == 0:
        # HAProxy's message has no line feed
        raise _Bare("Empty weight string empty or preceded by garbage")
    w = int(text[:digits])
    rest = text[digits:]
    if rest == "%":
        if w > 100:
            raise CliError("Relative weight can only be set between 0 and 100% inclusive.")
        w = srv.weight * w // 100
    elif rest:
        raise CliError("Trailing garbage in weight string")
    elif w > 256:
        raise CliError("Absolute weight can only be between 0 and 256 inclusive.")
    picker = picker_for(backend)
    if not getattr(picker, "dynamic", True) and w not in (0, srv.weight):
        raise CliError("Backend is using a static LB algorithm and only accepts weights "
                       "'0%' and '100%'.")
    return w


class _Bare(CliError):
    """A reply printed as is (HAProxy replies a few messages without a line feed)."""


def bare_ok(handler: Any) -> Any:
    """Let ``handler`` raise :class:`_Bare` for a reply without a line feed."""
    @functools.wraps(handler)
    def run(cli: CliSession, args: list[str]) -> str:
        try:
            return handler(cli, args)
        except _Bare as exc:
            return str(exc)
    return run


def apply_weight(backend: Any, srv: Any, w: int) -> None:
    set_weight = getattr(picker_for(backend), "set_weight", None)
    if set_weight is not None:
        set_weight(srv, w)
    srv.uweight = w
    still_draining(srv)


def _set_weight_words(cli: CliSession, target: str, text: str) -> str:
    backend, srv = find_server(cli, target)
    apply_weight(backend, srv, parse_weight(backend, srv, text))
    return ""


def _set_weight(cli: CliSession, args: list[str]) -> str:
    return _set_weight_words(cli, _arg(args, 2), _arg(args, 3))


def _get_weight(cli: CliSession, args: list[str]) -> str:
    _backend, srv = find_server(cli, _arg(args, 2))
    return f"{srv.uweight} (initial {srv.weight})\n"


# -- states --------------------------------------------------------------------------------------

def set_ready(srv: Any) -> None:
    set_server_state(srv, del_admin="DRAIN")
    leave_maint(srv)


def leave_maint(srv: Any, add_admin: str | None = None) -> None:
    """Clear MAINT (setting ``add_admin``).  A checked server starts UP with the health
    counter at ``rise`` ("start OK but check immediately", as HAProxy does: its check,
    which ran every ``inter`` during maintenance, comes within ``inter``)."""
    st = health_of(srv)
    if "MAINT" in st.admin and st.check.enabled and st.check.configured:
        st.check.health = st.check.rise
        set_server_state(srv, op="UP", add_admin=add_admin, del_admin="MAINT")
    else:
        set_server_state(srv, add_admin=add_admin, del_admin="MAINT")


def set_drain(srv: Any) -> None:
    leave_maint(srv, add_admin="DRAIN")


def set_maint(srv: Any) -> None:
    set_server_state(srv, add_admin="MAINT", del_admin="DRAIN")


def _set_health(srv: Any, word: str) -> None:
    st = health_of(srv)
    if word == "up":
        st.check.health = st.check.rise
        if allows_up(st):
            set_server_state(srv, op="UP", why=BY_CLI)
    elif word == "stopping":
        set_server_state(srv, op="STOPPING", why=BY_CLI)
    elif word == "down":
        st.check.health = 0
        set_server_state(srv, op="DOWN", why=BY_CLI)
    else:
        raise CliError("'set server <srv> health' expects 'up', 'stopping', or 'down'.")


def _set_agent(srv: Any, word: str) -> None:
    st = health_of(srv)
    if not st.agent.enabled:
        raise CliError("agent checks are not enabled on this server.")
    if word == "up":
        st.agent.health = st.agent.rise + st.agent.fall - 1
        if check_allows_up(st):
            set_server_state(srv, op="UP", why=BY_CLI)
    elif word == "down":
        st.agent.health = 0
        set_server_state(srv, op="DOWN", why=BY_CLI)
    else:
        raise CliError("'set server <srv> agent' expects 'up' or 'down'.")


def _set_addr(srv: Any, words: list[str]) -> str:
    if not words:
        raise CliError("set server <b>/<s> addr requires an address and optionally a "
                       "port.")
    ip_text = words[0]
    port: int | None = None
    if len(words) >= 3 and words[1] == "port":
        if not words[2].isdigit() or not 0 < int(words[2]) < 65536:
            raise CliError(f"Invalid port '{words[2]}' by '{UPDATER}'")
        port = int(words[2])
    old = srv.address
    try:
        new_ip = ipaddress.ip_address(ip_text)
    except ValueError:
        return f"Invalid addr '{ip_text}' by '{UPDATER}'\n"
    new_port = port if port is not None else old.port
    msgs = []
    if old.ip != new_ip:
        msgs.append(f"IP changed from '{old.ip if old.ip is not None else old.host}' to "
                    f"'{new_ip}'")
    if port is not None and port != old.port:
        msgs.append(f"port changed from '{old.port}' to '{port}'")
    if not msgs:
        return f"no need to change the addr by '{UPDATER}'\n"
    host = f"[{new_ip}]" if new_ip.version == 6 else str(new_ip)
    text = f"{host}:{new_port}" if new_port else host
    srv.address = parse_address(text, ports=Ports.OPTIONAL)
    return ", ".join(msgs) + f" by '{UPDATER}'\n"


def _set_check_port(cli: CliSession, srv: Any, words: list[str]) -> str:
    st = health_of(srv)
    if not st.check.enabled and not getattr(st.check, "configured", False):
        raise _Bare("health checks are not enabled on this server")
    if not words or not words[0].isdigit():
        raise CliError("'set server <srv> check-port' expects an integer as argument.")
    port = int(words[0])
    if port > 65535:
        raise CliError("provided port is not valid.")
    srv.options["port"] = port
    manager = cli.config.ext.get(EXT)
    if manager is not None:
        for _s, plan in manager.plans:
            if _s is srv and plan.target[0] == "inet":
                plan.target = ("inet", (plan.target[1][0], port or srv.address.port))
    return ""


def _set_server(cli: CliSession, args: list[str]) -> str:
    backend, srv = find_server(cli, _arg(args, 2))
    sub = _arg(args, 3)
    rest = args[4:]
    if sub == "state":
        word = _arg(args, 4)
        if word == "ready":
            set_ready(srv)
        elif word == "drain":
            set_drain(srv)
        elif word == "maint":
            set_maint(srv)
        else:
            raise CliError("'set server <srv> state' expects 'ready', 'drain' and 'maint'.")
        return ""
    if sub == "weight":
        apply_weight(backend, srv, parse_weight(backend, srv, _arg(args, 4)))
        return ""
    if sub == "health":
        if srv.opt("track"):
            raise CliError("cannot change health on a tracking server.")
        _set_health(srv, _arg(args, 4))
        return ""
    if sub == "agent":
        _set_agent(srv, _arg(args, 4))
        return ""
    if sub == "addr":
        return _set_addr(srv, rest)
    if sub == "check-port":
        return _set_check_port(cli, srv, rest)
    raise CliError(SET_SERVER_USAGE)


def _set_maxconn(cli: CliSession, args: list[str]) -> str:
    _backend, srv = find_server(cli, _arg(args, 3))
    text = _arg(args, 4)
    if not text.isdigit():
        raise CliError("Require <maxconn>.")
    srv.options["maxconn"] = int(text)
    return ""


def _enable_server(cli: CliSession, args: list[str]) -> str:
    _backend, srv = find_server(cli, _arg(args, 2))
    if args[0] == "enable":
        set_ready(srv)
    else:
        set_maint(srv)
    return ""


def _toggle_health(cli: CliSession, args: list[str]) -> str:
    _backend, srv = find_server(cli, _arg(args, 2))
    st = health_of(srv)
    counters = st.check if args[1] == "health" else st.agent
    if args[0] == "enable":
        if args[1] == "agent" and not getattr(counters, "configured", False):
            raise CliError("Agent was not configured on this server, cannot enable.")
        if getattr(counters, "configured", False):
            counters.enabled = True
    else:
        counters.enabled = False
    return ""


# -- show ----------------------------------------------------------------------------------------

SERVERS_STATE_HEADER = (
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port")


def _check_state_bits(counters: Any, maint: bool, agent: bool) -> int:
    if not getattr(counters, "configured", False):
        return 0
    bits = 0x02
    if counters.enabled:
        bits |= 0x04
    if counters.in_progress:
        bits |= 0x01
    if maint:
        bits |= 0x08
    if agent:
        bits |= 0x10
    return bits


def server_state_line(backend: Any, srv: Any, now: float) -> str:
    st = health_of(srv)
    maint = "MAINT" in st.admin
    op = 0 if maint else OP_STATE_NUM.get(st.op, 2)
    admin = (0x01 if maint else 0) | (0x08 if "DRAIN" in st.admin else 0)
    if maint and srv.disabled:
        admin |= 0x04
    c = st.check
    configured = getattr(c, "configured", False)
    status = CHECK_STATUS_NUM.get(c.status, 0)
    result = 0  # unknown; HAProxy resets it when a check starts (HCHK_STATUS_START)
    if configured and not c.in_progress and c.status not in ("INI", "UNK"):
        result = CHECK_RESULT_NUM.get(result_of(c.status), 0)
    addr = srv.address
    ip = str(addr.ip) if addr.ip is not None else "-"
    fqdn = addr.host if addr.ip is None and addr.host else "-"
    check_addr = srv.opt("addr")
    fields = [
        backend.uuid, backend.name, srv.id, srv.name, ip, op, admin, srv.uweight,
        srv.weight, int(now - st.last_change), status, result,
        # an unchecked server is "up, but will fall down at first failure": rise
        # (dynamic servers start at 0)
        c.health if configured or getattr(srv, "dynamic", False)
        else int(srv.opt("rise") or 2),
        _check_state_bits(c, maint, False), _check_state_bits(st.agent, maint, True),
        1 if backend.settings.get("id") is not None else 0,
        1 if srv.opt("id") is not None else 0, fqdn, addr.port or 0, "-",
        1 if srv.opt("ssl") else 0, srv.opt("port") or 0,
        str(check_addr) if check_addr else "-", srv.opt("agent-addr") or "-",
        srv.opt("agent-port") or 0,
    ]
    return " ".join(str(f) for f in fields) + "\n"


def _show_servers_state(cli: CliSession, args: list[str]) -> str:
    name = _arg(args, 3)
    if name:
        backend = cli.config.backend(name)
        if backend is None:
            raise CliError(f"Can't find backend '{name}'.")
        backends = [backend]
    else:
        backends = [px for px in cli.config.backends]
    now = time.time()
    out = ["1\n", SERVERS_STATE_HEADER + "\n"]
    for backend in backends:
        for srv in backend.servers:
            out.append(server_state_line(backend, srv, now))
    return "".join(out)


def _show_backend(cli: CliSession, args: list[str]) -> str:
    return "# name\n" + "".join(f"{px.name}\n" for px in cli.config.backends)


# -- dynamic servers -----------------------------------------------------------------------------

class _CliCtx:
    """What the server option parser needs from a parsing context."""

    file = "CLI"
    line = 0

    def __init__(self, config: Any, backend: Any) -> None:
        self.config = config
        self.section = backend
        self.inactive: list[str] = []

    def error(self, message: str) -> CliError:
        return CliError(message)

    def mark_inactive(self, what: str, kind: str, owner: str) -> None:
        self.inactive.append(what)


def _add_server(cli: CliSession, args: list[str]) -> str:
    target = _arg(args, 2)
    if target == "help":
        names = sorted(n for n in DYNAMIC_KEYWORDS if n in SERVER_OPTIONS
                       and n in SERVER_OPTIONS.active)
        return "".join(f"{n}\n" for n in names)
    be_name, sep, sv_name = target.partition("/")
    if not sep or not sv_name:
        raise CliError("Require 'backend/server'.")
    backend = cli.config.backend(be_name)
    if backend is None:
        raise CliError("No such backend.")
    if len(args) < 4:
        raise CliError("'server' expects <name> and <addr>[:<port>] as arguments.")
    if not getattr(picker_for(backend), "dynamic", True):
        raise CliError("Backend must use a dynamic load balancing to support dynamic "
                       "servers.")
    if backend.server(sv_name) is not None:
        raise CliError("Already exists a server with the same name in backend.")
    words = args[4:]
    for word in words:
        if word in SERVER_OPTIONS and word not in DYNAMIC_KEYWORDS:
            raise CliError(f"'{word}' option is not accepted for dynamic server")
    ctx = _CliCtx(cli.config, backend)
    i = 0
    while i < len(words):
        opt = SERVER_OPTIONS.get(words[i])
        if opt is None:
            raise CliError(f"unknown keyword '{words[i]}'.")
        i += 1 + (opt.nargs if opt.greedy is None else 0)
        if opt.greedy is not None:
            break
    options = SERVER_OPTIONS.parse(ctx, words, f"'server {be_name}/{sv_name}'")
    if ctx.inactive:
        raise CliError(f"'{ctx.inactive[0].split(' ', 1)[1]}' option is not supported by "
                       "hapx yet.")
    try:
        address = parse_address(args[3], ports=Ports.OPTIONAL, relative=True)
    except AddressError as exc:
        raise CliError(f"'server {be_name}/{sv_name}' : {exc}") from None
    track = options.get("track")
    if track:
        tb, _, ts = str(track).rpartition("/")
        tbe = cli.config.backend(tb) if tb else backend
        if tbe is None or tbe.server(ts) is None:
            raise CliError(f"unable to find required server '{track}' for tracking.")
    srv = Server(sv_name, address, backend.name, "CLI", 0, options)
    srv.weight = srv.uweight = int(options.get("weight", 1))
    used = {s.id for s in backend.servers}
    if options.get("id") is not None:
        if int(options["id"]) in used:
            raise CliError(f"custom id {options['id']} already used.")
        srv.id = int(options["id"])
    else:
        srv.id = next(n for n in range(1, len(used) + 2) if n not in used)
    srv.dynamic = True
    st = health_of(srv)
    st.backend = backend
    st.admin.add("MAINT")
    srv.up = False
    server_state(srv).up = False
    manager = cli.config.ext.get(EXT)
    if manager is not None:
        st.notify = manager.notify
        st.on_change = manager.on_change
        st.manager = manager
    if srv.check:
        plan = build_plan(srv, backend)
        c = st.check
        c.configured = True
        c.enabled = False  # "enable health" starts it, as in HAProxy
        c.rise = int(srv.opt("rise") or 2)
        c.fall = int(srv.opt("fall") or 3)
        c.health = c.rise
        if manager is not None:
            manager.add_plan(srv, plan)
    if srv.opt("agent-check"):
        try:
            agent_plan = build_agent_plan(srv, backend)
        except ValueError as exc:
            raise CliError(str(exc)) from None
        init_agent(st, enabled=False)  # "enable agent" starts it, as in HAProxy
        if manager is not None:
            manager.add_agent(srv, agent_plan)
    backend.servers.append(srv)
    servers_changed(backend)
    return "New server registered.\n"


def removable(backend: Any, srv: Any) -> str | None:
    """Why ``srv`` cannot be deleted now (HAProxy's ``srv_check_for_deletion``), or None."""
    st = health_of(srv)
    if "MAINT" not in st.admin:
        return "Only servers in maintenance mode can be deleted."
    for px in (backend,):
        for other in px.servers:
            if other is not srv and other.opt("track") in (f"{backend.name}/{srv.name}",
                                                           srv.name):
                return "Cannot remove a server which is tracked by other servers."
    live = server_state(srv)
    if live.cur_conn - len(idle_connections(srv)) > 0 or live.queued or live.served:
        return "Server still has connections attached to it, cannot remove it."
    return None


def idle_connections(srv: Any) -> list[Any]:
    """The server's connections idle in its pool (kept for reuse): they do not keep it
    from being deleted; deleting it closes them."""
    pool = getattr(srv, "_hapx_pool", None)
    return [c for c in getattr(pool, "idle", ()) if not getattr(c, "closed", False)]


def _del_server(cli: CliSession, args: list[str]) -> str:
    try:
        backend, srv = find_server(cli, _arg(args, 2))
    except CliError as exc:  # HAProxy replies these without a line feed here
        return str(exc)
    why = removable(backend, srv)
    if why is not None:
        return why
    backend.servers.remove(srv)
    for conn in idle_connections(srv):
        conn.close()
    servers_changed(backend)
    manager = cli.config.ext.get(EXT)
    if manager is not None:
        manager.remove_plan(srv)
    return "Server deleted."


WAIT_USAGE = ("Usage: wait {-h|<duration>} [condition [args...]]\n"
              "  - '-h' displays this help\n"
              "  - <duration> is the maximum wait time, optionally suffixed by the unit "
              "among\n"
              "    'us', 'ms', 's', 'm', 'h', and 'd'. ; the default unit is milliseconds.\n"
              "  - <condition> indicates what to wait for, no longer than the specified\n"
              "    duration. Supported conditions are:\n"
              "    - <none> : by default, just sleep for the specified duration.\n"
              "    - srv-removable <px>/<sv> : wait for this server to become removable.\n")

_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def _duration_ms(text: str) -> float | None:
    num = text.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = text[len(num):] or "ms"
    if not num.isdigit() or unit not in _UNITS:
        return None
    return int(num) * _UNITS[unit]


async def _wait(cli: CliSession, args: list[str]) -> str:
    words = args[1:]
    if not words:
        raise CliError("Expects a duration in milliseconds.")
    delay = _duration_ms(words[0])
    if delay is None or delay < 1:
        if words[0] != "-h":
            raise CliError("Invalid duration.")
        words = [""] + words
    cond = _arg(words, 1)
    target = None
    if cond == "srv-removable":
        text = _arg(words, 2)
        if not text:
            raise CliError("Missing server name (<backend>/<server>).")
        be_name, sep, sv_name = text.partition("/")
        if not sv_name:
            raise CliError("Require 'backend/server'.")
        target = (be_name, sv_name)
    elif cond:
        if cond == "-h":
            return WAIT_USAGE
        raise CliError(WAIT_USAGE)
    start = time.monotonic()
    deadline = start + (delay or 0) / 1000
    while True:
        if target is not None:
            backend = cli.config.backend(target[0])
            srv = backend.server(target[1]) if backend is not None else None
            if backend is None:
                raise CliError("No such backend.")
            if srv is None:
                raise CliError("No such server.")
            if removable(backend, srv) is None:
                return "Done.\n"
        left = deadline - time.monotonic()
        if left <= 0:
            if target is None:
                return "Done.\n"
            raise CliError("Wait delay expired.")
        total = deadline - start
        step = min(left, max(0.001, min((time.monotonic() - start) / 2 + 0.001,
                                         total / 10)))
        await anyio.sleep(step)


COMMANDS = [
    cli_command(
        "set server <bk>/<srv> [opts]", bare_ok(_set_server), level="admin", explain=(
            "Change a server's state, weight, address or ssl. Options: state ready|drain|maint, "
            "weight <w>[%], addr <ip> [port <p>], health up|stopping|down, agent up|down, "
            "check-port <p>.")),
    cli_command(
        "set weight <bk>/<srv>  (DEPRECATED)", bare_ok(_set_weight), level="admin", explain=(
            "Change a server's weight (use 'set server' instead). <w> absolute (0-256) or <w>% of "
            "the initial weight.")),
    cli_command(
        "get weight <bk>/<srv>", _get_weight, level="user", explain=(
            "Report a server's current weight. '<current> (initial <configured>)'.")),
    cli_command(
        "set maxconn server <bk>/<srv>", _set_maxconn, level="admin", explain=(
            "Change a server's maxconn setting. 0 removes the limit.")),
    cli_command(
        "enable server  (DEPRECATED)", _enable_server, level="admin", explain=(
            "Enable a disabled server (use 'set server' instead). Same as 'set server <bk>/<srv> "
            "state ready'.")),
    cli_command(
        "disable server (DEPRECATED)", _enable_server, level="admin", explain=(
            "Disable a server for maintenance (use 'set server' instead). Same as 'set server "
            "<bk>/<srv> state maint'.")),
    cli_command(
        "enable health", _toggle_health, level="admin", explain=(
            "Enable health checks. 'enable health <bk>/<srv>' resumes the server's checks.")),
    cli_command(
        "disable health", _toggle_health, level="admin", explain=(
            "Disable health checks. The server keeps its state; no check runs.")),
    cli_command(
        "enable agent", _toggle_health, level="admin", explain=(
            "Enable agent checks. Only on a server configured with agent-check.")),
    cli_command(
        "disable agent", _toggle_health, level="admin", explain=(
            "Disable agent checks. The server keeps its state.")),
    cli_command(
        "show servers state [<backend>]", _show_servers_state, level="user", explain=(
            "Dump volatile server information (all or for a single backend). Format version 1: a "
            "header line, then one line per server.")),
    cli_command(
        "show backend", _show_backend, level="user", explain=(
            "List backends in the current running config. One name per line.")),
    cli_command(
        "add server <bk>/<srv>", _add_server, level="admin", explain=(
            "Create a new server. 'add server <bk>/<srv> <addr>[:<port>] [kw]*', created in "
            "maintenance (enable it with 'set server ... state ready'); 'add server help' lists "
            "the keywords accepted.")),
    cli_command(
        "del server <bk>/<srv>", _del_server, level="admin", explain=(
            "Remove a dynamically added server. It must be in maintenance, with no connection or "
            "stream left and not tracked.")),
    cli_command(
        "wait {-h|<delay_ms>} cond [args...]", _wait, level="admin", explain=(
            "Wait the specified delay or condition (-h to see list). 'srv-removable <bk>/<srv>' "
            "waits until the server can be deleted.")),
]
