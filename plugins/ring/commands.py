"""``show events [<sink>] [-w] [-n] [-0]``: the sinks of the configuration, or the events of
one ring (HAProxy's ``cli_parse_show_events`` and ring CLI reader).

Without a sink the list ``    <name> : type=<fd|buffer>, <n> dropped, <description>``.  With
a ring: its events, each ended by LF (``-0``: by NUL); ``-n`` starts after the events
already present; ``-w`` then waits for new events and streams them until the client goes
away.  Dumping a ring needs level operator.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from hapx.core.runtime.cli_api import PERMISSION_DENIED, cli_command
from hapx.core.sinks import RingSink, sinks_of

HEADER = ("Supported events sinks are listed below. Add -w(wait), -n(new). Any key to "
          "stop\n")


def _listing(config: Any) -> str:
    out = [HEADER]
    for sink in sinks_of(config):
        out.append(f"    {sink.name:<10} : type={sink.type}, {sink.dropped} dropped, "
                   f"{sink.desc}\n")
    return "".join(out)


def _dump(ring: RingSink, seq: int, end: bytes) -> tuple[int, str]:
    events = ring.events_after(seq)
    if not events:
        return seq, ""
    text = b"".join(data + end for _, data in events)
    return events[-1][0], text.decode("latin-1")


async def _follow(ring: RingSink, seq: int, end: bytes) -> AsyncIterator[str]:
    """Stream the events after ``seq``, waiting for new ones, forever (the session ends it
    when sending fails)."""
    while True:
        seq, text = _dump(ring, seq, end)
        if text:
            yield text
        ev = anyio.Event()
        ring.add_waiter(ev.set)
        try:
            if not ring.events_after(seq):
                await ev.wait()
        finally:
            ring.remove_waiter(ev.set)


def show_events(cli: Any, args: list[str]) -> Any:
    words = args[2:]
    if not words:
        return _listing(cli.config)
    if not cli.has_level("operator"):
        return PERMISSION_DENIED
    sink = sinks_of(cli.config).get(words[0])
    if sink is None:
        return "No such event sink"  # HAProxy: no LF of its own
    if not isinstance(sink, RingSink):
        return "Nothing to report for this sink"
    wait = seek_new = False
    end = b"\n"
    for opt in words[1:]:
        if opt.startswith("-") and len(opt) > 1 and set(opt[1:]) <= set("wn0"):
            wait |= "w" in opt
            seek_new |= "n" in opt
            if "0" in opt:
                end = b"\0"
        else:
            return "unknown option"
    ring = sink
    seq = ring.seq if seek_new else 0
    if wait:
        return _follow(ring, seq, end)
    return _dump(ring, seq, end)[1]


COMMANDS = (
    cli_command(
        "show events [<sink>] [-w] [-n] [-0]", show_events, level="user", explain=(
            "Show event sink state. Without argument the list of sinks; with a ring its events (-w "
            "waits for new ones, -n skips those present, -0 ends each event with a NUL).")),
)
