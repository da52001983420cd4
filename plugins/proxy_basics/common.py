"""Small helpers shared by the proxy keyword parsers of this plugin (and of the timeouts and
logs plugins, which depend on this essential plugin)."""

from __future__ import annotations

import os
import re

from hapx.core.config.model import Cap, Proxy
from hapx.core.config.parser import ParseContext

_INT = re.compile(r"[+-]?\d+")


def proxy_type_str(px: Proxy) -> str:
    """HAProxy's name for a proxy's kind in messages: a listen section is a "proxy"."""
    if px.is_defaults:
        return "defaults"
    if px.kind == "listen":
        return "proxy"
    return px.kind


def cap_word(cap: Cap) -> str:
    return "backend" if cap & Cap.BE and not cap & Cap.FE else "frontend"


def has_cap(px: Proxy, cap: Cap) -> bool:
    """Defaults sections accept everything; other proxies need one of ``cap``'s sides."""
    return px.is_defaults or bool(px.cap & cap)


def warn_if_not_cap(ctx: ParseContext, cap: Cap, hint: str = "") -> bool:
    """HAProxy's ``warnifnotcap``: warn and return True when the proxy lacks ``cap``."""
    px = ctx.proxy
    if has_cap(px, cap):
        return False
    ctx.warning(f"'{ctx.keyword}' ignored because {proxy_type_str(px)} '{px.name}' has no "
                f"{cap_word(cap)} capability.{hint}")
    return True


def no_extra_args(ctx: ParseContext, args: list[str], allowed: int = 0) -> None:
    """HAProxy's ``alertif_too_many_args``."""
    if len(args) > allowed:
        raise ctx.error(f"'{ctx.keyword}' cannot handle unexpected argument '{args[allowed]}'.")


def not_in_defaults(ctx: ParseContext) -> None:
    if ctx.proxy.is_defaults:
        raise ctx.error(f"'{ctx.keyword}' not allowed in 'defaults' section.")


def strtol(text: str) -> tuple[int, str]:
    """C's strtol(text, &end, 10): the leading integer (0 when none) and what follows."""
    m = _INT.match(text)
    if not m:
        return 0, text
    return int(m.group(0)), text[m.end():]


def resolve_path(ctx: ParseContext, path: str) -> str:
    """A file named in the configuration, relative paths following ``default-path``
    (global): current directory (default), the configuration file's directory, its parent,
    or an explicit origin."""
    if os.path.isabs(path):
        return path
    setting = ctx.config.global_.settings.get("default-path")
    if not setting:
        return path
    mode, origin = setting
    cfg_dir = os.path.dirname(os.path.abspath(ctx.file))
    base = {"current": os.getcwd(), "config": cfg_dir, "parent": os.path.dirname(cfg_dir),
            "origin": origin or ""}[mode]
    return os.path.join(base, path)
