"""``program`` sections (deprecated in HAProxy 3.1+): external programs the master process
starts and supervises.  Parse and validate only (inactive)."""

from __future__ import annotations

from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import declare_section, simple_directive, v_str

KIND = "program"


def _extra(ctx: Any, sec: Any, words: list[str]) -> None:
    if words:
        raise ctx.error(f"'program' takes only a name (got '{words[0]}').")
    ctx.warning("The 'program' section is deprecated and will be removed in a future "
                "version; use an external process manager instead.")


def _command(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'command' expects a command line.")
    ctx.section.settings["command"] = list(args)


def _start_on_reload(ctx: Any, args: list[str]) -> None:
    if args:
        raise ctx.error("'option start-on-reload' takes no argument.")
    ctx.section.settings["option start-on-reload"] = ctx.prefix != "no"


def _post(ctx: Any, sec: Any) -> None:
    if "command" not in sec.settings:
        raise ctx.error(f"program '{sec.name}' : no command found.")


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, extra=_extra, post=_post,
                                 doc="program <name>\n\nAn external program started by the "
                                     "master process (deprecated)."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("command", sections=sec, parse=_command, active=False,
                  doc="command <command> [arguments*]\n\nThe program and its arguments."),
        simple_directive("user", sec, "user <user name>\n\nRun the program as this user.",
                         [v_str]),
        simple_directive("group", sec, "group <group name>\n\nRun the program with this "
                         "group.", [v_str]),
        Directive("option start-on-reload", sections=sec, parse=_start_on_reload,
                  negatable=True, active=False,
                  doc="option start-on-reload\n\nRestart the program on every reload "
                      "(default)."),
    )
