"""``resolvers`` sections: DNS name servers used to resolve server names at run time.
Resolution comes in a later issue: parse and validate only (inactive)."""

from __future__ import annotations

from typing import Any

from hapx.core.config.address import AddressError, Ports, parse_address
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import declare_section, simple_directive, v_int, v_time

KIND = "resolvers"
HOLD_STATUSES = ("nx", "other", "refused", "timeout", "valid", "obsolete")


def _nameserver(ctx: Any, args: list[str]) -> None:
    if len(args) != 2:
        raise ctx.error("'nameserver' expects <name> and <addr>[:<port>] as arguments.")
    try:
        addr = parse_address(args[1], ports=Ports.OPTIONAL, dgram_ok=True)
    except AddressError as exc:
        raise ctx.error(f"'nameserver {args[0]}' : {exc}") from None
    if addr.port is None and addr.is_ip:
        addr = addr.with_port(53)
    servers = ctx.section.settings.setdefault("nameservers", {})
    if args[0] in servers:
        raise ctx.error(f"resolvers '{ctx.section.name}': nameserver '{args[0]}' is already "
                        "declared.")
    servers[args[0]] = addr


def _parse_resolv_conf(ctx: Any, args: list[str]) -> None:
    if args:
        raise ctx.error("'parse-resolv-conf' takes no argument.")
    ctx.section.settings["parse-resolv-conf"] = True


def _hold(ctx: Any, args: list[str]) -> None:
    if len(args) != 2 or args[0] not in HOLD_STATUSES:
        raise ctx.error("'hold' expects one of " + ", ".join(f"'{s}'" for s in HOLD_STATUSES)
                        + " and a period.")
    try:
        ctx.section.settings.setdefault("hold", {})[args[0]] = v_time()(args[1])
    except ValueError as exc:
        raise ctx.error(f"'hold {args[0]}' : {exc}") from None


def _post(ctx: Any, sec: Any) -> None:
    if not sec.settings.get("nameservers") and not sec.settings.get("parse-resolv-conf"):
        ctx.warning(f"resolvers '{sec.name}' has no nameserver (and no parse-resolv-conf).")


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(KIND, post=_post, doc="resolvers <resolvers id>\n\nDNS "
                                 "name servers that resolve server names at run time "
                                 "(server ... resolvers <id>)."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("nameserver", sections=sec, parse=_nameserver, active=False,
                  doc="nameserver <name> <address>[:port]\n\nA DNS server (UDP, or tcp@; "
                      "default port 53)."),
        Directive("parse-resolv-conf", sections=sec, parse=_parse_resolv_conf, active=False,
                  doc="parse-resolv-conf\n\nAdd the name servers of /etc/resolv.conf."),
        simple_directive("accepted_payload_size", sec, "accepted_payload_size <nb>\n\n"
                         "Largest DNS answer accepted (512 to 65535).", [v_int(512, 65535)]),
        Directive("hold", sections=sec, parse=_hold, active=False,
                  doc="hold <status> <period>\n\nHow long the last answer is kept per "
                      "status: " + ", ".join(HOLD_STATUSES) + "."),
        simple_directive("resolve_retries", sec, "resolve_retries <nb>\n\nQueries sent "
                         "before giving up (default 3).", [v_int(1)]),
        simple_directive("timeout resolve", sec, "timeout resolve <time>\n\nInterval "
                         "between two resolutions (default 1s).", [v_time()]),
        simple_directive("timeout retry", sec, "timeout retry <time>\n\nTime to wait for an "
                         "answer before retrying (default 1s).", [v_time()]),
    )
