"""``mailers`` sections (SMTP servers for e-mail alerts) and the proxies' ``email-alert``
keywords.  Sending mail comes in a later issue: parse and validate only (inactive)."""

from __future__ import annotations

from typing import Any

from hapx.core.config.address import AddressError, parse_address
from hapx.core.config.model import ALL_PROXIES
from hapx.core.hookspecs import hookimpl
from hapx.core.records import Directive
from hapx.plugins.confkit import (
    declare_section,
    simple_directive,
    v_choice,
    v_str,
    v_time,
)

KIND = "mailers"
LEVELS = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")


def _mailer(ctx: Any, args: list[str]) -> None:
    if len(args) != 2:
        raise ctx.error("'mailer' expects <name> and <ip>:<port> as arguments.")
    try:
        addr = parse_address(args[1])
    except AddressError as exc:
        raise ctx.error(f"'mailer {args[0]}' : {exc}") from None
    mailers = ctx.section.settings.setdefault("mailers", {})
    if args[0] in mailers:
        raise ctx.error(f"mailers '{ctx.section.name}': mailer '{args[0]}' is already "
                        "declared.")
    mailers[args[0]] = addr


def _email_mailers(ctx: Any, values: list[Any]) -> str:
    name = values[0]

    def check(config: Any) -> None:
        if name not in config.sections.get(KIND, {}):
            raise ctx.error(f"'email-alert mailers' : no such mailers section '{name}'.")
    ctx.defer(check)
    return name


@hookimpl
def hapx_register_sections(sections: Any) -> None:
    sections.add(declare_section(
        KIND, doc="mailers <name>\n\nSMTP servers that e-mail alerts are sent to."))


@hookimpl
def hapx_register_directives(directives: Any) -> None:
    sec = frozenset({KIND})
    directives.add(
        Directive("mailer", sections=sec, parse=_mailer, active=False,
                  doc="mailer <mailername> <ip>:<port>\n\nAn SMTP server."),
        simple_directive("timeout mail", sec, "timeout mail <time>\n\nTimeout of a mail "
                         "delivery (default 10s).", [v_time()]),
        simple_directive("email-alert from", ALL_PROXIES, "email-alert from <emailaddr>\n\n"
                         "Sender of alerts.", [v_str]),
        simple_directive("email-alert to", ALL_PROXIES, "email-alert to <emailaddr>\n\n"
                         "Recipient of alerts.", [v_str]),
        simple_directive("email-alert level", ALL_PROXIES, "email-alert level <level>\n\n"
                         "Least severe level alerted (default alert).", [v_choice(*LEVELS)]),
        simple_directive("email-alert mailers", ALL_PROXIES, "email-alert mailers "
                         "<mailersect>\n\nThe mailers section used.", [v_str],
                         check=_email_mailers),
        simple_directive("email-alert myhostname", ALL_PROXIES, "email-alert myhostname "
                         "<hostname>\n\nName given in the SMTP HELO.", [v_str]),
    )
