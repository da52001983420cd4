"""``bind`` lines of frontends and listen sections: addresses, port ranges and the options of
HAProxy's section 5.1.  The engine (core/runtime/engine.py) opens the listeners; options whose
runtime is missing (TLS, PROXY protocol, QUIC ...) are reported as not yet active."""

from __future__ import annotations

from typing import Any

from hapx.core.config.model import FRONTEND_KINDS
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive

from .model import BIND_USAGE, Bind, check_crt, parse_bind_words
from .options import BIND_OPTIONS, add_bind_option, bind_options

__all__ = ["BIND_OPTIONS", "Bind", "add_bind_option", "bind_options", "check_crt",
           "parse_bind_words"]


def _parse_bind(ctx: Any, args: list[str]) -> None:
    proxy = ctx.section
    binds = parse_bind_words(ctx, args)
    ids = {b.opt("id") for b in proxy.binds if b.opt("id") is not None}
    new_id = binds[0].opt("id")
    if new_id is not None and (new_id in ids or len(binds) > 1):
        raise ctx.error(f"'bind {args[0]}' in section '{ctx.section_kind}' : 'id' {new_id} "
                        "is already used (listener IDs are unique within a proxy and a "
                        "line with several addresses cannot force one).")
    proxy.binds.extend(binds)
    if binds[0].ssl and not binds[0].opt("crt") and not binds[0].opt("crt-list") \
            and not binds[0].opt("generate-certificates"):
        line_desc = f"'bind {args[0]}'"

        def need_certificate(_config: Any) -> None:
            if not proxy.settings.get("ssl-f-use"):
                raise ctx.error(f"Proxy '{proxy.name}': no SSL certificate specified for "
                                f"{line_desc} (use 'crt', 'crt-list' or 'ssl-f-use').")
        ctx.defer(need_certificate)


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    directives.add(Directive(
        "bind", sections=FRONTEND_KINDS, parse=_parse_bind,
        usage=f"bind {BIND_USAGE} [param*]",
        doc=f"bind {BIND_USAGE} [param*]\n\n"
            "Listen on one or more addresses: IPv4/IPv6 with a port or a port range (one "
            "listener per port), unix sockets (a path or unix@), abns@, fd@, sockpair@, "
            "quic4@/quic6@ (needs ssl), rhttp@.  Options:\n" + BIND_OPTIONS.docs()))
