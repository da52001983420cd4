"""The ``trace`` command (runtime API and ``traces`` section) over the kernel's trace
sources (:mod:`hapx.core.trace`), with HAProxy's listings and messages.

``trace`` lists the sources, ``trace 0`` stops them all, ``trace <src>`` lists the
commands, ``trace <src> <keyword> [<value>] [<keyword> <value>]...`` applies each pair in
turn (a keyword without value lists its choices): ``event``, ``level``, ``lock``, ``sink``,
``start``, ``stop``, ``pause``, ``verbosity``.  ``show trace [<src>]`` gives their state.
"""

from __future__ import annotations

from typing import Any

from hapx.core.sinks import sinks_of
from hapx.core.trace import LEVELS, SOURCES, TraceSource

KEYWORDS = (
    ("event", "list/enable/disable source-specific event reporting"),
    ("level", "list/set trace reporting level"),
    ("lock", "automatic lock on thread/connection/stream/..."),
    ("pause", "pause and automatically restart after a specific event"),
    ("sink", "list/set event sinks"),
    ("start", "start immediately or after a specific event"),
    ("stop", "stop immediately or after a specific event"),
    ("verbosity", "list/set trace output verbosity"),
)
_STATE_CHAR = {"stopped": ".", "waiting": "w", "running": "R"}


class TraceError(Exception):
    """HAProxy's error message for a bad trace command."""


def commands_help() -> str:
    return "Supported commands:\n" + "".join(f"  {k:<9} : {d}\n" for k, d in KEYWORDS)


def sources_listing() -> str:
    out = ["Supported trace sources and states (.=stopped, w=waiting, R=running) :\n",
           f" [.] {'0':<10} : not a source, will immediately stop all traces\n"]
    for src in SOURCES.values():
        out.append(f" [{_STATE_CHAR[src.state]}] {src.name:<10} : {src.desc}\n")
    return "".join(out) + "\n" + commands_help()


def _events_listing(src: TraceSource, which: str) -> str:
    enabled = {"event": src.report, "start": src.start_on, "stop": src.stop_on,
               "pause": src.pause_on}[which]
    out = [f"Supported events for source {src.name} (+=enabled, -=disabled):\n"]
    if which != "event":
        out.append(f"  - {'now':<12} : don't wait for events, immediately change the "
                   "state\n")
    out.append(f"  - {'none':<12} : disable all event types\n")
    out.append(f"  - {'any':<12} : enable all event types\n")
    for name, desc in src.events:
        out.append(f"  {'+' if name in enabled else '-'} {name:<12} : {desc}\n")
    return "".join(out)


def _choices(title: str, items: list[tuple[str, str]], current: str) -> str:
    return title + "".join(f"  {'*' if n == current else ' '} {n:<10} : {d}\n"
                           for n, d in items)


def _listing(src: TraceSource, keyword: str, config: Any) -> str:
    if keyword in ("event", "start", "stop", "pause"):
        return _events_listing(src, keyword)
    if keyword == "level":
        return _choices(f"Supported trace levels for source {src.name}:\n", list(LEVELS),
                        LEVELS[src.level][0])
    if keyword == "verbosity":
        items = list(src.verbosity_list())
        return _choices(f"Supported trace verbosities for source {src.name}:\n", items,
                        items[src.verbosity][0])
    if keyword == "lock":
        return _choices(f"Supported lock-on criteria for source {src.name}:\n",
                        src.lock_list(), src.lock)
    items = [("none", "no sink")] + [(s.name, s.desc) for s in sinks_of(config)]
    return _choices(f"Supported sinks for source {src.name} (*=current):\n", items,
                    src.sink.name if src.sink is not None else "none")


def _set_events(src: TraceSource, keyword: str, value: str) -> None:
    if keyword != "event" and value == "now":
        src.set_state({"start": "running", "stop": "stopped", "pause": "waiting"}[keyword])
        return
    target = {"event": src.report, "start": src.start_on, "stop": src.stop_on,
              "pause": src.pause_on}[keyword]
    neg = value[:1] in ("-", "!")
    name = value[1:] if value[:1] in ("-", "!", "+") else value
    if name == "none":
        target.clear()
    elif name == "any":
        if neg:
            target.clear()
        else:
            target.update(src.event_names)
    elif name in src.event_names:
        if neg:
            target.discard(name)
        else:
            target.add(name)
    else:
        raise TraceError("No such trace event")
    if keyword == "start" and target and src.state == "stopped":
        src.set_state("waiting")


def _set(src: TraceSource, keyword: str, value: str, config: Any) -> None:
    if keyword in ("event", "start", "stop", "pause"):
        _set_events(src, keyword, value)
    elif keyword == "level":
        names = [n for n, _ in LEVELS]
        if value not in names:
            raise TraceError("No such trace level")
        src.level = names.index(value)
    elif keyword == "verbosity":
        names = [n for n, _ in src.verbosity_list()]
        if value not in names:
            raise TraceError("No such verbosity level")
        src.verbosity = names.index(value)
    elif keyword == "lock":
        if value not in [n for n, _ in src.lock_list()]:
            raise TraceError("Unsupported lock-on criterion")
        src.lock, src.lock_value = value, None
    elif keyword == "sink":
        if value == "none":
            src.sink = None
            return
        sink = sinks_of(config).get(value)
        if sink is None:
            raise TraceError("No such sink")
        src.sink = sink


def run_trace(words: list[str], config: Any, sources: dict[str, TraceSource] | None = None
              ) -> str:
    """Run ``trace <words...>``; the output.  Raises TraceError with HAProxy's message."""
    sources = SOURCES if sources is None else sources
    if not words:
        return sources_listing()
    if words[0] == "0":
        for src in sources.values():
            src.set_state("stopped")
        return ""
    src = sources.get(words[0])
    if src is None:
        raise TraceError("No such trace source")
    if len(words) == 1:
        return commands_help()
    i = 1
    while i < len(words):
        keyword = words[i]
        if keyword not in dict(KEYWORDS):
            raise TraceError("Unknown trace keyword")
        if i + 1 >= len(words):
            return _listing(src, keyword, config)
        _set(src, keyword, words[i + 1], config)
        i += 2
    return ""


def show_trace(words: list[str]) -> str:
    """``show trace [<source>]``."""
    if not words:
        out = ["Supported trace sources and states (.=stopped, w=waiting, R=running) :\n"]
        for src in SOURCES.values():
            sink = src.sink.name if src.sink is not None else "none"
            out.append(f" [{_STATE_CHAR[src.state]}] {src.name:<10} -> {sink} "
                       f"[drp {src.dropped}]  [{src.desc}]\n")
        return "".join(out)
    src = SOURCES.get(words[0])
    if src is None:
        raise TraceError("No such trace source")
    sink = src.sink
    out = [f"Trace status for {src.name}:\n",
           f"  - sink: {sink.name if sink is not None else 'none'} "
           f"[{sink.dropped if sink is not None else 0} dropped]\n",
           "  - event name   :     report    start    stop    pause\n"]
    for name, _ in src.events:
        def mark(s: set[str], n: str = name) -> str:
            return "+" if n in s else "-"
        out.append(f"    {name:<12} :        {mark(src.report)}        {mark(src.start_on)}"
                   f"        {mark(src.stop_on)}       {mark(src.pause_on)}\n")
    return "".join(out)
