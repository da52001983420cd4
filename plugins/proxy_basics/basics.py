"""General proxy keywords: mode, names and ids, connection limits, retries, connection
reuse, unique ids, source address."""

from __future__ import annotations

import ipaddress

from hapx.core.config.model import ALL_PROXIES, Cap
from hapx.core.config.parser import ParseContext
from hapx.core.records import Directive, Point

from .common import no_extra_args, not_in_defaults, proxy_type_str, strtol, warn_if_not_cap
from .lfsource import logformat_setting

MODES = ("tcp", "http", "log", "spop")
#: modes whose runtime comes later (log backends, SPOP agents)
INACTIVE_MODES = frozenset({"log", "spop"})
REUSE = ("never", "safe", "aggressive", "always")
RETRY_STATUS = ("401", "403", "404", "408", "421", "425", "429", "500", "501", "502", "503",
                "504")
RETRY_WORDS = ("conn-failure", "empty-response", "junk-response", "response-timeout",
               "0rtt-rejected")
ALL_RETRYABLE = ("conn-failure", "empty-response", "junk-response", "response-timeout",
                 "0rtt-rejected", "500", "502", "503", "504")


def _int_arg(ctx: ParseContext, args: list[str], msg: str) -> int:
    if not args or not args[0].lstrip("-").isdigit():
        raise ctx.error(msg)
    return int(args[0])


def _mode(ctx: ParseContext, args: list[str]) -> None:
    no_extra_args(ctx, args, 1)
    word = args[0] if args else ""
    if word not in MODES:
        raise ctx.error(f"unknown proxy mode '{word}'.")
    ctx.proxy.mode = word
    if word in INACTIVE_MODES:
        ctx.mark_inactive(f"mode {word}", "directive", ctx.record.owner if ctx.record else "")


def _description(ctx: ParseContext, args: list[str]) -> None:
    not_in_defaults(ctx)
    if not args:
        raise ctx.error("'description' expects a string argument.")
    ctx.proxy.settings["description"] = " ".join(args)


def _disabled(ctx: ParseContext, args: list[str]) -> None:
    no_extra_args(ctx, args)
    ctx.proxy.settings["disabled"] = ctx.keyword == "disabled"


def _id(ctx: ParseContext, args: list[str]) -> None:
    not_in_defaults(ctx)
    if not args:
        raise ctx.error("'id' expects an integer argument.")
    no_extra_args(ctx, args, 1)
    value, rest = strtol(args[0])
    if value <= 0 or rest:
        raise ctx.error("custom id has to be > 0.")
    px = ctx.proxy
    for other in ctx.config.proxies:
        if other is not px and other.settings.get("id") == value:
            raise ctx.error(f"{proxy_type_str(px)} {px.name} reuses same custom id as "
                            f"{proxy_type_str(other)} {other.name} (declared at "
                            f"{other.file}:{other.line}).")
    px.settings["id"] = value
    px.uuid = value


def _limit(cap: Cap, hint: str = "") -> object:
    def parse(ctx: ParseContext, args: list[str]) -> None:
        no_extra_args(ctx, args, 1)
        value = _int_arg(ctx, args, f"'{ctx.keyword}' expects an integer argument.")
        if value < 0:
            raise ctx.error(f"'{ctx.keyword}' expects a positive integer argument.")
        if warn_if_not_cap(ctx, cap, hint):
            return
        ctx.proxy.settings[ctx.keyword] = value
    return parse


def _rate_limit_any(ctx: ParseContext, args: list[str]) -> None:
    raise ctx.error(f"'rate-limit' only supports 'sessions' (got '{args[0] if args else ''}')")


