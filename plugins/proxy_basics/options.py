"""``option <name>`` keywords that are flags of a proxy, and the few that take arguments
(forwardfor, originalto, redispatch, http-restrict-req-hdr-names).

Every option is its own directive, negatable: ``option X`` stores ``proxy.options[X] =
True``, ``no option X`` stores False and ``default option X`` restores the value of the
defaults section.  Options that only make sense in HTTP mode are reset with HAProxy's
warning, at check time, in proxies of another mode.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hapx.core.config.model import ALL_PROXIES, Cap, Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.records import Directive

from .common import cap_word, has_cap, no_extra_args, proxy_type_str

FE, BE, FB = Cap.FE, Cap.BE, Cap.FE | Cap.BE


@dataclass(frozen=True)
class OptionSpec:
    name: str
    cap: Cap
    http: bool
    doc: str
    active: bool = False


#: the plain flags: name, side, HTTP only, what it does
FLAGS: tuple[OptionSpec, ...] = (
    OptionSpec("abortonclose", BE, False, "Abort a queued or connecting request when the "
               "client closes its side."),
    OptionSpec("allbackups", BE, False, "Use all backup servers at once when the active "
               "ones are down."),
    OptionSpec("checkcache", BE, True, "Block responses that would leak cookies into "
               "shared caches."),
    OptionSpec("clitcpka", FE, False, "Enable TCP keep-alive on client connections."),
    OptionSpec("srvtcpka", BE, False, "Enable TCP keep-alive on server connections."),
    OptionSpec("contstats", FE, False, "Update traffic counters continuously."),
    OptionSpec("http-buffer-request", FB, True, "Wait for the request body before "
               "choosing a server."),
    OptionSpec("http-ignore-probes", FE, True, "Do not log or answer connections closed "
               "without a request (browser pre-connects)."),
    OptionSpec("idle-close-on-response", FE, True, "Let idle client connections close "
               "after the response when stopping."),
    OptionSpec("prefer-last-server", BE, True, "Prefer the server already connected for "
               "the next request of a connection."),
    OptionSpec("nolinger", FB, False, "Close connections with a reset, without lingering."),
    OptionSpec("persist", BE, False, "Keep sending a persistent client to its server even "
               "when the server is down."),
    OptionSpec("transparent", BE, False, "Connect to the client's original destination "
               "address."),
    OptionSpec("splice-request", FB, False, "Use kernel splicing for requests."),
    OptionSpec("splice-response", FB, False, "Use kernel splicing for responses."),
    OptionSpec("splice-auto", FB, False, "Use kernel splicing when it looks useful."),
    OptionSpec("accept-unsafe-violations-in-http-request", FE, True, "Accept requests the "
               "HTTP/1 parser refuses otherwise (400): invalid characters (NUL included) in "
               "header names, NUL in header values, any character above 0x20 but DEL in the "
               "target ('#' included), other version strings and HTTP/0.9 'GET <uri>', a "
               "CONNECT target other than host:port, an absolute-form authority differing "
               "from Host, a WebSocket request without a valid Sec-WebSocket-Key (3.2).  "
               "Old name: accept-invalid-http-request.", active=True),
    OptionSpec("accept-unsafe-violations-in-http-response", BE, True, "Accept responses the "
               "HTTP/1 parser refuses otherwise (502): invalid characters in header names, "
               "NUL in header values, other version strings, an empty or repeated 'chunked' "
               "transfer coding, a WebSocket 101 without a valid Sec-WebSocket-Accept "
               "(3.2).  Old name: accept-invalid-http-response.", active=True),
    OptionSpec("socket-stats", FE, False, "Report statistics per listener (one row per "
               "bind in show stat and on the statistics page).", active=True),
    OptionSpec("tcp-smart-accept", FE, False, "Delay the accept until data arrives."),
    OptionSpec("tcp-smart-connect", BE, False, "Send the first data with the connection "
               "handshake."),
    OptionSpec("independent-streams", FB, False, "Refresh read and write timeouts "
               "separately."),
    OptionSpec("http-use-proxy-header", FE, True, "Read the non-standard Proxy-Connection "
               "header as Connection."),
    OptionSpec("http-pretend-keepalive", BE, True, "Do not announce 'Connection: close' to "
               "servers when closing."),
    OptionSpec("http-no-delay", FB, True, "Send HTTP data immediately (interactive "
               "applications)."),
    OptionSpec("h1-case-adjust-bogus-client", FE, False, "Rewrite header names case for "
               "clients that need it (h1-case-adjust)."),
    OptionSpec("h1-case-adjust-bogus-server", BE, False, "Rewrite header names case for "
               "servers that need it (h1-case-adjust)."),
    OptionSpec("disable-h2-upgrade", FE, True, "Refuse HTTP/1 to HTTP/2 upgrades."),
    OptionSpec("http-drop-request-trailers", BE, True, "Drop request trailers on the way "
               "to the server (3.2).", active=True),
    OptionSpec("http-drop-response-trailers", FE, True, "Drop response trailers on the way "
               "to the client (3.2).", active=True),
)

#: old names accepted for another option
ALIASES = {
    "accept-invalid-http-request": "accept-unsafe-violations-in-http-request",
    "accept-invalid-http-response": "accept-unsafe-violations-in-http-response",
}

#: the three HTTP connection modes: enabling one disables the others
HTTP_MODES = ("httpclose", "http-server-close", "http-keep-alive")

#: every option of this plugin that needs HTTP mode, with its side
HTTP_ONLY: dict[str, Cap] = {o.name: o.cap for o in FLAGS if o.http}
HTTP_ONLY.update({m: FB for m in HTTP_MODES})
HTTP_ONLY.update({"forwardfor": FB, "originalto": FB, "http-restrict-req-hdr-names": FB})


def _value(ctx: ParseContext, name: str) -> bool | None:
    """True, False, or for ``default option``, the defaults section's value (None: unset)."""
    if ctx.prefix == "no":
        return False
    if ctx.prefix == "default":
        d = ctx.proxy.defaults
        return d.options.get(name) if d is not None else None
    return True


