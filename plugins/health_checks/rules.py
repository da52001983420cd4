"""Check rules: what ``option httpchk``, ``http-check ...``, ``option tcp-check`` and
``tcp-check ...`` lines store, as HAProxy's tcp-check rule sets.

A proxy keeps its written rules in ``settings["tcp-check"]`` and ``settings["http-check"]``
(lists of :class:`Connect`, :class:`Send`, :class:`Expect`, :class:`Comment`, each with its
``index``: the position in the list, which HAProxy reports as "step index+1"), the chosen
check type in ``settings["check-type"]`` ("httpchk" or "tcp-check", the last option line
wins) and the ``option httpchk`` request in ``settings["httpchk"]``.  :mod:`.plan` turns
them into the rule list a server's check runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from hapx.core.config.address import AddressError, Ports, parse_address

#: the expect sub-keywords each family accepts (``!`` may precede them)
TCP_MATCHES = ("string", "rstring", "binary", "rbinary")
HTTP_MATCHES = ("status", "rstatus", "string", "rstring")
#: expect keywords HAProxy has that hapx parses but cannot run yet (log-format patterns and
#: header matches): using one is reported as not active
TCP_INACTIVE = ("string-lf", "binary-lf")
HTTP_INACTIVE = ("hdr", "fhdr", "string-lf")
STATUS_WORDS = ("L7OK", "L7OKC", "L6OK", "L4OK", "L7RSP", "L7STS", "L6RSP", "L4CON",
                "L7TOUT", "L6TOUT", "L4TOUT")


@dataclass
class Rule:
    index: int = 0
    comment: str | None = None


@dataclass
class Comment(Rule):
    pass


@dataclass
class Connect(Rule):
    """``connect [default] [port <p>] [addr <ip>[:<port>]] [send-proxy] [via-socks4]
    [ssl] [sni <s>] [alpn <l>] [linger] [proto <p>] [comment <c>]``."""

    port: int | None = None
    addr: Any = None
    default: bool = False
    linger: bool = False
    #: the connect added before the first rule when the written rules do not start with one
    implicit: bool = False
    #: ``ssl``: TLS over this connection, with ``sni`` and ``alpn`` (the server's
    #: ``check_tls_for(sni, alpn)`` gives the context)
    ssl: bool = False
    sni: str | None = None
    alpn: tuple[str, ...] | None = None
    #: ``proto``: the multiplexer of this connection (h1 or h2, see h2check.py)
    proto: str | None = None
    #: options that need a transport hapx does not have here (send-proxy, ...)
    unsupported: tuple[str, ...] = ()


@dataclass
class HttpRequest:
    meth: str = "OPTIONS"
    uri: str = "/"
    ver: str = "HTTP/1.0"
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None


@dataclass
class Send(Rule):
    """``send <string>`` / ``send-binary <hex>`` (``data``), or an HTTP request."""

    data: bytes = b""
    kind: str = "string"  # string | binary | http
    http: HttpRequest | None = None
    #: the send rule made by ``option httpchk`` (the first ``http-check send`` merges in it)
    from_option: bool = False


@dataclass
class Expect(Rule):
    """``expect [min-recv <n>] [ok-status <st>] [error-status <st>] [tout-status <st>]
    [comment <c>] [!] <match> <pattern>``."""

    match: str = "string"
    pattern: str = ""
    data: bytes = b""
    regex: Any = None
    codes: list[tuple[int, int]] = field(default_factory=list)
    inverse: bool = False
    min_recv: int = -1
    ok_status: str | None = None
    error_status: str | None = None
    tout_status: str | None = None
    http: bool = False
    implicit: bool = False


class RuleError(ValueError):
    """A rule line that cannot be parsed (the message is HAProxy's)."""


def next_index(rules: list[Rule]) -> int:
    return rules[-1].index + 1 if rules else 0


def parse_hex(text: str) -> bytes:
    if len(text) % 2 or not re.fullmatch(r"[0-9A-Fa-f]*", text):
        raise RuleError(f"'{text}' is not a valid hexadecimal string")
    return bytes.fromhex(text)


def _regex(text: str) -> Any:
    try:
        return re.compile(text.encode("latin-1"))
    except re.error as exc:
        raise RuleError(f"regex '{text}' : {exc}") from None


def _codes(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise RuleError(f"invalid status code range '{part}'")
        out.append((int(lo), int(hi or lo)))
    return out


def parse_connect(words: list[str], index: int, *, http: bool) -> Connect:
    rule = Connect(index=index)
    unsupported = []
    i = 0
    while i < len(words):
        w = words[i]
        if w == "default":
            rule.default = True
        elif w in ("addr", "port", "proto", "comment", "sni", "alpn"):
            if i + 1 >= len(words):
                what = {"addr": "<ipv4|ipv6>", "port": "a port number or a sample expression",
                        "proto": "a MUX protocol", "alpn": "a list of protocols"}.get(
                    w, "a string")
                raise RuleError(f"'{w}' expects {what} as argument.")
            value = words[i + 1]
            if w == "addr":
                try:
                    rule.addr = parse_address(value, ports=Ports.OPTIONAL)
                except AddressError as exc:
                    raise RuleError(f"'{w}' : {exc}.") from None
            elif w == "port":
                if not value.isdigit():
                    unsupported.append("port <expression>")
                elif not 1 <= int(value) <= 65535:
                    raise RuleError("expects a valid TCP port (from range 1 to 65535) or a "
                                    f"sample expression, got {value}.")
                else:
                    rule.port = int(value)
            elif w == "comment":
                rule.comment = value
            elif w == "sni":
                rule.sni = value
            elif w == "alpn":
                rule.alpn = tuple(p for p in value.split(",") if p)
            elif w == "proto" and value in ("h1", "h2"):
                rule.proto = value
            else:
                unsupported.append(w)
            i += 1
        elif w == "linger":
            rule.linger = True
        elif w == "ssl":
            rule.ssl = True
        elif w in ("send-proxy", "via-socks4"):
            unsupported.append(w)
        else:
            raise RuleError("expects 'comment', 'port', 'addr', 'send-proxy', 'ssl', 'sni', "
                            "'alpn' or 'via-socks4', 'linger', 'default' but got "
                            f"'{w}' as argument.")
        i += 1
    rule.unsupported = tuple(unsupported)
    return rule


def parse_tcp_send(words: list[str], index: int, binary: bool) -> Send:
    kw = "send-binary" if binary else "send"
    if not words:
        raise RuleError(f"'{kw}' expects a {'binary string' if binary else 'string'} as "
                        "argument.")
    rule = Send(index=index, kind="binary" if binary else "string")
    rule.data = parse_hex(words[0]) if binary else words[0].encode("latin-1")
    rest = words[1:]
    if rest:
        if rest[0] != "comment" or len(rest) != 2:
            raise RuleError(f"expects 'comment' but got '{rest[0]}' as argument.")
        rule.comment = rest[1]
    return rule


def parse_http_send(words: list[str], index: int) -> tuple[Send, set[str]]:
    """``send [meth <m>] [uri <u>|uri-lf <fmt>] [ver <v>] [hdr <n> <v>]* [body <s>|body-lf
    <fmt>] [comment <c>]``; returns the rule and the parameters it set."""
    req = HttpRequest(meth="", uri="", ver="")
    given: set[str] = set()
    rule = Send(index=index, kind="http", http=req)
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("meth", "uri", "ver", "body", "comment", "uri-lf", "body-lf"):
            if i + 1 >= len(words):
                raise RuleError(f"'{w}' expects a string as argument.")
            value = words[i + 1]
            if w == "meth":
                req.meth = value
            elif w == "uri":
                req.uri = value
            elif w == "ver":
                req.ver = value
            elif w == "body":
                req.body = value.encode("latin-1")
            elif w == "comment":
                rule.comment = value
            else:
                raise RuleError(f"'{w}' (log-format) is not supported by hapx yet.")
            given.add(w)
            i += 2
        elif w == "hdr":
            if i + 2 >= len(words):
                raise RuleError("'hdr' expects <name> and <value> as arguments.")
            req.headers.append((words[i + 1], words[i + 2]))
            given.add("hdr")
            i += 3
        else:
            raise RuleError("expects 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' "
                            f"or 'body-lf' but got '{w}' as argument.")
    return rule, given


def parse_expect(words: list[str], index: int, *, http: bool) -> Expect:
    matches = HTTP_MATCHES if http else TCP_MATCHES
    rule = Expect(index=index, http=http)
    i = 0
    found = False
    while i < len(words):
        w = words[i]
        if w == "!":
            rule.inverse = True
            i += 1
            continue
        if w in matches:
            if i + 1 >= len(words):
                raise RuleError(f"'{w}' expects <pattern> as argument.")
            rule.match = w
            rule.pattern = words[i + 1]
            found = True
            i += 2
            continue
        if w in ("min-recv", "comment", "ok-status", "error-status", "tout-status",
                 "on-success", "on-error", "status-code"):
            if i + 1 >= len(words):
                raise RuleError(f"'{w}' expects an argument.")
            value = words[i + 1]
            if w == "min-recv":
                try:
                    rule.min_recv = int(value)
                except ValueError:
                    raise RuleError(f"'{w}' expects an integer as argument.") from None
            elif w == "comment":
                rule.comment = value
            elif w in ("ok-status", "error-status", "tout-status"):
                if value not in STATUS_WORDS:
                    raise RuleError(f"'{w}' only supports 'L4OK', 'L6OK', 'L7OK', 'L7OKC', "
                                    f"'L7RSP', 'L7STS', 'L6RSP', 'L4CON' ... (got '{value}').")
                setattr(rule, w.replace("-", "_"), value)
            else:
                raise RuleError(f"'{w}' (log-format) is not supported by hapx yet.")
            i += 2
            continue
        if w in (TCP_INACTIVE if not http else HTTP_INACTIVE):
            raise RuleError(f"'{w}' is not supported by hapx yet.")
        if not found:
            listed = ", ".join(f"'[!]{m}'" for m in matches)
            raise RuleError(f"only supports min-recv, {listed} or comment but got '{w}' as "
                            "argument.")
        raise RuleError(f"unexpected argument '{w}'.")
    if not found:
        raise RuleError("expects at least a matching pattern as arguments.")
    if rule.match in ("rstring", "rstatus"):
        rule.regex = _regex(rule.pattern)
    elif rule.match == "rbinary":
        rule.regex = _regex(rule.pattern)
    elif rule.match == "binary":
        rule.data = parse_hex(rule.pattern)
    elif rule.match == "status":
        rule.codes = _codes(rule.pattern)
    else:
        rule.data = rule.pattern.encode("latin-1")
    return rule


def parse_httpchk_option(words: list[str]) -> HttpRequest:
    """``option httpchk``, ``option httpchk <uri>``, ``option httpchk <meth> <uri>
    [<version>]``; a version followed by ``\\r\\n`` lines carries headers (old form)."""
    req = HttpRequest()
    if len(words) == 1:
        req.uri = words[0]
    elif len(words) >= 2:
        req.meth, req.uri = words[0], words[1]
        if len(words) >= 3:
            ver, *lines = words[2].split("\r\n")
            req.ver = ver
            for line in lines:
                name, sep, value = line.partition(":")
                if sep and name:
                    req.headers.append((name.strip(), value.strip()))
    return req


def merge_send(into: HttpRequest, other: HttpRequest, given: set[str]) -> None:
    """The first ``http-check send`` completes the request of ``option httpchk``."""
    if "meth" in given:
        into.meth = other.meth
    if "uri" in given:
        into.uri = other.uri
    if "ver" in given:
        into.ver = other.ver
    into.headers.extend(other.headers)
    if "body" in given:
        into.body = other.body
