"""``core.register_init`` and ``core.register_task``: run when the process starts.

Init functions run one after the other before the tasks start (HAProxy runs them before
traffic); each task is a Lua coroutine driven from the asyncio loop for as long as it runs
(``tune.lua.task-timeout`` limits its Lua run time; none by default).
"""

from __future__ import annotations

import asyncio
from typing import Any

from .runtime import LuaState, alert


async def _run(state: LuaState, fn: Any, limit: int, what: str, *args: Any) -> None:
    co = state.start(fn, limit, *args)
    res = await state.drive(co, state.step_once(co))
    if res[0] == "error":
        alert(f"Lua {what}: runtime error: {res[1]}")


async def _inits_then_tasks(state: LuaState, started: list[asyncio.Task[None]]) -> None:
    for fn in state.inits:
        await _run(state, fn, state.session_ms, "init")
    loop = asyncio.get_running_loop()
    for fn, args in state.tasks:
        started.append(loop.create_task(_run(state, fn, state.task_ms, "task", *args)))


def start_tasks(state: LuaState) -> list[asyncio.Task[None]]:
    """Start the init functions then the tasks; the list grows with the task handles."""
    started: list[asyncio.Task[None]] = []
    started.append(asyncio.get_running_loop().create_task(_inits_then_tasks(state, started)))
    return started