def _store(px: Proxy, name: str, value: bool | None) -> None:
    if value is None:
        px.options.pop(name, None)
    else:
        px.options[name] = value


def _ignored(ctx: ParseContext, name: str, cap: Cap) -> bool:
    px = ctx.proxy
    if has_cap(px, cap):
        return False
    ctx.warning(f"'{name}' ignored because {proxy_type_str(px)} '{px.name}' has no "
                f"{cap_word(cap)} capability.")
    return True


def _flag(spec: OptionSpec, stored: str) -> object:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        no_extra_args(ctx, args)
        if _ignored(ctx, spec.name, spec.cap):
            return
        _store(ctx.proxy, stored, _value(ctx, stored))
    return parse


def _http_mode(name: str) -> object:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        no_extra_args(ctx, args)
        px = ctx.proxy
        value = _value(ctx, name)
        if value:
            for other in HTTP_MODES:
                px.options[other] = other == name
        else:
            _store(px, name, value)
    return parse


def _tcpka(ctx: ParseContext, args: list[str]) -> None:
    no_extra_args(ctx, args)
    px = ctx.proxy
    value = _value(ctx, "tcpka")
    _store(px, "tcpka", value)
    if px.is_defaults or px.is_frontend:
        _store(px, "clitcpka", value)
    if px.is_defaults or px.is_backend:
        _store(px, "srvtcpka", value)


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _header_option(name: str, default_header: str, with_if_none: bool) -> object:
    words = "'except', 'header' and 'if-none'" if with_if_none else "'except' and 'header'"

    def parse(ctx: ParseContext, args: list[str]) -> None:
        px = ctx.proxy
        if ctx.prefix:
            no_extra_args(ctx, args)
            value = _value(ctx, name)
            _store(px, name, value)
            if value is None or value is False:
                px.settings.pop(name, None)
            elif px.defaults is not None and name in px.defaults.settings:
                px.settings[name] = dict(px.defaults.settings[name])
            return
        conf: dict[str, object] = {"except": None, "header": default_header,
                                   "if-none": False}
        i = 0
        while i < len(args):
            word = args[i]
            if word == "except":
                net = _network(args[i + 1]) if i + 1 < len(args) else None
                if net is None:
                    raise ctx.error(f"'option {name} except' expects <address>[/mask] as "
                                    "argument.")
                conf["except"] = net
                i += 2
            elif word == "header":
                if i + 1 >= len(args) or not args[i + 1]:
                    raise ctx.error(f"'option {name} header' expects <header_name> as "
                                    "argument.")
                conf["header"] = args[i + 1]
                i += 2
            elif word == "if-none" and with_if_none:
                conf["if-none"] = True
                i += 1
            else:
                raise ctx.error(f"'option {name}' only supports optional values: {words}.")
        px.options[name] = True
        px.settings[name] = conf
    return parse


def _redispatch(ctx: ParseContext, args: list[str]) -> None:
    if _ignored(ctx, "redispatch", BE):
        return
    px = ctx.proxy
    value = _value(ctx, "redispatch")
    if ctx.prefix:
        no_extra_args(ctx, args)
        _store(px, "redispatch", value)
        return
    no_extra_args(ctx, args, 1)
    interval = -1
    if args:
        try:
            interval = int(args[0])
        except ValueError:
            interval = 0
        if interval == 0:
            raise ctx.error("'option redispatch' expects a non-zero integer as optional "
                            f"argument (got '{args[0]}').")
    px.options["redispatch"] = True
    px.settings["redispatch"] = interval


