"""Lua scripts: ``lua-load``, ``lua-load-per-thread``, ``lua-prepend-path`` and the
``tune.lua.*`` settings, run by a real Lua 5.4 (lupa; see :mod:`.runtime` and
docs/lua.md).

``lua.<name>`` keywords (actions, services, filters, fetches, converters) and Lua runtime
commands exist only once a loaded script registered them, as in HAProxy: ``lua-load``
runs the script, whose ``core.register_*`` calls add records owned by ``lua-scripts`` to
the configuration's own registry (so they live as long as the configuration).  A
configuration naming ``lua.<name>`` that no loaded script declares is rejected as an
unknown keyword.  Without lupa installed, the script's ``core.register_*`` calls are read
from its text (:mod:`.scan`) and registered as inactive records, so that configurations
still validate and are listed as not yet active.

Other plugins extend the Lua API through ``hapx_lua_api`` (:mod:`.hookspecs`).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from hapx.core.config.model import GLOBAL
from hapx.core.errors import PluginError
from hapx.core.hookspecs import hookimpl
from hapx.core.records import (
    Action,
    ActionRule,
    Arg,
    CliCommand,
    Converter,
    Directive,
    Feature,
    Fetch,
    Filter,
    Record,
    RuleSet,
    Service,
    SmpType,
    Use,
)
from hapx.plugins.confkit import resolve_path, simple_directive, v_choice, v_int, v_time

from .scan import Registration, scan

HAVE_LUPA = importlib.util.find_spec("lupa") is not None
EXT = "lua"
OWNER = "lua-scripts"
BOOL_CONV = "tune.lua.bool-sample-conversion"

_RULESETS = {
    "tcp-req": (RuleSet.TCP_REQ_CONT,), "tcp-res": (RuleSet.TCP_RES_CONT,),
    "http-req": (RuleSet.HTTP_REQ,), "http-res": (RuleSet.HTTP_RES,),
    "http-after-res": (RuleSet.HTTP_AFTER_RES,),
}
_LUA_ARGS = tuple(Arg(f"arg{i}", optional=True) for i in range(1, 6))


@dataclass
class LuaCall(ActionRule):
    """A ``lua.<name>`` action: the Lua function and the words given to it."""

    name: str
    args: tuple[str, ...]


def _state(config: Any) -> dict[str, Any]:
    state = config.ext.get(EXT)
    if state is None:
        state = config.ext[EXT] = {"scripts": [], "prepend": []}
    return state


def _scanned_action_parse(reg: Registration) -> Any:
    def parse(ctx: Any, args: list[str]) -> LuaCall:
        if len(args) < reg.nargs:
            raise ctx.error(f"expect {reg.nargs} arguments")
        return LuaCall(reg.name, tuple(args))
    return parse


def _action_parse(state: Any, name: str, fn: Any, nargs: int) -> Any:
    def parse(ctx: Any, args: list[str]) -> ActionRule:
        from hapx.core.rules import UnexpectedWord

        from .calls import LuaAction

        if len(args) < nargs:
            raise ctx.error(f"expect {nargs} arguments")
        if len(args) > nargs:
            raise UnexpectedWord(args[nargs])
        return LuaAction(state, name, fn, tuple(args), ctx.ruleset)
    return parse


def _filter_parse(name: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> dict[str, Any]:
        return {"function": name, "args": list(args)}
    return parse


def _lua_filter_parse(state: Any, name: str, cls: Any, fn: Any) -> Any:
    def parse(ctx: Any, args: list[str]) -> Any:
        from hapx.core.config.model import InactiveUse

        from .filters import configure
        from .runtime import LuaRuntimeError

        try:
            conf = configure(state, name, cls, fn, list(args))
        except LuaRuntimeError as exc:
            raise ctx.error(f"Lua filter '{name}' : {exc}") from None
        px, file, line = ctx.section, ctx.file, ctx.line

        def tcp_mode(config: Any) -> None:
            # hapx's stream filters run on HTTP streams: in a TCP proxy a Lua filter
            # (tcp_payload) would do nothing, so its use is reported as not yet active
            if getattr(px, "mode", "http") == "tcp":
                config.inactive.append(InactiveUse(f"filter lua.{name}", "filter", OWNER,
                                                   file, line))
        ctx.defer(tcp_mode)
        return conf
    return parse


def records_for(reg: Registration, script: str) -> list[Record]:
    """The inactive records a script's registration stands for."""
    name = f"lua.{reg.name}"
    where = f"\n\nDeclared by the Lua script {script} (line {reg.line})."
    if reg.kind == "action":
        sets = frozenset(s for w in reg.words for s in _RULESETS.get(w, ()))
        if not sets:
            return []
        return [Action(name, rulesets=sets, parse=_scanned_action_parse(reg), active=False,
                       doc=f"{name} [<arg>...]\n\nA Lua action.{where}")]
    if reg.kind == "service":
        modes = frozenset(m for m in reg.words if m in ("tcp", "http")) or frozenset({"tcp"})
        return [Service(name, modes=modes, active=False,
                        doc=f"{name}\n\nA Lua {'/'.join(sorted(modes))} service.{where}")]
    if reg.kind == "filter":
        return [Filter(name, parse=_filter_parse(reg.name), active=False,
                       doc=f"{name} [<arg>...]\n\nA Lua filter.{where}")]
    if reg.kind == "fetches":
        return [Fetch(name, args=_LUA_ARGS, out_type=SmpType.STR,
                      uses=Use.HTTP_REQ | Use.HTTP_RES, active=False,
                      doc=f"{name}([<arg>...])\n\nA Lua sample fetch.{where}")]
    return [Converter(name, args=_LUA_ARGS, in_type=SmpType.STR, out_type=SmpType.STR,
                      active=False, doc=f"{name}([<arg>...])\n\nA Lua converter.{where}")]


