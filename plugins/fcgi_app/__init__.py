"""``fcgi-app`` sections (FastCGI applications) and the backends' ``use-fcgi-app``.  The
FastCGI multiplexer comes in a later issue: parse and validate only (inactive)."""

from __future__ import annotations

import re
from typing import Any

from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import declare_section, simple_directive, v_int, v_str

KIND = "fcgi-app"


def _regex(text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise ValueError(f"invalid regex '{text}': {exc}") from None


def _rule(kind: str) -> Any:
    """``pass-header <name> [cond]`` and ``set-param <name> <fmt> [cond]``."""
    def parse(ctx: Any, args: list[str]) -> None:
        need = 1 if kind == "pass-header" else 2
        head = [a for a in args[:need] if a not in ("if", "unless")]
        if len(head) < need:
            usage = "<name>" if need == 1 else "<name> <format>"
            raise ctx.error(f"'{kind}' expects {usage} [ {{ if | unless }} <condition> ].")
        cond = args[need:]
        if cond and cond[0] not in ("if", "unless"):
            raise ctx.error(f"'{kind}' expects 'if' or 'unless' followed by a condition, "
                            f"got '{cond[0]}'.")
        ctx.section.settings.setdefault(kind, []).append((tuple(head), tuple(cond)))
    return parse


def _log_stderr(ctx: Any, args: list[str]) -> None:
    if not args:
        raise ctx.error("'log-stderr' expects 'global' or a log target.")
    ctx.section.settings.setdefault("log-stderr", []).append(list(args))


def _option(word: str) -> Any:
    def parse(ctx: Any, args: list[str]) -> None:
        if args:
            raise ctx.error(f"'option {word}' takes no argument.")
        ctx.section.settings[f"option {word}"] = ctx.prefix != "no"
    return parse


def _post(ctx: Any, sec: Any) -> None:
    if "docroot" not in sec.settings:
        raise ctx.error(f"fcgi-app '{sec.name}' : no docroot configured.")


def _use(ctx: Any, values: list[Any]) -> str:
    name = values[0]

    def check(config: Any) -> None:
        if name not in config.sections.get(KIND, {}):
            raise ctx.error(f"'use-fcgi-app' : unable to find FCGI application '{name}'.")
        if ctx.section.mode != "http":
            raise ctx.error(f"'use-fcgi-app' : {ctx.section.kind} '{ctx.section.name}' must "
                            "be in 'mode http'.")
    ctx.defer(check)
    return name


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, post=_post, doc="fcgi-app <name>\n\nA FastCGI "
                                 "application a backend talks to with 'use-fcgi-app'."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        simple_directive("docroot", sec, "docroot <path>\n\nDocument root on the "
                         "application server (mandatory).", [v_str]),
        simple_directive("index", sec, "index <script-name>\n\nScript appended to URIs "
                         "ending in '/'.", [v_str]),
        simple_directive("path-info", sec, "path-info <regex>\n\nRegex splitting the path "
                         "into SCRIPT_NAME and PATH_INFO.", [_regex]),
        Directive("log-stderr", sections=sec, parse=_log_stderr, active=False,
                  doc="log-stderr global | <target> [len <n>] [format <fmt>] <facility> "
                      "[<level> [<minlevel>]]\n\nWhere the application's STDERR goes."),
        Directive("option get-values", sections=sec, parse=_option("get-values"),
                  negatable=True, active=False,
                  doc="option get-values\n\nAsk the application for its limits."),
        Directive("option keep-conn", sections=sec, parse=_option("keep-conn"),
                  negatable=True, active=False,
                  doc="option keep-conn\n\nKeep connections to the application open."),
        Directive("option mpxs-conns", sections=sec, parse=_option("mpxs-conns"),
                  negatable=True, active=False,
                  doc="option mpxs-conns\n\nMultiplex requests on connections."),
        simple_directive("option max-reqs", sec, "option max-reqs <reqs>\n\nMaximum "
                         "concurrent requests per connection (default 1).", [v_int(1)]),
        Directive("pass-header", sections=sec, parse=_rule("pass-header"), active=False,
                  doc="pass-header <name> [ { if | unless } <condition> ]\n\nPass this "
                      "request header as an HTTP_* parameter."),
        Directive("set-param", sections=sec, parse=_rule("set-param"), active=False,
                  doc="set-param <name> <fmt> [ { if | unless } <condition> ]\n\nSet a "
                      "FastCGI parameter from a log-format string."),
        simple_directive("use-fcgi-app", frozenset({"backend", "listen"}), "use-fcgi-app "
                         "<name>\n\nTalk FastCGI to this backend's servers.", [v_str],
                         check=_use),
    )
