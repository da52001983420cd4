"""The kernel's own records: the section structure (global, defaults, frontend, backend,
listen) and the plugin-selection keywords of the global section.  Everything said inside
these sections belongs to plugins."""

from __future__ import annotations

import re
from typing import Any

from ..hookspecs import hookimpl
from ..records import Directive, Section
from .model import GLOBAL, PROXY_NAME, Config, Proxy

_LAST_DEFAULTS = "kernel.last_defaults"


def _global_header(ctx: Any, args: list[str]) -> Any:
    if args:
        raise ctx.error("'global' takes no argument.")
    g = ctx.config.global_
    if not g.file:
        g.file, g.line = ctx.file, ctx.line
    return g


def _check_name(ctx: Any, kind: str, name: str) -> None:
    if not PROXY_NAME.match(name):
        bad = next(c for c in name if not PROXY_NAME.match(c))
        raise ctx.error(f"character '{bad}' is not permitted in '{kind}' name '{name}'.")


def _find_defaults(ctx: Any, config: Config, kind: str, name: str, args: list[str]
                   ) -> Proxy | None:
    """The defaults a new section inherits: ``from NAME`` or the last one declared."""
    if args:
        if args[0] != "from" or len(args) != 2:
            raise ctx.error(f"'{kind} {name}' only accepts 'from <defaults>' after its name.")
        ref = args[1]
        found = config.defaults.get(ref)
        if found is None:
            raise ctx.error(f"defaults section '{ref}' not found for {kind} '{name}'.")
        if found is ctx.section:
            raise ctx.error(f"defaults section '{ref}' cannot inherit from itself.")
        return found
    return config.ext.get(_LAST_DEFAULTS)


def _defaults_header(ctx: Any, args: list[str]) -> Proxy:
    config: Config = ctx.config
    name = ""
    rest = args
    if args and args[0] != "from":
        name, rest = args[0], args[1:]
        _check_name(ctx, "defaults", name)
    # a defaults section starts from scratch unless it names its parent with "from"
    parent = (_find_defaults(ctx, config, "defaults", name or "<anonymous>", rest)
              if rest else None)
    px = Proxy(name=name, kind="defaults", file=ctx.file, line=ctx.line)
    if parent is not None:
        px.inherit(parent)
    if name:
        prev = config.defaults.get(name)
        if prev is not None:
            ctx.warning(f"defaults section '{name}' has the same name as another defaults "
                        f"section declared at {prev.file}:{prev.line}; the last one wins.")
        config.defaults[name] = px
    config.ext[_LAST_DEFAULTS] = px
    return px


def _proxy_header(kind: str) -> Any:
    def header(ctx: Any, args: list[str]) -> Proxy:
        config: Config = ctx.config
        if not args or args[0] == "from":
            raise ctx.error(f"'{kind}' expects an <id> argument")
        name = args[0]
        _check_name(ctx, kind, name)
        px = Proxy(name=name, kind=kind, file=ctx.file, line=ctx.line)
        for other in config.named(name):
            if other.cap & px.cap:
                raise ctx.error(f"{kind} '{name}' has the same name as {other.kind} '{name}' "
                                f"declared at {other.file}:{other.line}.")
        parent = _find_defaults(ctx, config, kind, name, args[1:])
        if parent is not None:
            px.inherit(parent)
        px.uuid = len(config.proxies) + 1
        config.proxies.append(px)
        return px
    return header


def _plugin_selection(ctx: Any, args: list[str]) -> None:
    """Checked here; applied before the plugins load (see hapx.core.cli.main)."""
    if not args:
        raise ctx.error(f"'{ctx.keyword}' expects one or more plugin names.")
    known = ctx.config.plugins.infos if ctx.config.plugins else {}
    for name in args:
        if name not in known:
            raise ctx.error(f"'{ctx.keyword}': no installed plugin is named '{name}'.")


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(
        Section("global", parse_header=_global_header,
                doc="Process-wide settings.  Several global sections merge into one."),
        Section("defaults", parse_header=_defaults_header,
                doc="defaults [<name>] [from <defaults>]\n\nSettings inherited by the proxies "
                    "declared after it (or naming it with 'from')."),
        Section("frontend", parse_header=_proxy_header("frontend"),
                doc="frontend <name> [from <defaults>]\n\nA proxy that accepts connections."),
        Section("backend", parse_header=_proxy_header("backend"),
                doc="backend <name> [from <defaults>]\n\nA proxy that forwards to servers."),
        Section("listen", parse_header=_proxy_header("listen"),
                doc="listen <name> [from <defaults>]\n\nA frontend and a backend in one."),
    )


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(
        Directive("disable-plugin", sections=GLOBAL, parse=_plugin_selection,
                  doc="disable-plugin <name> [<name>...]\n\nDo not load these installed "
                      "plugins (the configuration is scanned for this line before plugins "
                      "load).  Essential plugins cannot be disabled."),
        Directive("enable-plugin", sections=GLOBAL, parse=_plugin_selection,
                  doc="enable-plugin <name> [<name>...]\n\nLoad these optional plugins from "
                      "the hapx.contrib entry-point group."),
    )


@hookimpl
def hapx_configure(config: Config) -> None:
    """Rules in a defaults section may serve frontends or backends, not both (HAProxy)."""
    for px in config.proxies:
        d = px.defaults
        while d is not None:
            if any(d.rules.values()):
                side = {"frontend": "frontend", "backend": "backend", "listen": "listen"}[px.kind]
                d.used_by.add(side)
                if "listen" in d.used_by or {"frontend", "backend"} <= d.used_by:
                    config.diag.alert(
                        f"{px.kind} '{px.name}' cannot use defaults section '{d.name}' because "
                        "its rules are already used by a proxy of another side (a defaults "
                        "section with rules serves either frontends or backends).",
                        px.file, px.line)
                    break
            d = d.defaults


_SECTION_WORDS = ("global", "defaults", "frontend", "backend", "listen")
#: the first word of a line up to a blank, or up to a character the tokenizer interprets
_FIRST_WORD = re.compile(r"[ \t]*([^ \t\"'\\$#]*)(.?)")


def scan_plugin_selection(paths: list[str]) -> tuple[list[str], list[str]]:
    """Find ``disable-plugin``/``enable-plugin`` lines in global sections before plugins
    load.  Errors are ignored here: the real parse reports them."""
    from .reader import expand_paths
    from .tokenizer import TokenizeError, tokenize

    disabled: list[str] = []
    enabled: list[str] = []
    for path in expand_paths(paths):
        try:
            with open(path, encoding="latin-1") as fh:
                lines = fh.read().splitlines()
        except OSError:
            continue
        in_global = False
        for text in lines:
            if not in_global and text[:1].isspace():
                # an indented line outside global matters only if it opens a section: skip
                # it without tokenizing when its first word is plain and opens none
                m = _FIRST_WORD.match(text)
                if m.group(2) in ("", " ", "\t") and m.group(1) not in _SECTION_WORDS:
                    continue
            try:
                words = tokenize(text).words
            except TokenizeError:
                continue
            if not words:
                continue
            if words[0] in _SECTION_WORDS or (
                    not text[:1].isspace() and not words[0].startswith(".")
                    and words[0] not in ("disable-plugin", "enable-plugin")):
                in_global = words[0] == "global"
                continue
            if in_global and words[0] == "disable-plugin":
                disabled.extend(words[1:])
            elif in_global and words[0] == "enable-plugin":
                enabled.extend(words[1:])
    return disabled, enabled

