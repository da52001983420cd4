"""What a script registers, made into records: fetches, converters and actions.

Every record closes over the :class:`~.runtime.LuaState` and the Lua function; nothing here
looks at the registry per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hapx.core.records import ActionRule, ActResult, RuleSet
from hapx.core.sample.types import Sample

from .runtime import LuaRuntimeError, LuaState, alert, from_lua

_HTTP_SETS = frozenset({RuleSet.HTTP_REQ, RuleSet.HTTP_RES, RuleSet.HTTP_AFTER_RES})
#: the key, in strm.ext, of the Lua calls an action is waiting for (by rule id)
WAITING = "lua_waiting"


_NO_WAITS = "this hapx cannot suspend rules: blocking Lua calls are not available in actions"


def _waits(name: str) -> Any:
    """``wake_on``/``wake_after``/``wake_on_body`` of the data path (None when this hapx's
    data path cannot suspend rules)."""
    try:
        from hapx.core.runtime import waits
    except ImportError:
        return None
    return getattr(waits, name, None)


def _is_http(strm: Any) -> bool:
    return strm.req is not None and bool(strm.req.method)


def fetch_process(state: LuaState, name: str, fn: Any) -> Any:
    """The ``process(args, strm)`` of a ``lua.<name>`` fetch."""

    def process(args: list[Any], strm: Any) -> Sample | None:
        txn = state.new_txn(strm, _is_http(strm))
        try:
            res = state.call_sync(fn, state.session_ms, f"Lua sample-fetch '{name}'", txn,
                                  *[a for a in args if a is not None])
        except LuaRuntimeError as exc:
            alert(f"Lua sample-fetch '{name}': runtime error: {exc}")
            return None
        return from_lua(res[1]) if res[0] == "done" and len(res) > 1 else None
    return process


def converter_process(state: LuaState, name: str, fn: Any) -> Any:
    """The ``process(args, smp, strm)`` of a ``lua.<name>`` converter."""

    def process(args: list[Any], smp: Sample, strm: Any) -> Sample | None:
        value = state.to_lua(smp, False)
        try:
            res = state.call_sync(fn, state.session_ms, f"Lua converter '{name}'", value,
                                  *[a for a in args if a is not None])
        except LuaRuntimeError as exc:
            alert(f"Lua converter '{name}': runtime error: {exc}")
            return None
        return from_lua(res[1]) if res[0] == "done" and len(res) > 1 else None
    return process


class LuaAction(ActionRule):
    """``lua.<name> [args]``: the Lua function runs as a coroutine; when it blocks (sleep,
    socket...) the rule waits for it (``wake_on``) and the other streams go on."""

    def __init__(self, state: LuaState, name: str, fn: Any, args: tuple[str, ...],
                 ruleset: RuleSet | None) -> None:
        self.state, self.name, self.fn, self.args = state, name, fn, args
        self.http = ruleset in _HTTP_SETS

    def run(self, strm: Any) -> ActResult:
        waiting = strm.ext.get(WAITING)
        if waiting:
            task = waiting.pop(id(self), None)
            if task is not None:
                return self.finish(strm, task.result())
        st = self.state
        st.wake_ms = None
        co = st.start(self.fn, st.session_ms, st.new_txn(strm, self.http), *self.args)
        res = st.step_once(co)
        if res[0] == "yield":
            wake_on = _waits("wake_on")
            if wake_on is None:
                return self.finish(strm, ("error", _NO_WAITS))
            task = asyncio.get_running_loop().create_task(st.drive(co, res))
            strm.ext.setdefault(WAITING, {})[id(self)] = task
            return wake_on(strm, task)
        return self.finish(strm, res)

    def finish(self, strm: Any, res: tuple[Any, ...]) -> ActResult:
        kind = res[0]
        if kind == "error":
            alert(f"Lua function '{self.name}': runtime error: {res[1]}")
            return ActResult.CONT
        if kind == "txndone":
            reply = strm.ext.pop("lua_done", None)
            if reply is not None and self.http:
                strm.ext["http_reply"] = reply
                return ActResult.DONE
            return ActResult.ABORT
        value = res[1] if len(res) > 1 else None
        if value is None:
            return ActResult.CONT
        try:
            ret = ActResult(int(value))
        except ValueError:
            return ActResult.CONT
        if ret == ActResult.YIELD:
            wake_after = _waits("wake_after")
            if wake_after is None:
                return self.finish(strm, ("error", _NO_WAITS))
            ms = self.state.wake_ms
            return wake_after(strm, ms if ms is not None else 0)
        return ret