def _rate_limit_sessions(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("'rate-limit sessions' expects expects an integer value "
                        "(in sessions/second)")
    value, rest = strtol(args[0])
    if rest or value < 0:
        bad = rest[:1] or args[0][:1]
        raise ctx.error(f"'rate-limit sessions' : unexpected character '{bad}' in integer "
                        f"value '{args[0]}'")
    px = ctx.proxy
    if not px.is_defaults and not px.is_frontend:
        ctx.warning(f"rate-limit sessions will be ignored because {proxy_type_str(px)} "
                    f"'{px.name}' has no frontend capability")
        return
    px.settings["rate-limit sessions"] = value


def _monitor_uri(ctx: ParseContext, args: list[str]) -> None:
    if warn_if_not_cap(ctx, Cap.FE):
        return
    if not args:
        raise ctx.error("'monitor-uri' expects an URI.")
    no_extra_args(ctx, args, 1)
    ctx.proxy.settings["monitor-uri"] = args[0]


def _parse_addr_port(text: str) -> tuple[str, int | None] | None:
    """``addr[:port]``: IPv6 in brackets or with the last colon as port separator; empty
    or ``*`` is any IPv4 address.  None when invalid."""
    port_text = ""
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[1:end], text[end + 1:]
        if end < 0 or (rest and not rest.startswith(":")):
            return None
        port_text = rest[1:]
    else:
        try:
            ipaddress.ip_address(text)
            return text, None
        except ValueError:
            pass
        host, _, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if host in ("", "*"):
        host = "0.0.0.0"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    if port_text == "":
        return host, None
    if not port_text.isdigit() or int(port_text) > 65535:
        return None
    return host, int(port_text)


def _source(ctx: ParseContext, args: list[str]) -> None:
    usage = ("'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and "
             "'interface' <name>.")
    if warn_if_not_cap(ctx, Cap.BE):
        return
    if not args:
        raise ctx.error(usage)
    addr = _parse_addr_port(args[0])
    if addr is None:
        raise ctx.error(f"'source' : invalid address: '{args[0]}'.")
    conf: dict[str, object] = {"addr": addr[0], "port": addr[1], "usesrc": None,
                               "interface": None}
    i = 1
    while i < len(args):
        word = args[i]
        if word in ("usesrc", "interface"):
            if i + 1 >= len(args):
                raise ctx.error(usage)
            if word == "usesrc" and args[i + 1] not in ("client", "clientip") \
                    and not args[i + 1].startswith("hdr_ip(") \
                    and _parse_addr_port(args[i + 1]) is None:
                raise ctx.error(f"'usesrc' : invalid address: '{args[i + 1]}'.")
            conf[word] = args[i + 1]
            i += 2
        else:
            raise ctx.error(f"'source' only supports optional keywords 'usesrc', "
                            f"'interface' (got '{word}').")
    ctx.proxy.settings["source"] = conf


def _guid(ctx: ParseContext, args: list[str]) -> None:
    not_in_defaults(ctx)
    if not args:
        raise ctx.error(f"'{ctx.keyword}' : expects an argument")
    no_extra_args(ctx, args, 1)
    for other in ctx.config.proxies:
        if other is not ctx.proxy and other.settings.get("guid") == args[0]:
            raise ctx.error(f"'guid': duplicate entry with {other.describe()}")
    ctx.proxy.settings["guid"] = args[0]


def _retries(ctx: ParseContext, args: list[str]) -> None:
    if warn_if_not_cap(ctx, Cap.BE):
        return
    no_extra_args(ctx, args, 1)
    value = _int_arg(ctx, args, "'retries' expects an integer argument (dispatch counts "
                                "for one).")
    if value < 0:
        raise ctx.error("'retries' expects a positive integer argument.")
    ctx.proxy.settings["retries"] = value


def _retry_on(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("'retry-on' needs at least one keyword to specify when to retry")
    if not ctx.proxy.is_defaults and not ctx.proxy.is_backend:
        raise ctx.error("'retry-on' only available in backend or listen section")
    kinds: set[str] = set()
    for i, word in enumerate(args):
        if word == "none":
            if i != 0 or len(args) > 1:
                raise ctx.error("'retry-on' 'none' keyworld only usable alone")
        elif word == "all-retryable-errors":
            kinds.update(ALL_RETRYABLE)
        elif word in RETRY_WORDS or word in RETRY_STATUS:
            kinds.add(word)
        else:
            raise ctx.error(f"'retry-on': unknown keyword '{word}'")
    ctx.proxy.settings["retry-on"] = frozenset(kinds)


def _http_reuse(ctx: ParseContext, args: list[str]) -> None:
    if warn_if_not_cap(ctx, Cap.BE):
        return
    if not args or args[0] not in REUSE:
        raise ctx.error("'http-reuse' only supports 'never', 'safe', 'aggressive', 'always'.")
    no_extra_args(ctx, args, 1)
    ctx.proxy.settings["http-reuse"] = args[0]


def _max_ka_queue(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("'max-keep-alive-queue' expects expects an integer value (or -1 to "
                        "disable)")
    value, rest = strtol(args[0])
    if rest:
        raise ctx.error(f"'max-keep-alive-queue' : unexpected character '{rest[0]}' in "
                        f"integer value '{args[0]}'")
    if warn_if_not_cap(ctx, Cap.BE):
        return
    ctx.proxy.settings["max-keep-alive-queue"] = value


def _one_format_arg(ctx: ParseContext, args: list[str]) -> str:
    if not args:
        raise ctx.error(f"{ctx.keyword} expects an argument.")
    if len(args) > 1:
        raise ctx.error(f"{ctx.keyword} expects only one argument, don't forget to escape "
                        "spaces!")
    return args[0]


def _unique_id_format(ctx: ParseContext, args: list[str]) -> None:
    text = _one_format_arg(ctx, args)
    ctx.proxy.settings["unique-id-format"] = logformat_setting(
        ctx, text, fe_point=Point.FE_HRQ_HDR, be_point=Point.BE_HRQ_HDR)


def _unique_id_header(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("unique-id-header expects an argument.")
    no_extra_args(ctx, args, 1)
    ctx.proxy.settings["unique-id-header"] = args[0]


_PX_NO_DEF = frozenset({"frontend", "backend", "listen"}) | ALL_PROXIES


def directives() -> list[Directive]:
    return [
        Directive("mode", sections=ALL_PROXIES, parse=_mode,
                  doc="mode { tcp | http | log | spop }\n\nThe proxy's protocol: 'tcp' "
                      "forwards bytes, 'http' parses HTTP.  'log' (syslog backends) and "
                      "'spop' (SPOE agents) are parsed and checked but their runtime comes "
                      "later (they are reported as inactive).  Stored in proxy.mode."),
        Directive("description", sections=_PX_NO_DEF, parse=_description,
                  doc="description <text>\n\nA free text describing the proxy (words joined "
                      "with spaces), shown by the stats.  Stored in "
                      "settings['description']; not allowed in defaults."),
        Directive("disabled", sections=ALL_PROXIES, parse=_disabled,
                  doc="disabled\n\nThe proxy is parsed but not started.  Stored as "
                      "settings['disabled'] = True."),
        Directive("enabled", sections=ALL_PROXIES, parse=_disabled,
                  doc="enabled\n\nCancels a 'disabled' inherited from defaults "
                      "(settings['disabled'] = False)."),
        Directive("id", sections=_PX_NO_DEF, parse=_id,
                  doc="id <number>\n\nThe proxy's persistent numeric id (> 0, unique), used "
                      "by the stats and the runtime API.  Sets proxy.uuid and "
                      "settings['id']; proxies without one get the lowest free ids."),
        Directive("maxconn", sections=ALL_PROXIES, parse=_limit(Cap.FE),
                  doc="maxconn <conns>\n\nMaximum concurrent connections on a frontend "
                      "(settings['maxconn'])."),
        Directive("fullconn", sections=ALL_PROXIES, parse=_limit(
                      Cap.BE, " Maybe you want 'maxconn' instead ?"),
                  doc="fullconn <conns>\n\nThe backend load at which servers reach their "
                      "maxconn with dynamic limits (settings['fullconn']): a server with "
                      "minconn accepts max(minconn, maxconn x backend streams / fullconn).  "
                      "Default: 10% of the maxconn of the frontends that switch to it."),
        Directive("backlog", sections=ALL_PROXIES, parse=_limit(Cap.FE), active=False,
                  doc="backlog <conns>\n\nThe listen queue length of the frontend's "
                      "sockets (settings['backlog']); applied when listeners exist."),
        Directive("rate-limit", sections=ALL_PROXIES, parse=_rate_limit_any,
                  doc="rate-limit sessions <rate>\n\nOnly 'sessions' is supported; this "
                      "entry reports other words."),
        Directive("rate-limit sessions", sections=ALL_PROXIES, parse=_rate_limit_sessions,
                  active=False,
                  doc="rate-limit sessions <rate>\n\nMaximum new sessions per second on the "
                      "frontend (settings['rate-limit sessions']).  Runtime comes later."),
        Directive("monitor-uri", sections=ALL_PROXIES, parse=_monitor_uri, active=False,
                  doc="monitor-uri <uri>\n\nRequests for this URI get a 200 response "
                      "without being forwarded (settings['monitor-uri']).  Runtime comes "
                      "later."),
        Directive("source", sections=ALL_PROXIES, parse=_source, active=False,
                  doc="source <addr>[:<port>] [usesrc { <addr>[:<port>] | client | "
                      "clientip | hdr_ip(<hdr>[,<occ>]) }] [interface <name>]\n\nThe source "
                      "address of connections to servers (settings['source'], a dict with "
                      "addr, port, usesrc, interface).  Runtime comes later."),
        Directive("guid", sections=_PX_NO_DEF, parse=_guid, active=False,
                  doc="guid <string>\n\nA globally unique identifier for the proxy "
                      "(settings['guid']), used by the runtime API later."),
        Directive("retries", sections=ALL_PROXIES, parse=_retries,
                  doc="retries <value>\n\nHow many times a failed connection to a server is "
                      "retried (settings['retries']; HAProxy's default is 3)."),
        Directive("retry-on", sections=ALL_PROXIES, parse=_retry_on,
                  doc="retry-on <keywords>...\n\nWhen to retry a request (HTTP mode; "
                      "default conn-failure): none, conn-failure, empty-response, "
                      "junk-response, response-timeout, 0rtt-rejected (never happens: no "
                      "early data is sent to servers), 401 403 404 408 421 425 429 500 501 "
                      "502 503 504, all-retryable-errors.  A new line replaces the list.  "
                      "Each retry counts against 'retries'; only a request whose head and "
                      "body fit in tune.bufsize is sent again.  Stored as a frozenset in "
                      "settings['retry-on']."),
        Directive("http-reuse", sections=ALL_PROXIES, parse=_http_reuse,
                  doc="http-reuse { never | safe | aggressive | always }\n\nHow idle server "
                      "connections are shared between requests (settings['http-reuse'])."),
        Directive("max-keep-alive-queue", sections=ALL_PROXIES, parse=_max_ka_queue,
                  active=False,
                  doc="max-keep-alive-queue <value>\n\nAbove this server queue length a "
                      "keep-alive request goes to another server; -1 disables "
                      "(settings['max-keep-alive-queue']).  Runtime comes later."),
        Directive("unique-id-format", sections=ALL_PROXIES, parse=_unique_id_format,
                  doc="unique-id-format <log-format>\n\nThe format of the request's unique "
                      "id, compiled at parse time (settings['unique-id-format'] is a "
                      "LogFormat; evaluated at the HTTP request)."),
        Directive("unique-id-header", sections=ALL_PROXIES, parse=_unique_id_header,
                  doc="unique-id-header <name>\n\nAdd the unique id to the request in this "
                      "header (settings['unique-id-header'])."),
    ]
