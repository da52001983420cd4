"""Capture slots: ``declare capture``, ``capture request header``, ``capture response
header`` and ``capture cookie``.

``settings["captures"]`` is ``{"request": [Capture...], "response": [Capture...]}``; the
position in a list is the slot id (``capture-req(<id>)``, ``http-request capture ... id``)
and the index into ``Stream.captures_req`` / ``captures_res``.  ``settings["capture
cookie"]`` is ``(name, length)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hapx.core.config.model import ALL_PROXIES, Cap
from hapx.core.config.parser import ParseContext
from hapx.core.records import Directive

from .common import no_extra_args, warn_if_not_cap


@dataclass(frozen=True)
class Capture:
    """One slot: a header name (None for a ``declare capture`` slot) and the maximum
    length kept."""

    name: str | None
    length: int


def slots(px, direction: str) -> list[Capture]:
    caps = px.settings.setdefault("captures", {"request": [], "response": []})
    return caps[direction]


def _declare(ctx: ParseContext, args: list[str]) -> None:
    px = ctx.proxy
    if px.is_defaults:
        raise ctx.error("'declare' not available in default section")
    if not px.is_frontend:
        raise ctx.error("'declare' only available in frontend or listen section")
    if not args or args[0] not in ("request", "response"):
        raise ctx.error("'declare capture' requires a direction ('request' or 'response')")
    if len(args) < 2 or args[1] != "len":
        raise ctx.error("'declare capture' requires a capture length ('len')")
    if len(args) < 3:
        raise ctx.error("'declare capture': 'len' requires a numeric value that represents "
                        "the capture length")
    no_extra_args(ctx, args, 3)
    try:
        length = int(args[2])
    except ValueError:
        raise ctx.error("'declare capture': cannot parse the length 'len'.") from None
    if length <= 0:
        raise ctx.error("length must be > 0")
    slots(px, args[0]).append(Capture(None, length))


def _header(direction: str) -> object:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        px = ctx.proxy
        what = f"capture {direction}"
        if px.is_defaults:
            raise ctx.error(f"'{what}' not allowed in 'defaults' section.")
        if warn_if_not_cap(ctx, Cap.FE):
            return
        if len(args) < 3 or args[1] != "len" or not args[0]:
            raise ctx.error(f"'{what}' expects 'header' <header_name> 'len' <len>.")
        no_extra_args(ctx, args, 3)
        if not args[2].isdigit() or int(args[2]) <= 0:
            raise ctx.error(f"'{what} header' : 'len' expects a positive integer, got "
                            f"'{args[2]}'.")
        slots(px, direction).append(Capture(args[0], int(args[2])))
    return parse


def _cookie(ctx: ParseContext, args: list[str]) -> None:
    px = ctx.proxy
    if px.is_defaults:
        raise ctx.error("'capture cookie' not allowed in 'defaults' section.")
    if warn_if_not_cap(ctx, Cap.FE):
        return
    if len(args) < 3 or args[1] != "len" or not args[2].isdigit() or int(args[2]) <= 0:
        raise ctx.error("'capture cookie' expects <cookie_name> 'len' <len>.")
    no_extra_args(ctx, args, 3)
    if "capture cookie" in px.settings:
        ctx.warning("'capture cookie' already specified, only the last one is used.")
    px.settings["capture cookie"] = (args[0], int(args[2]))


def directives() -> list[Directive]:
    return [
        Directive("declare capture", sections=ALL_PROXIES, parse=_declare,
                  doc="declare capture { request | response } len <length>\n\nAdd a capture "
                      "slot filled by 'http-request capture ... id <n>' (frontend and "
                      "listen only).  The slot id is its position in "
                      "settings['captures'][direction]."),
        Directive("capture request header", sections=ALL_PROXIES,
                  parse=_header("request"), active=False,
                  doc="capture request header <name> len <length>\n\nKeep the first "
                      "<length> characters of the last <name> header of each request for "
                      "the logs (%hr).  Adds a slot to settings['captures']['request'].  "
                      "The capture itself is done by the data path later."),
        Directive("capture response header", sections=ALL_PROXIES,
                  parse=_header("response"), active=False,
                  doc="capture response header <name> len <length>\n\nSame for responses "
                      "(%hs)."),
        Directive("capture cookie", sections=ALL_PROXIES, parse=_cookie, active=False,
                  doc="capture cookie <name> len <length>\n\nLog the value of cookie <name> "
                      "from requests (%CC) and responses (%CS).  settings['capture "
                      "cookie'] = (name, length)."),
    ]
