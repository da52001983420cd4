"""``core.register_cli(words, usage, fn)``: a runtime API command written in Lua.

The command is a :class:`~hapx.core.records.CliCommand` of the configuration's registry, so
the stats socket finds it like any other.  ``fn(applet, word1, word2, ...)`` gets every word
of the command line (the command's own words first) and an applet whose ``send`` writes to
the CLI output; the command has no input after its line (``receive``/``getline`` return
"").  It runs as a coroutine and may block (``core.sleep``, sockets ...).
"""

from __future__ import annotations

from typing import Any

from .runtime import LuaState


class CliApplet:
    """The applet a Lua CLI command writes to."""

    def __init__(self) -> None:
        self.out: list[str] = []

    def send(self, data: str) -> None:
        self.out.append(data)

    def try_receive(self) -> str:
        return ""

    async def serve(self, op: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return ("",)


def handler(state: LuaState, name: str, fn: Any) -> Any:
    """The CliCommand handler running ``fn``."""

    async def run(cli: Any, args: list[str]) -> str:
        ap = CliApplet()
        lap = state.new_applet("tcp", None, ap, None)
        co = state.start(fn, state.service_ms, lap, *args)
        res = await state.drive(co, state.step_once(co))
        if res[0] == "error":
            ap.send(f"Lua cli '{name}': runtime error: {res[1]}\n")
        return "".join(ap.out)
    return run
