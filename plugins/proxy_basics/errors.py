"""Custom error replies: ``errorfile``, ``errorfiles``, ``http-error`` and the
``http-errors <name>`` section.

Every proxy keeps ``settings["http-errors"]``: a dict status -> :class:`ErrorReply`, the
reply the data path sends instead of the built-in one for that status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hapx.core.config.model import ALL_PROXIES, Config, Proxy
from hapx.core.config.parser import ParseContext
from hapx.core.errors import ConfigError
from hapx.core.records import Directive, Point, Section

from .common import resolve_path
from .lfsource import logformat_setting

#: the statuses HAProxy can produce and lets you customize (http_err_codes in 3.2)
ERROR_CODES = (200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 421, 422, 425, 429, 500,
               501, 502, 503, 504)
_STATUS_LINE = re.compile(rb"HTTP/\d\.\d \d{3}(?: [^\r\n]*)?\r?\n")
_HEADER = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n]*\r?\n")
_EOH = re.compile(rb"\r?\n")


@dataclass
class HeaderFmt:
    """One ``hdr <name> <fmt>`` of http-error: the value is a LogFormat ("http" context)."""

    name: str
    value: Any
    lf_fields: ClassVar[tuple[str, ...]] = ("value",)


@dataclass
class ErrorReply:
    """The reply for one status.  ``raw`` is a whole HTTP/1 response read from a file
    (errorfile); otherwise the reply is built from ``content_type`` and either ``body``
    (bytes) or ``body_fmt`` (a LogFormat rendered per request), plus ``headers``.
    ``builtin`` means HAProxy's own message for that status (http-error ...
    default-errorfiles)."""

    status: int
    raw: bytes | None = None
    content_type: str | None = None
    body: bytes | None = None
    body_fmt: Any = None
    headers: list[HeaderFmt] = field(default_factory=list)
    builtin: bool = False
    file: str = ""
    line: int = 0
    lf_fields: ClassVar[tuple[str, ...]] = ("body_fmt", "headers")


@dataclass
class HttpErrors:
    """An ``http-errors <name>`` section: status -> reply."""

    name: str
    file: str
    line: int
    errors: dict[int, ErrorReply] = field(default_factory=dict)


def check_http_response(data: bytes) -> int | None:
    """None when ``data`` is empty or an HTTP/1 response head, else the error offset."""
    if not data:
        return None
    m = _STATUS_LINE.match(data)
    if not m:
        return 0
    pos = m.end()
    while True:
        end = _EOH.match(data, pos)
        if end:
            return None
        h = _HEADER.match(data, pos)
        if not h:
            return pos
        pos = h.end()


def load_errorfile(ctx: ParseContext, path: str, who: str) -> bytes:
    full = resolve_path(ctx, path)
    try:
        with open(full, "rb") as fh:
            data = fh.read()
    except OSError:
        raise ctx.error(f"{who} : error opening file '{path}'.") from None
    offset = check_http_response(data)
    if offset is not None:
        raise ctx.error(f"{who} : '{path}': unable to parse headers (error offset: "
                        f"{offset})")
    return data


def _status(ctx: ParseContext, text: str, who: str, fmt: str) -> int:
    try:
        code = int(text)
    except ValueError:
        code = -1
    if code not in ERROR_CODES:
        raise ctx.error(fmt.format(who=who, code=text))
    return code


def _errorfile_into(ctx: ParseContext, args: list[str], errors: dict[int, ErrorReply]) -> None:
    if len(args) != 2:
        raise ctx.error("errorfile : expects <status_code> and <file> as arguments.")
    code = _status(ctx, args[0], "errorfile", "{who} : status code '{code}' not handled.")
    data = load_errorfile(ctx, args[1], "errorfile")
    errors[code] = ErrorReply(code, raw=data, file=ctx.file, line=ctx.line)


def _proxy_errors(px: Proxy) -> dict[int, ErrorReply]:
    return px.settings.setdefault("http-errors", {})


def _errorfile(ctx: ParseContext, args: list[str]) -> None:
    _errorfile_into(ctx, args, _proxy_errors(ctx.proxy))


def _section_errorfile(ctx: ParseContext, args: list[str]) -> None:
    _errorfile_into(ctx, args, ctx.section.errors)


def _find_section(config: Config, name: str) -> HttpErrors | None:
    return config.sections.get("http-errors", {}).get(name)


def _inheritors(config: Config, px: Proxy) -> list[Proxy]:
    """``px`` and, for a defaults section, every proxy that inherits from it."""
    out = [px]
    for other in config.proxies:
        d = other.defaults
        while d is not None:
            if d is px:
                out.append(other)
                break
            d = d.defaults
    return out


def _errorfiles(ctx: ParseContext, args: list[str]) -> None:
    if not args:
        raise ctx.error("errorfiles : expects <name> as argument.")
    name = args[0]
    codes = [_status(ctx, c, "errorfiles", "{who} : status code '{code}' not handled.")
             for c in args[1:]]
    px = ctx.proxy

    def copy(section: HttpErrors, target: dict[int, ErrorReply], keep: bool) -> None:
        for code, reply in section.errors.items():
            if codes and code not in codes:
                continue
            if keep:
                target.setdefault(code, reply)
            else:
                target[code] = reply

    section = _find_section(ctx.config, name)
    if section is not None:
        copy(section, _proxy_errors(px), keep=False)
        return

    def later(config: Config) -> None:
        found = _find_section(config, name)
        if found is None:
            raise ConfigError(f"errorfiles : unknown http-errors section '{name}' "
                              f"({px.describe()}).")
        for target in _inheritors(config, px):
            copy(found, _proxy_errors(target), keep=True)
    ctx.defer(later)


def _http_error(ctx: ParseContext, args: list[str]) -> None:
    who = "http-error"
    if not args:
        raise ctx.error(f"{who} : expects at least a <status> as arguments.")
    if args[0] != "status":
        raise ctx.error(f"{who} : expects 'status' as first argument, got '{args[0]}'.")
    if len(args) < 2:
        raise ctx.error(f"{who} : 'status' expects <status_code> as argument.")
    code = _status(ctx, args[1], who, "{who} : Unexpected status code '{code}'")
    reply = ErrorReply(code, file=ctx.file, line=ctx.line)
    payload: str | None = None
    section_ref: str | None = None
    i = 2
    fe_point, be_point = Point.FE_HRS_HDR, Point.BE_HRS_HDR

    def value(word: str, what: str) -> str:
        if i + 1 >= len(args):
            raise ctx.error(f"{who} : '{word}' expects {what} as argument")
        return args[i + 1]

    while i < len(args):
        word = args[i]
        if word == "content-type":
            reply.content_type = value(word, "<type>")
            i += 2
        elif word in ("default-errorfiles", "errorfile", "errorfiles", "file", "lf-file",
                      "string", "lf-string"):
            if payload is not None:
                raise ctx.error(f"{who} : '{word}' cannot be used with '{payload}'.")
            payload = word
            if word == "default-errorfiles":
                reply.builtin = True
                i += 1
                continue
            arg = value(word, "<str>" if "string" in word else "<name>"
                        if word == "errorfiles" else "<file>")
            if word == "errorfile":
                reply.raw = load_errorfile(ctx, arg, who)
            elif word == "errorfiles":
                section_ref = arg
            elif word == "file":
                reply.body = _read(ctx, arg, who)
            elif word == "lf-file":
                text = _read(ctx, arg, who).decode("latin-1")
                reply.body_fmt = logformat_setting(ctx, text, context="http",
                                                   fe_point=fe_point, be_point=be_point)
            elif word == "string":
                reply.body = arg.encode("latin-1")
            else:
                reply.body_fmt = logformat_setting(ctx, arg, context="http",
                                                   fe_point=fe_point, be_point=be_point)
            i += 2
        elif word == "hdr":
            if i + 2 >= len(args):
                raise ctx.error(f"{who} : 'hdr' expects <name> and <value> as arguments")
            name = args[i + 1]
            if name.lower() in ("content-length", "transfer-encoding"):
                raise ctx.error(f"{who} : header '{name}' is reserved and cannot be set.")
            reply.headers.append(HeaderFmt(name, logformat_setting(
                ctx, args[i + 2], context="http", fe_point=fe_point, be_point=be_point)))
            i += 3
        else:
            raise ctx.error(f"{who} : unknown keyword '{word}'.")
    if payload in ("errorfile", "errorfiles", "default-errorfiles"):
        if reply.headers or reply.content_type:
            raise ctx.error(f"{who} : '{payload}' cannot be combined with 'content-type' or "
                            "'hdr'.")
    elif payload is not None and reply.content_type is None:
        raise ctx.error(f"{who} : a content type must be defined when non-empty payload is "
                        "configured")
    errors = _proxy_errors(ctx.proxy)
    errors[code] = reply
    if section_ref is not None:
        px, ref = ctx.proxy, section_ref

        def later(config: Config) -> None:
            found = _find_section(config, ref)
            if found is None:
                raise ConfigError(f"http-error : unknown http-errors section '{ref}' "
                                  f"({px.describe()}).")
            src = found.errors.get(code)
            for target in _inheritors(config, px):
                cur = _proxy_errors(target).get(code)
                if cur is not None and cur.file == reply.file and cur.line == reply.line:
                    cur.raw = src.raw if src is not None else None
                    cur.builtin = src is None
        ctx.defer(later)


def _read(ctx: ParseContext, path: str, who: str) -> bytes:
    try:
        with open(resolve_path(ctx, path), "rb") as fh:
            return fh.read()
    except OSError:
        raise ctx.error(f"{who} : error opening file '{path}'.") from None


def _section_header(ctx: ParseContext, args: list[str]) -> HttpErrors:
    if not args:
        raise ctx.error("missing name for http-errors section.")
    if len(args) > 1:
        raise ctx.error(f"'http-errors' cannot handle unexpected argument '{args[1]}'.")
    table = ctx.config.sections.setdefault("http-errors", {})
    prev = table.get(args[0])
    if prev is not None:
        raise ctx.error(f"http-errors section '{args[0]}' has the same name as another "
                        f"http-errors section declared at {prev.file}:{prev.line}.")
    section = HttpErrors(args[0], ctx.file, ctx.line)
    table[args[0]] = section
    return section


def sections() -> list[Section]:
    return [Section("http-errors", parse_header=_section_header,
                    doc="http-errors <name>\n\nA named set of error files (errorfile lines) "
                        "that proxies use with 'errorfiles <name>' or 'http-error ... "
                        "errorfiles <name>'.  Stored in config.sections['http-errors'].")]


def directives() -> list[Directive]:
    codes = " ".join(str(c) for c in ERROR_CODES)
    return [
        Directive("errorfile", sections=ALL_PROXIES, parse=_errorfile,
                  doc=f"errorfile <code> <file>\n\nSend the content of <file>, a complete "
                      f"HTTP response, instead of the built-in reply for <code> (one of "
                      f"{codes}).  An empty file closes the connection without reply.  "
                      "Relative paths follow 'default-path'.  Stored as an ErrorReply in "
                      "settings['http-errors'][code]."),
        Directive("errorfile", sections=frozenset({"http-errors"}),
                  parse=_section_errorfile,
                  doc="errorfile <code> <file>\n\nIn an http-errors section: the response "
                      "to use for <code>."),
        Directive("errorfiles", sections=ALL_PROXIES, parse=_errorfiles,
                  doc="errorfiles <name> [<code> ...]\n\nImport the error files of the "
                      "http-errors section <name> (all of them, or only the listed "
                      "codes) into settings['http-errors']."),
        Directive("http-error", sections=ALL_PROXIES, parse=_http_error,
                  doc="http-error status <code> [content-type <type>] [{ default-errorfiles "
                      "| errorfile <file> | errorfiles <name> | file <file> | lf-file <file> "
                      "| string <str> | lf-string <fmt> }] [hdr <name> <fmt>]*\n\nDefine the "
                      "reply for <code> the way 'http-request return' does; lf-* bodies "
                      "and hdr values are log-format strings compiled now.  Stored as an "
                      "ErrorReply in settings['http-errors'][code]."),
    ]