def _same(a: Record, b: Record) -> bool:
    return type(a) is type(b) and a.name == b.name and a.owner == OWNER


#: where the Lua states are kept in config.ext["lua"]: the shared state of lua-load, and
#: the state of hapx's one thread for lua-load-per-thread (separate globals, as HAProxy's
#: per-thread states; core.thread is 1 there)
STATE_KEYS = {"lua-load": "runtime", "lua-load-per-thread": "runtime-thread"}


def _lua_state(ctx: Any) -> Any:
    """The Lua state a lua-load / lua-load-per-thread line loads into (created on first
    use), or None without lupa."""
    state = _state(ctx.config)
    key = STATE_KEYS.get(ctx.keyword, "runtime")
    if key not in state:
        try:
            from .runtime import LuaState
        except ImportError:
            state[key] = None
        else:
            rt = state[key] = LuaState(ctx.config, thread=0 if key == "runtime" else 1)
            rt.on_register = register
            for path, kind in state["prepend"]:
                rt.prepend_path(path, kind)
    return state[key]


def lua_states(config: Any) -> list[Any]:
    """The configuration's Lua states (shared first)."""
    state = config.ext.get(EXT) or {}
    return [state[k] for k in STATE_KEYS.values() if state.get(k) is not None]


def _load(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects a file name as parameter.")
    state = _state(ctx.config)
    path = resolve_path(ctx, args[0])
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            source = fh.read()
    except OSError as exc:
        raise ctx.error(f"'{ctx.keyword}' : failed to load Lua file '{path}' : "
                        f"{exc.strerror or exc}.") from None
    if BOOL_CONV not in ctx.config.global_.settings and not state["scripts"]:
        ctx.warning(f"'{BOOL_CONV}' is not set: Lua will receive boolean samples as integers "
                    "(the pre-3.1 behaviour); set it to 'normal' (or 'pre-3.1-bug') before "
                    "loading Lua files.")
    state["scripts"].append({"path": path, "args": args[1:], "keyword": ctx.keyword})
    runtime = _lua_state(ctx)
    if runtime is not None:
        state["loading"] = runtime
        try:
            runtime.load(ctx, path, args[1:])
        finally:
            state["loading"] = None
        return
    # without lupa: the script's register calls are read from its text (inactive records)
    registry = ctx.registry
    for reg in scan(source):
        for rec in records_for(reg, path):
            existing = [r for r in registry.all(type(rec)) if r.name == rec.name]
            if any(r.owner == OWNER for r in existing):
                continue  # declared by another script of this configuration: the first wins
            try:
                registry.add(rec, OWNER)
            except PluginError as exc:
                raise ctx.error(f"'{ctx.keyword}' : {path}: {exc}.") from None


def register(ctx: Any, kind: str, name: str, fn: Any, *extra: Any) -> None:
    """A ``core.register_*`` call of a script being loaded: add the real record to the
    configuration's registry (raises LuaError, which the script sees, on a bad call)."""
    from lupa.lua54 import LuaError, lua_type

    from . import applets, calls

    state = ctx.config.ext[EXT]["loading"]
    full = f"lua.{name}"
    where = f"\n\nRegistered by the Lua script {ctx.config.ext[EXT]['scripts'][-1]['path']}."
    rec: Record
    if kind == "action":
        words = list(extra[0].values()) if lua_type(extra[0]) == "table" else [extra[0]]
        sets: set[RuleSet] = set()
        for w in words:
            if w not in _RULESETS:
                raise LuaError(f"register_action: unknown action type '{w}'")
            sets.update(_RULESETS[w])
        nargs = int(extra[1] or 0)
        rec = Action(full, rulesets=frozenset(sets), parse=_action_parse(state, name, fn, nargs),
                     doc=f"{full}{' <arg>' * nargs}\n\nA Lua action taking {nargs} "
                         f"argument(s).{where}")
    elif kind == "fetches":
        rec = Fetch(full, args=_LUA_ARGS, out_type=SmpType.STR, uses=Use.INTERNAL,
                    process=calls.fetch_process(state, name, fn),
                    doc=f"{full}([<arg>...])\n\nA Lua sample fetch.{where}")
    elif kind == "converters":
        rec = Converter(full, args=_LUA_ARGS, in_type=SmpType.STR, out_type=SmpType.STR,
                        process=calls.converter_process(state, name, fn),
                        doc=f"{full}([<arg>...])\n\nA Lua converter.{where}")
    elif kind == "service":
        mode = str(extra[0])
        if mode not in ("tcp", "http"):
            raise LuaError(f"register_service: '{mode}' is not a known mode (tcp or http)")
        cls = applets.HttpService if mode == "http" else applets.TcpService

        def factory(pctx: Any, args: list[str], cls: Any = cls) -> Any:
            if args:
                from hapx.core.rules import UnexpectedWord

                raise UnexpectedWord(args[0])
            return cls(state, name, fn)
        rec = Service(full, modes=frozenset({mode}), factory=factory,
                      doc=f"{full}\n\nA Lua {mode} service.{where}")
    elif kind == "filter":
        from . import filters

        if lua_type(extra[0]) != "table":
            raise LuaError("register_filter: the filter class must be a table")
        rec = Filter(full, parse=_lua_filter_parse(state, name, extra[0], fn),
                     ops=filters.LuaFilter,
                     doc=f"{full} [<arg>...]\n\nA Lua filter: its callbacks see the HTTP "
                         f"messages and bodies of the streams of the proxy.{where}")
    elif kind == "cli":
        from . import cli

        if lua_type(extra[0]) != "table":
            raise LuaError("register_cli: the command words must be a table of strings")
        words = tuple(str(w) for _, w in sorted(extra[0].items()))
        if not words or len(words) > 5:
            raise LuaError("register_cli: 1 to 5 command words expected")
        usage = str(extra[1] or "")
        rec = CliCommand(" ".join(words), words=words, level="user", usage=usage,
                         handler=cli.handler(state, " ".join(words), fn),
                         doc=f"{' '.join(words)}\n\n{usage or 'A Lua command.'}{where}")
    else:
        raise LuaError(f"register_{kind}: not supported")
    try:
        ctx.registry.add(rec, OWNER)
    except PluginError as exc:
        raise LuaError(str(exc)) from None
    state.reset_tables()


def _prepend(ctx: Any, args: list[str]) -> None:
    if not args or len(args) > 2 or (len(args) == 2 and args[1] not in ("path", "cpath")):
        raise ctx.error("'lua-prepend-path' expects a path and optionally 'path' or 'cpath'.")
    entry = (args[0], args[1] if len(args) == 2 else "path")
    state = _state(ctx.config)
    state["prepend"].append(entry)
    for rt in lua_states(ctx.config):
        rt.prepend_path(*entry)


def _bool_conv(ctx: Any, values: list[Any]) -> Any:
    state = ctx.config.ext.get(EXT)
    if state and state["scripts"]:
        ctx.warning(f"'{BOOL_CONV}' set after 'lua-load' is ignored for the Lua files "
                    "loaded before it; place it before any 'lua-load'.")
    return values[0]


def _mb(text: str) -> int:
    return v_int(0)(text)


@hookimpl
def hapx_addhooks(pluginmanager: Any) -> None:
    """Add ``hapx_lua_api``: the hook other plugins extend the Lua API with."""
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def hapx_configure(config: Any) -> None:
    """The tune.lua.* values of the whole global section apply to the Lua state."""
    for state in lua_states(config):
        state.apply_settings()


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    """Run the register_init functions, then start the register_task ones."""
    states = [s for s in lua_states(config) if s.inits or s.tasks]
    if not states:
        return
    import asyncio

    from .tasks import start_tasks

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    config.ext[EXT]["tasks"] = [t for s in states for t in start_tasks(s)]


@hookimpl
def hapx_shutdown(config: Any, runtime: Any) -> None:
    for task in (config.ext.get(EXT) or {}).get("tasks", ()):
        task.cancel()


@hookimpl
def hapx_register_features(features: Any) -> None:
    features.add(Feature(
        "LUA", enabled=HAVE_LUPA,
        doc="LUA\n\nLua scripting through lupa: present when the lupa package is installed."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    g = GLOBAL
    directives.add(
        Directive("lua-load", sections=g, parse=_load, active=HAVE_LUPA,
                  doc="lua-load <file> [<arg>...]\n\nLoad a Lua script into the shared Lua "
                      "state; its core.register_* calls declare lua.<name> keywords.  The "
                      "arguments reach the script through table.unpack(...)."),
        Directive("lua-load-per-thread", sections=g, parse=_load, active=HAVE_LUPA,
                  doc="lua-load-per-thread <file> [<arg>...]\n\nLoad a Lua script into one "
                      "Lua state per thread: hapx runs one thread per process, so this is "
                      "one state of its own, whose globals are not those of the lua-load "
                      "scripts (core.thread is 1 there, 0 in the shared state)."),
        Directive("lua-prepend-path", sections=g, parse=_prepend, active=HAVE_LUPA,
                  doc="lua-prepend-path <string> [<type>]\n\nPrepend to Lua's package.path "
                      "(type 'path', default) or package.cpath ('cpath')."),
        simple_directive(BOOL_CONV, g, f"{BOOL_CONV} {{ normal | pre-3.1-bug }}\n\nWhether "
                         "boolean samples reach Lua as booleans (normal) or as integers.",
                         [v_choice("normal", "pre-3.1-bug")], check=_bool_conv, active=HAVE_LUPA),
        simple_directive("tune.lua.forced-yield", g, "tune.lua.forced-yield <number>\n\n"
                         "Lua instructions executed before a forced yield (default 10000).",
                         [v_int(1)], active=HAVE_LUPA),
        simple_directive("tune.lua.maxmem", g, "tune.lua.maxmem <megabytes>\n\nMemory limit "
                         "of Lua (0 = none).", [_mb], active=HAVE_LUPA),
        simple_directive("tune.lua.session-timeout", g, "tune.lua.session-timeout "
                         "<timeout>\n\nMaximum run time of a Lua action or fetch (default "
                         "4s).", [v_time()], active=HAVE_LUPA),
        simple_directive("tune.lua.task-timeout", g, "tune.lua.task-timeout <timeout>\n\n"
                         "Maximum run time of a Lua task (default none).", [v_time()], active=HAVE_LUPA),
        simple_directive("tune.lua.service-timeout", g, "tune.lua.service-timeout "
                         "<timeout>\n\nMaximum run time of a Lua service (default 4s).",
                         [v_time()], active=HAVE_LUPA),
        simple_directive("tune.lua.burst-timeout", g, "tune.lua.burst-timeout <timeout>\n\n"
                         "Maximum time a Lua function runs without yielding (default "
                         "1000ms).", [v_time()], active=HAVE_LUPA),
        simple_directive("tune.lua.log.loggers", g, "tune.lua.log.loggers { on | off }\n\n"
                         "Send the Lua log messages (core.log, txn:log ...) to the loggers of "
                         "the stream's proxy, or the global ones outside a stream (default "
                         "on).",
                         [v_choice("on", "off")], active=HAVE_LUPA),
        simple_directive("tune.lua.log.stderr", g, "tune.lua.log.stderr { on | auto | off }"
                         "\n\nCopy the Lua log messages to stderr: always (on), only when no "
                         "logger took them (auto, default), or never (off).",
                         [v_choice("on", "auto", "off")], active=HAVE_LUPA),
    )


def loaded_scripts(config: Any) -> list[str]:
    """Paths of the scripts the configuration loads."""
    state = config.ext.get(EXT) or {}
    return [s["path"] for s in state.get("scripts", [])]


__all__ = ["LuaCall", "loaded_scripts", "records_for", "scan"]

