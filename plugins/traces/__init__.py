"""Traces: the ``traces`` section (``trace <source> ...`` lines applied at boot) and the
runtime API's ``trace`` and ``show trace`` commands, over the trace sources plugins
register in the kernel (:mod:`hapx.core.trace`; :mod:`.control` has the command)."""

from __future__ import annotations

import copy
from typing import Any

from hapx.core.errors import ConfigError, did_you_mean
from hapx.core.hookspecs import hookimpl
from hapx.core.records import CliCommand, Directive
from hapx.core.runtime import ktraces  # noqa: F401 - registers the kernel's h1/stream sources
from hapx.core.trace import SOURCES, reset_all
from hapx.plugins.confkit import declare_section

from .control import TraceError, run_trace, show_trace

KIND = "traces"
#: HAProxy 3.2's trace sources (those hapx has not registered are refused at start)
HAPROXY_SOURCES = ("applet", "check", "fcgi", "h1", "h2", "h3", "peers", "qmux", "quic",
                   "ssl", "spop", "stream", "acme", "session", "listener", "mux", "haterm",
                   "pt")


def _trace(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'trace' expects a trace source.")
    source = args[0]
    if source not in SOURCES:
        if source not in HAPROXY_SOURCES:
            raise ctx.error(f"'trace' : unknown trace source '{source}'"
                            f"{did_you_mean(source, tuple(SOURCES) + HAPROXY_SOURCES)}.")
        ctx.mark_inactive(f"trace {source}", "trace source", "traces")
    lines = ctx.config.global_.settings.setdefault("traces", [])
    lines.append((list(args), ctx.file, ctx.line))
    if source in SOURCES:
        ctx.defer(_check(list(args)))


def _check(words: list[str]):  # noqa: ANN202 - a deferred callback
    """Try the line on a copy of its source once the sinks are known."""
    def check(config: Any) -> None:
        trial = copy.copy(SOURCES[words[0]])
        trial.reset()
        try:
            run_trace(words, config, {words[0]: trial})
        except TraceError as exc:
            raise ConfigError(f"'trace {' '.join(words)}' : {exc}.") from None
    return check


def _boot_lines(config: Any) -> list[tuple[list[str], str, int]]:
    return [ln for ln in config.global_.settings.get("traces", []) if ln[0][0] in SOURCES]


@hookimpl
def hapx_startup(config: Any, runtime: Any) -> None:
    reset_all()
    for words, _file, _line in _boot_lines(config):
        run_trace(words, config)


def _cli_trace(cli: Any, args: list[str]) -> str:
    try:
        return run_trace(args[1:], cli.config)
    except TraceError as exc:
        return str(exc)  # HAProxy prints these messages without a LF of their own


def _cli_show_trace(cli: Any, args: list[str]) -> str:
    try:
        return show_trace(args[2:])
    except TraceError as exc:
        return str(exc)  # HAProxy prints these messages without a LF of their own


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, name="none", unique=False, active=True,
                                 doc="traces\n\nTraces enabled from startup."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "trace", sections=frozenset({KIND}), parse=_trace, active=True,
        doc="trace <source> [event ...] [level <level>] [sink <sink>] [start <ev>] [stop "
            "<ev>] [pause <ev>] [verbosity <v>] [lock <criterion>]\n\nConfigure a trace "
            "source at boot, as the runtime API's trace command does."))


@hookimpl
def hapx_register_cli_commands(commands: Any) -> None:
    from .debugcmd import COMMANDS as DEBUG_COMMANDS
    commands.add(*DEBUG_COMMANDS)
    commands.add(
        CliCommand("trace", words=("trace",), level="operator", handler=_cli_trace,
                   usage="trace [<module>|0] [cmd [args...]]",
                   doc="trace [<module>|0] [cmd [args...]]\n\nManage live tracing (empty to "
                       "list, 0 to stop all)."),
        CliCommand("show trace", words=("show", "trace"), level="operator",
                   handler=_cli_show_trace, usage="show trace [<module>]",
                   doc="show trace [<module>]\n\nShow live tracing state."),
    )
