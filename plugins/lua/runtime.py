"""One Lua state (lupa, Lua 5.4) per configuration, and the Python side of HAProxy's Lua API.

:class:`LuaState` creates the runtime, runs ``prelude.lua`` (which builds ``core``, ``act``
and the classes over the bridge functions of :class:`Bridge`), loads scripts in *body*
context (``core.register_*`` then calls :meth:`LuaState.register`, which adds records to the
configuration's registry), and runs Lua functions as coroutines with a run-time budget.

A Lua function that blocks (``core.sleep``, ``applet:receive`` ...) yields ``MARK, op,
args...``; :meth:`LuaState.drive` serves those requests from the asyncio loop and resumes the
coroutine with the result, so a sleeping script never blocks the process.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import lupa.lua54 as lua54
from hapx.core.errors import ConfigError
from hapx.core.records import Converter, Fetch, SmpType
from hapx.core.sample.args import convert_args
from hapx.core.sample.cast import caster, ipv6_text
from hapx.core.sample.types import Sample
from hapx.core.sample.vars import parse_var_name

PRELUDE = (Path(__file__).parent / "prelude.lua").read_text()
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
DEFAULT_TIMEOUT_MS = 4000
DEFAULT_BURST_MS = 1000
DEFAULT_FORCED_YIELD = 10000
_CACHE_MAX = 1024
#: the modules of this plugin that add to the API (each has ``lua_api(api)``)
EXTENSIONS: tuple[str, ...] = ("filters", "sockets", "httpclient", "proxies", "extras")


class LuaRuntimeError(Exception):
    """A Lua function failed (its message is HAProxy's text after "runtime error: ")."""


def _deny(obj: Any, name: Any, is_setting: bool) -> Any:
    raise AttributeError("access to Python attributes is not allowed from Lua")


def stderr_log(level: int, msg: str) -> None:
    """HAProxy's stderr form of a Lua log line: ``[info] 329/020950 (pid) : msg``."""
    label = LEVELS[level] if 0 <= level < len(LEVELS) else "info"
    stamp = time.strftime("%j/%H%M%S")
    print(f"[{label}] {stamp} ({os.getpid()}) : {msg}", file=sys.stderr, flush=True)


def alert(msg: str) -> None:
    print(f"[ALERT]    ({os.getpid()}) : {msg}", file=sys.stderr, flush=True)


class _ArgCtx:
    """The context argument conversion gets for fetches and converters called from Lua."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.registry = config.registry
        self.section = None
        self.file = None
        self.line = None

    def error(self, msg: str) -> ConfigError:
        return ConfigError(msg)

    def defer(self, fn: Callable[[Any], None]) -> None:
        fn(self.config)

    def warning(self, msg: str) -> None:
        pass

    def mark_inactive(self, *args: Any) -> None:
        pass


def lua_name(name: str) -> str:
    """How a fetch or converter is called from Lua: dots and dashes become underscores."""
    return name.replace(".", "_").replace("-", "_")


class LuaApi:
    """What ``hapx_lua_api`` implementations get (see :mod:`.hookspecs`)."""

    def __init__(self, state: LuaState) -> None:
        self.state = state
        self.config = state.config

    def define(self, source: str, functions: dict[str, Any]) -> Any:
        """Run a Lua chunk with ``(H, MARK, classes)`` (classes: the prelude's TXN, HTTP,
        AppletHTTP and AppletTCP method tables, to add methods to); returns what the chunk
        returns."""
        st = self.state
        return st.lua.execute(source, st.lua.table_from(functions), st.mark, st.classes)

    def blocking(self, op: str, fn: Callable[..., Awaitable[tuple[Any, ...]]]) -> None:
        """Serve ``coroutine.yield(MARK, op, ...)`` with ``await fn(...)``."""
        self.state.ops[op] = fn


class LuaState:
    """The Lua state of one configuration."""

    def __init__(self, config: Any, thread: int = 0) -> None:
        self.config = config
        self.thread = thread
        g = config.global_.settings
        # memory accounting on from the start; the limit is applied by apply_settings()
        # (tune.lua.maxmem may come after the lua-load)
        self.lua = lua54.LuaRuntime(encoding="latin-1", register_eval=False,
                                    register_builtins=False, unpack_returned_tuples=True,
                                    attribute_filter=_deny, max_memory=0)
        self.bool_normal = g.get("tune.lua.bool-sample-conversion") == "normal"
        self.apply_settings()
        self.bridge = Bridge(self)
        api = self.lua.execute(PRELUDE, self.lua.table_from(self.bridge.functions()))
        self.lua.globals().core.thread = thread
        self.spawn = api.spawn
        self.resume = api.resume
        self.new_txn = api.new_txn
        self.new_applet = api.new_applet
        self.headers_table = api.headers_table
        self.mark = api.MARK
        self.classes = api.classes
        self.is_mark = api.is_mark
        #: blocking operations added by extensions: op -> async fn(*args) -> tuple
        self.ops: dict[str, Callable[..., Awaitable[tuple[Any, ...]]]] = {}
        #: the ParseContext of the lua-load being run (registration is allowed only then)
        self.loading: Any = None
        #: registration callback (set by the plugin): register(ctx, kind, name, fn, *extra)
        self.on_register: Callable[..., None] | None = None
        self.inits: list[Any] = []
        self.tasks: list[tuple[Any, tuple[Any, ...]]] = []
        self._fetches: dict[str, Fetch] | None = None
        self._converters: dict[str, Converter] | None = None
        self._arg_cache: dict[tuple[Any, ...], list[Any]] = {}
        #: the delay an action asked with act:wake_time(ms) before returning act.YIELD
        self.wake_ms: int | None = None
        #: what this plugin's API modules keep per state (by module)
        self.ext: dict[str, Any] = {}
        self.extend()

    def extend(self) -> None:
        """Let the plugins (``hapx_lua_api``) add to this state's Lua API."""
        api = LuaApi(self)
        for name in EXTENSIONS:
            importlib.import_module(f"{__package__}.{name}").lua_api(api)
        plugins = getattr(self.config, "plugins", None)
        hook = getattr(getattr(plugins, "hook", None), "hapx_lua_api", None)
        if hook is not None:
            hook(api=api)

    def apply_settings(self) -> None:
        """Read the tune.lua.* timeouts and limits (again once the whole global section is
        parsed: they apply to every script, whatever their place)."""
        g = self.config.global_.settings
        self.session_ms = _ms(g.get("tune.lua.session-timeout"), DEFAULT_TIMEOUT_MS)
        self.service_ms = _ms(g.get("tune.lua.service-timeout"), DEFAULT_TIMEOUT_MS)
        self.task_ms = _ms(g.get("tune.lua.task-timeout"), 0)
        self.burst_ms = _ms(g.get("tune.lua.burst-timeout"), DEFAULT_BURST_MS)
        self.step = int(g.get("tune.lua.forced-yield") or DEFAULT_FORCED_YIELD)
        mb = int(g.get("tune.lua.maxmem") or 0)
        if mb:
            self.lua.set_max_memory(mb * 1024 * 1024)

    @property
    def log_loggers(self) -> bool:
        """tune.lua.log.loggers (read when logging: it may come after lua-load)."""
        return self.config.global_.settings.get("tune.lua.log.loggers", "on") != "off"

    @property
    def log_stderr(self) -> str:
        return self.config.global_.settings.get("tune.lua.log.stderr") or "auto"

    def loggers_for(self, strm: Any) -> Any:
        """The log targets of the stream's proxy (backend first, as HAProxy's s->be), or
        the global ones; None without the logs plugin."""
        try:
            from hapx.plugins.logs.emit import global_log, proxy_log
        except ImportError:
            return None
        px = None
        if strm is not None:
            px = getattr(strm, "backend", None) or getattr(strm, "frontend", None)
        return proxy_log(self.config, px) if px is not None else global_log(self.config)

    def reset_tables(self) -> None:
        """Forget the fetch and converter tables (a script registered a new one)."""
        self._fetches = self._converters = None

    # -- loading -------------------------------------------------------------------------------
    def prepend_path(self, path: str, kind: str) -> None:
        pkg = self.lua.globals().package
        pkg[kind] = f"{path};{pkg[kind]}"

    def load(self, ctx: Any, path: str, args: list[str]) -> None:
        """Run a script in body context; errors are configuration errors."""
        loader = self.lua.eval(
            "function(path, ...) local f, err = loadfile(path) if not f then "
            "return false, err end return pcall(f, ...) end")
        self.loading = ctx
        try:
            ok, *rest = _tuple(loader(path, *args))
        except lua54.LuaError as exc:
            raise ctx.error(f"'{ctx.keyword}' : Lua runtime error: {exc}") from None
        finally:
            self.loading = None
        if not ok:
            msg = rest[0] if rest else "unknown error"
            if isinstance(msg, ConfigError):
                raise msg
            raise ctx.error(f"'{ctx.keyword}' : Lua runtime error: {msg}")

    def register(self, kind: str, name: str, fn: Any, *extra: Any) -> None:
        if self.loading is None:
            raise lua54.LuaError(f"register_{kind}: only allowed in the script's body")
        if kind == "init":
            self.inits.append(fn)
            return
        if kind == "task":
            packed = extra[0] if extra else None
            args = tuple(packed[i] for i in range(1, int(packed.n) + 1)) if packed else ()
            self.tasks.append((fn, args))
            return
        assert self.on_register is not None
        self.on_register(self.loading, kind, str(name), fn, *extra)

    # -- running -------------------------------------------------------------------------------
    def start(self, fn: Any, limit_ms: int, *args: Any) -> Any:
        return self.spawn(fn, limit_ms, self.burst_ms, self.step, *args)

    def step_once(self, co: Any, *values: Any) -> tuple[Any, ...]:
        """Resume once: ("done", results...), ("yield", op, ...), ("error", msg),
        ("txndone",)."""
        try:
            return _tuple(self.resume(co, *values))
        except lua54.LuaMemoryError:
            return ("error", "out of memory")
        except lua54.LuaError as exc:  # an error inside a bridge function
            return ("error", str(exc))

    def call_sync(self, fn: Any, limit_ms: int, what: str, *args: Any) -> tuple[Any, ...]:
        """Run a function that may not block (fetches, converters, body context)."""
        co = self.start(fn, limit_ms, *args)
        res = self.step_once(co)
        if res[0] == "yield":
            raise LuaRuntimeError(f"{what}: yield not allowed")
        if res[0] == "error":
            raise LuaRuntimeError(str(res[1]))
        return res

    async def drive(self, co: Any, res: tuple[Any, ...]) -> tuple[Any, ...]:
        """Serve the coroutine's blocking requests until it ends; its final step."""
        while res[0] == "yield":
            op = res[1]
            try:
                value = await self.serve(op, res[2:])
            except LuaRuntimeError as exc:
                return ("error", str(exc))
            res = self.step_once(co, *value)
        return res

    async def serve(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        if op == "sleep":
            ms = args[0] if args else 0
            if ms is None or ms < 0:
                await asyncio.Event().wait()  # core.wait() without a delay: no event source
            await asyncio.sleep(max(0.0, float(ms)) / 1000)
            return ()
        if op in ("receive", "getline"):
            return await args[0].serve(op, args[1:])
        fn = self.ops.get(op)
        if fn is not None:
            return _tuple(await fn(*args))
        raise LuaRuntimeError(f"unknown blocking operation '{op}'")

    # -- samples -------------------------------------------------------------------------------
    def to_lua(self, smp: Sample | None, as_str: bool) -> Any:
        if smp is None:
            return "" if as_str else None
        t = smp.type
        v = smp.value
        if as_str:
            s = caster(SmpType.STR)(smp) if t not in (SmpType.STR, SmpType.BIN) else smp
            return "" if s is None else s.value
        if t == SmpType.BOOL:
            return bool(v) if self.bool_normal else int(bool(v))
        if t == SmpType.IPV6:
            return ipv6_text(v)
        if t == SmpType.IPV4:
            return str(v)
        return v

    def fetch_table(self) -> dict[str, Fetch]:
        if self._fetches is None:
            reg = self.config.registry
            self._fetches = {lua_name(f.name): f for f in reg.all(Fetch)}
            self._converters = {lua_name(c.name): c for c in reg.all(Converter)}
        return self._fetches

    def args_for(self, rec: Fetch | Converter, args: tuple[Any, ...]) -> list[Any]:
        key = (rec.kind, rec.name, args)
        cached = self._arg_cache.get(key)
        if cached is not None:
            return cached
        words = [_word(a) for a in args]
        desc = f"{rec.kind} '{rec.name}'"
        try:
            out = convert_args(rec.args, words, _ArgCtx(self.config), desc)
            if rec.validate is not None:
                res = rec.validate(out, _ArgCtx(self.config))
                out = out if res is None else res
        except (ConfigError, ValueError) as exc:
            raise lua54.LuaError(f"{desc}: {getattr(exc, 'message', exc)}") from None
        if len(self._arg_cache) > _CACHE_MAX:
            self._arg_cache.clear()
        self._arg_cache[key] = out
        return out


def _running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _word(v: Any) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _ms(value: Any, default: int) -> int:
    return default if value is None else int(value)


def _tuple(v: Any) -> tuple[Any, ...]:
    return v if isinstance(v, tuple) else (v,)


def from_lua(v: Any) -> Sample | None:
    """A Lua value as a sample, as HAProxy's hlua_lua2smp: nil and tables give none."""
    if isinstance(v, bool):
        return Sample(SmpType.BOOL, v)
    if isinstance(v, int):
        return Sample(SmpType.SINT, v)
    if isinstance(v, float):
        return Sample(SmpType.SINT, int(v))
    if isinstance(v, str):
        return Sample(SmpType.STR, v)
    if isinstance(v, bytes):
        return Sample(SmpType.STR, v.decode("latin-1"))
    return None


class Bridge:
    """The Python functions the prelude calls (the ``H`` table)."""

    def __init__(self, state: LuaState) -> None:
        self.state = state

    def functions(self) -> dict[str, Any]:
        names = ("clock", "now", "log", "register", "fetch", "conv", "get_var", "set_var",
                 "unset_var", "get_priv", "set_priv", "set_loglevel", "hdr_get", "hdr_add",
                 "hdr_set", "hdr_del", "hdr_rep", "req_set", "res_set_status", "done",
                 "wake_time", "ap_status", "ap_add_header", "ap_start", "ap_send",
                 "ap_try_receive", "map_new", "map_lookup")
        return {n: getattr(self, n) for n in names}

    # -- core ----------------------------------------------------------------------------------
    @staticmethod
    def clock() -> float:
        return time.monotonic() * 1000

    @staticmethod
    def now() -> tuple[int, int]:
        t = time.time()
        return int(t), int((t - int(t)) * 1_000_000)

    def log(self, strm: Any, level: Any, msg: Any) -> None:
        """HAProxy's hlua_sendlog: to the loggers of the stream's proxy (the global ones
        without a stream) when ``tune.lua.log.loggers`` is on (default), and to stderr when
        ``tune.lua.log.stderr`` is on, or auto (default) and no logger applied."""
        level = int(level) if level is not None else 6
        if level == -2:
            level = 6
        if level < 0:
            return
        text = _text(msg)
        st = self.state
        had_loggers = False
        if st.log_loggers and _running():
            log = st.loggers_for(strm)
            if log is not None and log.loggers:
                had_loggers = True
                log.send(level, text.encode("latin-1", "replace"))
        if st.log_stderr == "on" or (st.log_stderr == "auto" and not had_loggers):
            stderr_log(level, text)

    def register(self, kind: str, name: Any, fn: Any, *extra: Any) -> None:
        self.state.register(kind, name, fn, *extra)

    def wake_time(self, ms: Any) -> None:
        self.state.wake_ms = int(ms)

    # -- samples -------------------------------------------------------------------------------
    def fetch(self, strm: Any, name: str, as_str: bool, *args: Any) -> Any:
        st = self.state
        rec = st.fetch_table().get(name)
        if rec is None:
            raise lua54.LuaError(f"unknown fetch method '{name}'")
        smp = rec.process(st.args_for(rec, args), strm)
        return st.to_lua(smp, as_str)

    def conv(self, strm: Any, name: str, as_str: bool, value: Any = None, *args: Any) -> Any:
        st = self.state
        st.fetch_table()
        assert st._converters is not None
        rec = st._converters.get(name)
        if rec is None:
            raise lua54.LuaError(f"unknown converter '{name}'")
        smp = from_lua(value)
        if smp is None:
            return st.to_lua(None, as_str)
        if rec.in_type not in (SmpType.ANY, smp.type):
            smp = caster(rec.in_type)(smp)
            if smp is None:
                return st.to_lua(None, as_str)
        return st.to_lua(rec.process(st.args_for(rec, args), smp, strm), as_str)

    # -- variables and private data --------------------------------------------------------------
    def get_var(self, strm: Any, name: str) -> Any:
        try:
            var = parse_var_name(_text(name))
        except ValueError:
            return None
        return self.state.to_lua(var.get(strm), False)

    def set_var(self, strm: Any, name: str, value: Any, ifexist: Any = None) -> bool:
        try:
            var = parse_var_name(_text(name))
        except ValueError as exc:
            raise lua54.LuaError(str(exc)) from None
        smp = from_lua(value)
        if smp is None:
            return False
        if ifexist and var.get(strm) is None:
            return False
        var.set(strm, smp)
        return True

    def unset_var(self, strm: Any, name: str) -> bool:
        try:
            parse_var_name(_text(name)).unset(strm)
        except ValueError:
            return False
        return True

    def get_priv(self, strm: Any) -> Any:
        return strm.ext.get("lua_priv")

    def set_priv(self, strm: Any, value: Any) -> None:
        strm.ext["lua_priv"] = value

    def set_loglevel(self, strm: Any, level: Any) -> None:
        level = int(level)
        if level == -1:
            strm.log_level = "silent"
        elif 0 <= level < len(LEVELS):
            strm.log_level = LEVELS[level]
        else:
            raise lua54.LuaError("Invalid loglevel.")

    # -- HTTP ------------------------------------------------------------------------------------
    @staticmethod
    def _msg(strm: Any, side: str) -> Any:
        msg = strm.req if side == "req" else strm.res
        if msg is None:
            raise lua54.LuaError(f"no HTTP {'request' if side == 'req' else 'response'} here")
        return msg

    def hdr_get(self, strm: Any, side: str) -> Any:
        msg = self._msg(strm, side)
        lua = self.state.lua
        return self.state.headers_table(lua.table_from([lua.table_from([n, v])
                                                        for n, v in msg.headers]))

    def hdr_add(self, strm: Any, side: str, name: Any, value: Any) -> None:
        self._msg(strm, side).add(_text(name), _text(value))

    def hdr_set(self, strm: Any, side: str, name: Any, value: Any) -> None:
        self._msg(strm, side).set(_text(name), _text(value))

    def hdr_del(self, strm: Any, side: str, name: Any) -> None:
        self._msg(strm, side).remove(_text(name))

    def hdr_rep(self, strm: Any, side: str, name: Any, regex: Any, repl: Any,
                per_value: bool) -> None:
        import re

        from hapx.plugins.http_rules.headers import expand_backrefs

        msg = self._msg(strm, side)
        rx = re.compile(_text(regex))
        low = _text(name).lower()
        out = []
        for n, v in msg.headers:
            if n.lower() == low:
                if per_value:
                    v = ",".join(_rep(rx, part, _text(repl), expand_backrefs)
                                 for part in v.split(","))
                else:
                    v = _rep(rx, v, _text(repl), expand_backrefs)
            out.append((n, v))
        msg.headers = out

    def req_set(self, strm: Any, what: str, value: Any) -> bool:
        req = self._msg(strm, "req")
        value = _text(value)
        if what == "method":
            req.method = value
        elif what == "uri":
            req.uri = value
        elif what == "path":
            query = req.query
            req.uri = value + ("" if query is None else "?" + query)
        elif what == "query":
            req.uri = req.path + ("?" + value if value else "")
        return True

    def res_set_status(self, strm: Any, code: Any, reason: Any = None) -> None:
        from hapx.core.proto.pages import reason as reason_phrase

        res = self._msg(strm, "res")
        res.status = int(code)
        res.reason = _text(reason) if reason else reason_phrase(int(code))
        strm.status = res.status

    def done(self, strm: Any, reply: Any = None) -> None:
        strm.ext["lua_done"] = reply_message(reply) if reply is not None else None

    # -- Map -------------------------------------------------------------------------------------
    def map_new(self, file: Any, method: Any) -> Any:
        """A Map object's handle: the map_<method> converter and its resolved arguments."""
        st = self.state
        st.fetch_table()
        assert st._converters is not None
        rec = st._converters.get(f"map_{_text(method)}")
        if rec is None:
            raise lua54.LuaError(f"Map.new: unknown match method '{_text(method)}'")
        return _MapHandle(rec, st.args_for(rec, (_text(file),)))

    def map_lookup(self, handle: Any, key: Any, as_str: bool) -> Any:
        rec, args = handle.rec, handle.args
        smp = from_lua(key)
        if smp is not None and rec.in_type not in (SmpType.ANY, smp.type):
            smp = caster(rec.in_type)(smp)
        if smp is None:
            return self.state.to_lua(None, as_str)
        return self.state.to_lua(rec.process(args, smp, None), as_str)

    # -- applets ---------------------------------------------------------------------------------
    def ap_status(self, ap: Any, code: Any, reason: Any = None) -> None:
        ap.set_status(int(code), _text(reason) if reason else None)

    def ap_add_header(self, ap: Any, name: Any, value: Any) -> None:
        ap.add_header(_text(name), _text(value))

    def ap_start(self, ap: Any) -> None:
        ap.start_response()

    def ap_send(self, ap: Any, data: Any) -> None:
        ap.send(_text(data))

    def ap_try_receive(self, ap: Any) -> Any:
        return ap.try_receive()


class _MapHandle:
    __slots__ = ("rec", "args")

    def __init__(self, rec: Converter, args: list[Any]) -> None:
        self.rec, self.args = rec, args


def _rep(rx: Any, value: str, template: str, expand: Any) -> str:
    m = rx.fullmatch(value)
    return expand(template, m) if m else value


def _text(v: Any) -> str:
    if isinstance(v, bytes):
        return v.decode("latin-1")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, bool):
        return "true" if v else "false"
    return "" if v is None else str(v)


def reply_message(reply: Any) -> Any:
    """A ``txn:done(reply)`` table as an HttpMessage (``{status, reason, headers, body}``,
    headers as ``{name = {v1, v2}}`` or ``{name = v}``)."""
    from hapx.core.proto.pages import reason as reason_phrase
    from hapx.core.stream import HttpMessage

    lua_type = lua54.lua_type
    status = 200
    reason = None
    headers: list[tuple[str, str]] = []
    body = b""
    if lua_type(reply) == "table":
        if reply["status"] is not None:
            status = int(reply["status"])
        if reply["reason"] is not None:
            reason = _text(reply["reason"])
        hdrs = reply["headers"]
        if lua_type(hdrs) == "table":
            for name, vals in hdrs.items():
                if lua_type(vals) == "table":
                    for _k, v in sorted(vals.items(), key=lambda kv: kv[0]):
                        headers.append((_text(name), _text(v)))
                else:
                    headers.append((_text(name), _text(vals)))
        if reply["body"] is not None:
            body = _text(reply["body"]).encode("latin-1")
    return HttpMessage(status=status, reason=reason or reason_phrase(status),
                       headers=headers, body=body, body_complete=True)


def addr_text(addr: Any) -> str:
    if isinstance(addr, ipaddress.IPv6Address):
        return ipv6_text(addr)
    return str(addr)
