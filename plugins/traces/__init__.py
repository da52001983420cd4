"""The ``traces`` section: traces started at boot (``trace <source> ...`` lines, as the
runtime API's ``trace`` command takes them).  Tracing comes in a later issue: parse and
validate only (inactive)."""

from __future__ import annotations

from typing import Any

from hapx.core.errors import did_you_mean
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import declare_section

KIND = "traces"
SOURCES = ("applet", "check", "fcgi", "h1", "h2", "h3", "peers", "qmux", "quic", "ssl",
           "spop", "stream", "acme", "session", "listener", "mux", "haterm")
ACTIONS = ("event", "level", "lock", "sink", "start", "stop", "pause", "verbosity", "follow")
LEVELS = ("error", "user", "proto", "state", "data", "developer")


def _trace(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'trace' expects a trace source.")
    source = args[0]
    if source not in SOURCES:
        raise ctx.error(f"'trace' : unknown trace source '{source}'"
                        f"{did_you_mean(source, SOURCES)}.")
    i = 1
    settings: dict[str, Any] = {}
    while i < len(args):
        word = args[i]
        if word not in ACTIONS:
            raise ctx.error(f"'trace {source}' : unknown keyword '{word}'"
                            f"{did_you_mean(word, ACTIONS)}.")
        if i + 1 >= len(args):
            raise ctx.error(f"'trace {source} {word}' expects an argument.")
        value = args[i + 1]
        if word == "level" and value not in LEVELS:
            raise ctx.error(f"'trace {source} level' : unknown level '{value}' (expects one "
                            f"of {', '.join(LEVELS)}).")
        settings[word] = value
        i += 2
    ctx.section.settings.setdefault("trace", []).append((source, settings))


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, name="none", unique=False,
                                 doc="traces\n\nTraces enabled from startup."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "trace", sections=frozenset({KIND}), parse=_trace, active=False,
        doc="trace <source> [event ...] [level <level>] [sink <sink>] [start <ev>] [stop "
            "<ev>] [verbosity <v>] [lock <criterion>]\n\nStart a trace at boot."))