def _restrict_hdr_names(ctx: ParseContext, args: list[str]) -> None:
    px = ctx.proxy
    if ctx.prefix:
        no_extra_args(ctx, args)
        _store(px, "http-restrict-req-hdr-names", _value(ctx, "http-restrict-req-hdr-names"))
        px.settings.pop("http-restrict-req-hdr-names", None)
        return
    choices = "expects 'preserve', 'reject' or 'delete' option."
    if not args:
        raise ctx.error(f"option 'http-restrict-req-hdr-names' {choices}")
    no_extra_args(ctx, args, 1)
    if args[0] not in ("preserve", "delete", "reject"):
        raise ctx.error(f"invalid parameter '{args[0]}'. option "
                        f"'http-restrict-req-hdr-names' {choices}")
    px.options["http-restrict-req-hdr-names"] = args[0] != "preserve"
    px.settings["http-restrict-req-hdr-names"] = args[0]


def check_http_only(config: Config) -> None:
    """HAProxy resets HTTP-only options of proxies in another mode, with a warning."""
    for px in config.proxies:
        if px.mode == "http":
            continue
        for name, cap in HTTP_ONLY.items():
            if px.options.get(name) and px.cap & cap:
                config.diag.warning(f"'option {name}' ignored for {proxy_type_str(px)} "
                                    f"'{px.name}' as it requires HTTP mode.")
                px.options[name] = False


def directives() -> list[Directive]:
    out: list[Directive] = []
    for spec in FLAGS:
        side = {FE: "frontend", BE: "backend", FB: "frontend and backend"}[spec.cap]
        out.append(Directive(
            f"option {spec.name}", sections=ALL_PROXIES, negatable=True,
            parse=_flag(spec, spec.name), active=spec.active,
            doc=f"[no] option {spec.name}\n\n{spec.doc}  Side: {side}"
                f"{'; HTTP mode only' if spec.http else ''}.  Stored in "
                f"proxy.options['{spec.name}']."
                f"{'' if spec.active else '  Parsed now, applied by a later version.'}"))
    for old, new in ALIASES.items():
        spec = next(s for s in FLAGS if s.name == new)
        out.append(Directive(
            f"option {old}", sections=ALL_PROXIES, negatable=True,
            parse=_flag(spec, new), active=spec.active,
            doc=f"[no] option {old}\n\nOld name of 'option {new}' (stored under the new "
                "name)."))
    mode_docs = {
        "httpclose": "Close the client and server connections after each response.",
        "http-server-close": "Close the server connection after each response, keep the "
                             "client one alive.",
        "http-keep-alive": "Keep client and server connections alive (the default).",
    }
    for name, text in mode_docs.items():
        out.append(Directive(
            f"option {name}", sections=ALL_PROXIES, negatable=True, parse=_http_mode(name),
            doc=f"[no] option {name}\n\n{text}  The three HTTP connection modes exclude "
                f"each other: enabling one stores False for the two others in "
                f"proxy.options."))
    out += [
        Directive("option tcpka", sections=ALL_PROXIES, negatable=True, parse=_tcpka,
                  active=False,
                  doc="[no] option tcpka\n\nTCP keep-alive on both sides: sets "
                      "options['clitcpka'] on frontends and options['srvtcpka'] on "
                      "backends.  Applied by a later version."),
        Directive("option forwardfor", sections=ALL_PROXIES, negatable=True,
                  parse=_header_option("forwardfor", "X-Forwarded-For", True),
                  doc="option forwardfor [except <network>] [header <name>] [if-none]\n\n"
                      "Add the client address in an X-Forwarded-For header (or <name>), "
                      "except for clients in <network>, and with if-none only when the "
                      "request has no such header.  options['forwardfor'] = True and "
                      "settings['forwardfor'] = {'except': ip_network | None, 'header': "
                      "str, 'if-none': bool}."),
        Directive("option originalto", sections=ALL_PROXIES, negatable=True,
                  parse=_header_option("originalto", "X-Original-To", False), active=False,
                  doc="option originalto [except <network>] [header <name>]\n\nAdd the "
                      "original destination address in an X-Original-To header.  Stored "
                      "like forwardfor (settings['originalto']); applied later."),
        Directive("option redispatch", sections=ALL_PROXIES, negatable=True,
                  parse=_redispatch,
                  doc="option redispatch [<interval>]\n\nOn connection failure, retry on "
                      "another server every <interval> retries (default -1: on the last "
                      "one).  settings['redispatch'] holds the interval."),
        Directive("option http-restrict-req-hdr-names", sections=ALL_PROXIES,
                  negatable=True, parse=_restrict_hdr_names, active=False,
                  doc="option http-restrict-req-hdr-names { preserve | delete | reject }\n\n"
                      "What to do with request header names holding characters other than "
                      "letters, digits and '-' (settings['http-restrict-req-hdr-names']).  "
                      "Applied later."),
    ]
    return out
