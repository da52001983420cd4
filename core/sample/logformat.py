"""The log-format language (HAProxy's "Custom log format", section 8.2.6).

``text %% %[expr] %{+Q,-X}[expr] %xx %{+Q}xx %{+Q}o %(name)xx %(name:type)[expr]`` is
compiled once into a template whose dynamic parts are closures.

Aliases (``%ci``, ``%ST`` ...) are :class:`~hapx.core.records.LogAlias` records: either an
expression (``fetch``) whose value is printed, or ``render(strm, options)`` returning a str
(printed as text: quoted with +Q, escaped with +E), an int (printed as a number), a Sample
(printed like an expression's value, +X giving hex for integers and addresses) or None
(missing).  ``options`` is a :class:`LogOpt`.

Contexts: ``"log"`` (log lines: runs of spaces merge into one, a missing value prints ``-``)
and ``"http"`` (header values, response bodies: a missing value prints nothing and the
characters HTTP forbids are written ``%XX``).  With ``%{+json}o`` the line becomes a JSON
object of the named items (``%(name)...``).  CBOR output is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntFlag
from ipaddress import IPv4Address
from typing import Any

from ..errors import ConfigError
from ..records import LogAlias, Point, SmpType, Use
from .cast import cast
from .expr import SampleExpr, parse_expr
from .types import Sample
from .usage import check_use, use_names

T = SmpType


class LogOpt(IntFlag):
    """Options of a log-format item (HAProxy's LOG_OPT_*)."""

    MANDATORY = 1  # +M: print "-" for an empty value
    QUOTE = 2  # +Q
    HEXA = 4  # +X
    ESC = 8  # +E
    BIN = 16  # +bin (global only)
    JSON = 32  # +json
    CBOR = 64  # +cbor
    HTTP = 128  # value goes into HTTP (header value, body)


ENCODE = LogOpt.JSON | LogOpt.CBOR
FLAG_NAMES: dict[str, LogOpt] = {
    "M": LogOpt.MANDATORY, "Q": LogOpt.QUOTE, "X": LogOpt.HEXA, "E": LogOpt.ESC,
    "bin": LogOpt.BIN, "json": LogOpt.JSON, "cbor": LogOpt.CBOR,
}
# Plain-int copies of the flags: the per-call formatting tests ints, since an IntFlag
# operation builds a new enum member each time (about ten times slower).
_MANDATORY, _QUOTE, _HEXA, _ESC, _BIN, _JSON, _CBOR, _HTTP = (
    int(LogOpt.MANDATORY), int(LogOpt.QUOTE), int(LogOpt.HEXA), int(LogOpt.ESC),
    int(LogOpt.BIN), int(LogOpt.JSON), int(LogOpt.CBOR), int(LogOpt.HTTP))
TYPECASTS = {"str": T.STR, "sint": T.SINT, "bool": T.BOOL}

_HTTP_ESCAPES = {i: f"%{i:02X}" for i in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)}
#: a character _HTTP_ESCAPES changes
_HTTP_FORBIDDEN = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
_RFC5424_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\", ord("]"): "\\]"}
_JSON_ESCAPES = {ord('"'): '\\"', ord("\\"): "\\\\",
                 **{i: f"\\u{i:04x}" for i in range(0x20)}}

Render = Callable[[Any], str]


@dataclass
class LogNode:
    """One compiled item: ``kind`` is text, expr or alias."""

    kind: str
    text: str = ""
    expr: SampleExpr | None = None
    alias: LogAlias | None = None
    options: LogOpt = LogOpt(0)
    name: str | None = None
    typecast: SmpType = T.SAME


# -- value formatting ------------------------------------------------------------------------

def parse_flags(arg: str, options: LogOpt) -> LogOpt:
    """Apply ``+Q,-X,...`` to ``options`` (unknown flags are ignored, as HAProxy does)."""
    for item in arg.split(","):
        if len(item) < 2 or item[0] not in "+-":
            continue
        flag = FLAG_NAMES.get(item[1:])
        if flag is None:
            continue
        if item[0] == "-":
            options &= ~flag
        elif options & ENCODE:
            options |= flag & ~ENCODE  # an encoding already chosen prevails
        else:
            options |= flag
    return options


def _missing(opts: LogOpt) -> str:
    if opts & _HTTP:
        return ""
    if opts & _JSON:
        return '""'
    if opts & _QUOTE:
        return '""'
    return "-" if opts & _MANDATORY else ""


def format_text(s: str, opts: LogOpt) -> str:
    """A string value with the item's options (quote, escape, "-" when empty)."""
    nul = s.find("\x00")
    if nul >= 0 and not opts & _HTTP:
        s = s[:nul]
    if opts & _HTTP:
        if opts & _ESC:
            s = s.translate(_RFC5424_ESCAPES)
        return s.translate(_HTTP_ESCAPES)
    if opts & _JSON:
        return '"' + s.translate(_JSON_ESCAPES) + '"'
    if opts & _ESC:
        s = s.translate(_RFC5424_ESCAPES)
    if opts & _QUOTE:
        return '"' + s + '"'
    if not s and opts & _MANDATORY:
        return "-"
    return s


def _hex(smp: Sample) -> str | None:
    if smp.type in (T.IPV4, T.IPV6):
        return smp.value.packed.hex().upper()
    if smp.type == T.SINT:
        return f"{smp.value & 0xFFFFFFFFFFFFFFFF:04X}"
    return None


def _json_value(smp: Sample | None, opts: LogOpt, typecast: SmpType) -> str:
    if typecast in (T.STR, T.SINT, T.BOOL):
        want = typecast
    elif smp is not None and smp.type in (T.SINT, T.BOOL):
        want = smp.type
    else:
        want = T.STR
    if smp is not None:
        smp = cast(smp, want)
    if smp is None:
        return '""'
    if want == T.BOOL:
        return "true" if smp.value else "false"
    if want == T.SINT:
        return f'"{smp.value}"' if typecast == T.STR else str(smp.value)
    return format_text(smp.value, opts)


def format_sample(smp: Sample | None, opts: LogOpt, typecast: SmpType = T.SAME) -> str:
    """A sample as a log-format item prints it."""
    if opts & _JSON:
        return _json_value(smp, opts, typecast)
    if smp is None:
        return _missing(opts)
    if opts & _HEXA and not opts & _HTTP:
        hx = _hex(smp)
        if hx is not None:
            return hx
    if smp.type == T.BIN and opts & _BIN and typecast != T.STR:
        return bytes(smp.value).decode("latin-1")
    conv = cast(smp, T.STR)
    if conv is None:
        return _missing(opts)
    return format_text(conv.value, opts)


def format_rendered(value: Any, opts: LogOpt, typecast: SmpType = T.SAME) -> str:
    """What an alias's ``render`` returned, printed with the item's options."""
    if value is None:
        return _missing(opts)
    if isinstance(value, Sample):
        return format_sample(value, opts, typecast)
    if isinstance(value, bool):
        if opts & _JSON:
            return "true" if value else "false"
        return "1" if value else "0"
    if isinstance(value, int):
        if opts & _JSON and typecast == T.STR:
            return f'"{value}"'
        return str(value)
    return format_text(str(value), opts)


# -- the compiled format ---------------------------------------------------------------------

class LogFormat:
    """A compiled log-format string: ``render(strm)`` builds the text."""

    __slots__ = ("text", "uses", "is_const", "nodes", "options", "render")

    def __init__(self, text: str, nodes: list[LogNode], options: LogOpt, uses: Use) -> None:
        self.text = text
        self.nodes = nodes
        self.options = options
        self.uses = uses
        self.is_const = all(n.kind == "text" for n in nodes) and not options & ENCODE
        self.render: Render = _build_render(nodes, options)

    def __repr__(self) -> str:
        return f"LogFormat({self.text!r})"


#: options that need more than "the text, or '-' when empty" (the general path)
_SPECIAL = _QUOTE | _HEXA | _ESC | _BIN | _JSON | _CBOR | _HTTP
_IPV4_TEXT: dict[int, str] = {}
#: the text of an IPv4 address already seen, by its integer value (None when not seen yet)
ipv4_known = _IPV4_TEXT.get


def ipv4_text(ip: Any) -> str:
    """str(ip) of an IPv4Address, remembered by its integer value."""
    key = ip._ip
    text = _IPV4_TEXT.get(key)
    if text is None:
        if len(_IPV4_TEXT) > 4096:
            _IPV4_TEXT.clear()
        text = _IPV4_TEXT[key] = str(ip)
    return text


_ipv4_text = ipv4_text


def _node_fn(node: LogNode) -> Render:
    opts, typecast = int(node.options), node.typecast
    plain = not opts & _SPECIAL and typecast == T.SAME
    if node.expr is not None:
        ev = node.expr.eval
        if plain:
            # the common case, "%[expr]" or "%ci" in a log line: a string or an address
            # printed as it is; everything else goes through format_sample
            missing = _missing(opts)
            t_str, t_ipv4 = T.STR, T.IPV4

            def render_expr_plain(strm: Any) -> str:
                smp = ev(strm)
                if smp is None:
                    return missing
                t = smp.type
                if t is t_str:
                    text = smp.value
                    if text and "\x00" not in text:
                        return text
                elif t is t_ipv4 and type(smp.value) is IPv4Address:
                    return _ipv4_text(smp.value)
                return format_sample(smp, opts, typecast)
            return render_expr_plain

        if not opts & (_SPECIAL & ~_HTTP) and typecast == T.SAME:
            # a header value or a body ("http" context): addresses need no escaping
            # and a string needs the %XX escapes only when it holds a forbidden character
            t_ipv4, t_str2 = T.IPV4, T.STR
            search, known = _HTTP_FORBIDDEN.search, _IPV4_TEXT.get

            def render_expr_http(strm: Any) -> str:
                smp = ev(strm)
                if smp is not None:
                    t = smp.type
                    if t is t_str2:
                        text = smp.value
                        if text.__class__ is str and search(text) is None:
                            return text
                    elif t is t_ipv4 and type(smp.value) is IPv4Address:
                        return known(smp.value._ip) or _ipv4_text(smp.value)
                return format_sample(smp, opts, typecast)
            return render_expr_http

        def render_expr(strm: Any) -> str:
            return format_sample(ev(strm), opts, typecast)
        return render_expr
    assert node.alias is not None and node.alias.render is not None
    fn = node.alias.render
    if plain:
        def render_alias_plain(strm: Any) -> str:
            value = fn(strm, opts)
            if value.__class__ is str and value and "\x00" not in value:
                return value
            return format_rendered(value, opts, typecast)
        return render_alias_plain

    def render_alias(strm: Any) -> str:
        return format_rendered(fn(strm, opts), opts, typecast)
    return render_alias


def _build_render(nodes: list[LogNode], options: LogOpt) -> Render:
    if options & LogOpt.JSON:
        fields = tuple((n.name, _node_fn(n)) for n in nodes if n.kind != "text" and n.name)

        def render_json(strm: Any) -> str:
            return "{" + ", ".join(f'"{name}": {fn(strm)}' for name, fn in fields) + "}"
        return render_json

    parts: list[Any] = []
    for n in nodes:
        if n.kind == "text":
            if parts and isinstance(parts[-1], str):
                parts[-1] += n.text
            else:
                parts.append(n.text)
        else:
            parts.append(_node_fn(n))
    if not parts:
        return lambda strm: ""
    if len(parts) == 1 and isinstance(parts[0], str):
        const = parts[0]
        return lambda strm: const
    if len(parts) == 1:
        return parts[0]
    return _generate(nodes)


def _plain(node: LogNode) -> bool:
    return not int(node.options) & _SPECIAL and node.typecast == T.SAME


def _quoted(node: LogNode) -> bool:
    """+Q as the only option changing how a string prints."""
    return int(node.options) & _SPECIAL == _QUOTE and node.typecast == T.SAME


#: the names an alias's inline_env may give: none of the generated ones (_a3, _L12, ...)
_ENV_NAME = re.compile(r"_(?![A-Za-z]\d+$)\w+$")


def _env_fits(alias: LogAlias, ns: dict[str, Any]) -> bool:
    """True when the names of the alias's inline_env may be added to ``ns``."""
    env = alias.inline_env or {}
    return all(_ENV_NAME.match(name) and ns.get(name, obj) is obj for name, obj in env.items())


def _is_text(node: LogNode, value: str) -> bool:
    """True when ``value`` (what :func:`_alias_value` wrote) is the alias's inline expression
    and that expression always gives a non-empty str without NUL."""
    alias = node.alias
    return (alias is not None and alias.inline_text and bool(alias.inline)
            and value == f"({alias.inline})")


def _alias_value(node: LogNode, i: int, ns: dict[str, Any]) -> str:
    """The source of an alias item's value in a generated function: the alias's ``inline``
    expression when it has one whose names fit in ``ns``, else a call of its render."""
    alias = node.alias
    assert alias is not None and alias.render is not None
    if alias.inline and _env_fits(alias, ns):
        ns.update(alias.inline_env or {})
        return f"({alias.inline})"
    ns[f"_a{i}"] = alias.render
    return f"_a{i}(strm, _o{i})"


#: generated render functions by source text, compiled once
_CODE: dict[str, Any] = {}


def _generate(nodes: list[LogNode]) -> Render:
    """One generated function for the whole format: the items are computed in order, the
    common cases inline (a string, an address or an integer printed as it is; an alias
    returning a plain string), and the line is one f-string of literals and values."""
    ns: dict[str, Any] = {
        "_T_STR": T.STR, "_T_IPV4": T.IPV4, "_T_SINT": T.SINT, "_IPv4Address": IPv4Address,
        "_ipv4_text": _ipv4_text, "_ipv4_known": ipv4_known, "_format_sample": format_sample,
        "_format_rendered": format_rendered,
    }
    body: list[str] = []
    pieces: list[str] = []
    text: list[str] = []

    def flush_text() -> None:
        if text:
            name = f"_L{len(ns)}"
            ns[name] = "".join(text)
            pieces.append(name)
            text.clear()

    for i, n in enumerate(nodes):
        if n.kind == "text":
            text.append(n.text)
            continue
        flush_text()
        v = f"v{i}"
        pieces.append(v)
        opts, tc = int(n.options), n.typecast
        ns[f"_o{i}"], ns[f"_t{i}"] = opts, tc
        if n.expr is not None and _plain(n):
            ns[f"_e{i}"], ns[f"_m{i}"] = n.expr.eval, _missing(opts)
            pad = "    "
            if n.alias is not None and n.alias.inline and _env_fits(n.alias, ns):
                # an alias standing for a fetch (%ci) whose inline expression gives the
                # text in the common case, None otherwise (then the expression runs)
                ns.update(n.alias.inline_env or {})
                body += [f"    {v} = ({n.alias.inline})",
                         f"    if {v} is None:"]
                pad = "        "
            lines = [
                f"    s = _e{i}(strm)",
                "    if s is None:",
                f"        {v} = _m{i}",
                "    else:",
                "        t, x = s.type, s.value",
                '        if t is _T_STR and x and "\\x00" not in x:',
                f"            {v} = x",
                "        elif t is _T_IPV4 and x.__class__ is _IPv4Address:",
                f"            {v} = _ipv4_known(x._ip) or _ipv4_text(x)",
                "        elif t is _T_SINT and x.__class__ is int:",
                f"            {v} = str(x)",
                "        else:",
                f"            {v} = _format_sample(s, _o{i}, _t{i})",
            ]
            body += [pad + line[4:] for line in lines]
        elif n.expr is None and _plain(n):
            ns[f"_m{i}"] = _missing(opts)
            value = _alias_value(n, i, ns)
            body.append(f"    {v} = {value}")
            if not _is_text(n, value):
                body += [
                    f'    if {v}.__class__ is not str or not {v} or "\\x00" in {v}:',
                    f"        {v} = _m{i} if {v} is None else _format_rendered({v}, _o{i}, _t{i})",
                ]
        elif n.expr is None and _quoted(n):
            # %{+Q}r: a string without NUL is printed between double quotes
            value = _alias_value(n, i, ns)
            if _is_text(n, value):
                body.append(f"    {v} = '\"' + {value} + '\"'")
            else:
                body += [
                    f"    {v} = {value}",
                    f'    if {v}.__class__ is str and "\\x00" not in {v}:',
                    f"        {v} = '\"' + {v} + '\"'",
                    "    else:",
                    f"        {v} = _format_rendered({v}, _o{i}, _t{i})",
                ]
        else:
            ns[f"_f{i}"] = _node_fn(n)
            body.append(f"    {v} = _f{i}(strm)")
    flush_text()
    line = "".join("{" + p + "}" for p in pieces)
    src = "def render(strm):\n" + "\n".join(body) + f"\n    return f{line!r}\n"
    code = _CODE.get(src)
    if code is None:  # the same format in many proxies generates the same text
        code = _CODE[src] = compile(src, "<log-format>", "exec")
    exec(code, ns)  # noqa: S102 - our own generated text
    render: Render = ns["render"]
    return render


# -- parsing -----------------------------------------------------------------------------------

def _err(ctx: Any, msg: str) -> ConfigError:
    return ctx.error(msg) if ctx is not None and hasattr(ctx, "error") else ConfigError(msg)


class _Parser:
    def __init__(self, fmt: str, ctx: Any, point: Point | None, base: LogOpt,
                 merge_spaces: bool) -> None:
        self.fmt = fmt
        self.ctx = ctx
        self.point = point
        self.options = base  # default options of the next items (changed by %o)
        self.global_opts: LogOpt | None = None
        self.merge = merge_spaces
        self.nodes: list[LogNode] = []
        self.uses = Use(0)
        self.text: list[str] = []

    # text and separators
    def flush(self) -> None:
        if self.text:
            self.nodes.append(LogNode("text", "".join(self.text)))
            self.text = []

    def space(self) -> None:
        if self.text:
            if self.text[-1] != " ":
                self.text.append(" ")
        elif self.nodes and not (self.nodes[-1].kind == "text"
                                 and self.nodes[-1].text.endswith(" ")):
            self.text.append(" ")

    def add(self, node: LogNode) -> None:
        self.flush()
        self.nodes.append(node)

    def parse(self) -> None:
        fmt, n, i = self.fmt, len(self.fmt), 0
        while i < n:
            c = fmt[i]
            if c == "%":
                i = self.percent(i + 1)
            elif c == " " and self.merge:
                self.space()
                i += 1
            else:
                self.text.append(c)
                i += 1
        self.flush()

    def percent(self, i: int) -> int:
        fmt, n = self.fmt, len(self.fmt)
        if i >= n:
            raise _err(self.ctx, "truncated line after '%'")
        name: str | None = None
        typecast = T.SAME
        if fmt[i] == "(":
            name, typecast, i = self.custom_name(i + 1)
            if i >= n:
                raise _err(self.ctx, "truncated line after '%'")
        c = fmt[i]
        arg: str | None = None
        if c == "{":
            close = fmt.find("}", i + 1)
            if close < 0:
                raise _err(self.ctx, f"truncated line after '{fmt[i + 1:]}'")
            arg = fmt[i + 1:close]
            i = close + 1
            if i >= n or not (fmt[i] == "[" or fmt[i].isalnum()):
                raise _err(self.ctx,
                           f"parse argument modifier without alias name near '%{{{arg}}}'")
            c = fmt[i]
        opts = parse_flags(arg, self.options) if arg else self.options
        if c == "[":
            return self.expression(i + 1, opts, name, typecast)
        if c.isalpha() or (arg is not None and c.isalnum()):
            j = i
            while j < n and fmt[j].isalnum():
                j += 1
            self.alias(fmt[i:j], opts, name, typecast)
            return j
        if c == "%" and name is None:
            self.text.append("%")
            return i + 1
        if c.isdigit() or c in " \t":
            raise _err(self.ctx, f"unexpected alias name near '{c}' at position {i} line : "
                                 f"'{fmt}'. Maybe you want to write a single '%', use the "
                                 "syntax '%%'")
        return i  # HAProxy drops a lone '%' before other characters

    def custom_name(self, i: int) -> tuple[str, SmpType, int]:
        fmt, n = self.fmt, len(self.fmt)
        start = i
        while i < n and (fmt[i].isalnum() or fmt[i] in "_-"):
            i += 1
        if i >= n:
            raise _err(self.ctx, "truncated line after '%'")
        name = fmt[start:i]
        typecast = T.SAME
        if fmt[i] == ":":
            tstart = i + 1
            close = fmt.find(")", tstart)
            if close < 0:
                raise _err(self.ctx, "truncated line after '%'")
            tname = fmt[tstart:close]
            if tname not in TYPECASTS:
                raise _err(self.ctx, f"unexpected output type '{tname}' at position {tstart} "
                                     f"line : '{fmt}'. Supported types are: str, sint, bool")
            return name, TYPECASTS[tname], close + 1
        if fmt[i] != ")":
            raise _err(self.ctx, f"invalid character in custom name near '{fmt[i]}' at "
                                 f"position {i} line : '{fmt}'")
        return name, typecast, i + 1

    def expression(self, i: int, opts: LogOpt, name: str | None, typecast: SmpType) -> int:
        fmt = self.fmt
        rest = fmt[i:]
        try:
            expr, end = parse_expr(fmt, i, self.ctx, None)
        except ConfigError as exc:
            raise _err(self.ctx, f"failed to parse sample expression <{rest}> : "
                                 f"{exc.message}") from None
        if end >= len(fmt) or fmt[end] != "]":
            found = fmt[end] if end < len(fmt) else ""
            if found.isprintable() and found:
                raise _err(self.ctx, f"expected ']' after '{fmt[i:end]}', but found '{found}'")
            raise _err(self.ctx, f"missing ']' after '{fmt[i:end]}'")
        if check_use(expr.uses, self.point) is not None:
            raise _err(self.ctx, f"sample fetch <{rest}> may not be reliably used here because "
                                 f"it needs '{use_names(expr.uses)}' which is not available "
                                 "here")
        self.uses |= expr.uses
        self.add(LogNode("expr", expr=expr, options=opts, name=name, typecast=typecast))
        return end + 1

    def alias(self, word: str, opts: LogOpt, name: str | None, typecast: SmpType) -> None:
        if word == "o":
            self.options = opts
            self.global_opts = opts if self.global_opts is None else self.global_opts & opts
            return
        rec = self.ctx.registry.log_alias(word)
        if rec is None:
            raise _err(self.ctx, f"no such format alias '{word}'. If you wanted to emit the "
                                 "'%' character verbatim, you need to use '%%'")
        if not rec.active and hasattr(self.ctx, "mark_inactive"):
            self.ctx.mark_inactive(rec.name, rec.kind, rec.owner)
        self.uses |= rec.uses
        if rec.fetch is not None:
            try:
                expr = _compile_alias_expr(rec.fetch, self.ctx)
            except ConfigError as exc:
                raise _err(self.ctx, f"format alias '{word}' : {exc.message}") from None
            self.uses |= expr.uses
            self.add(LogNode("expr", expr=expr, alias=rec, options=opts, name=name,
                             typecast=typecast))
        elif rec.render is not None:
            self.add(LogNode("alias", alias=rec, options=opts, name=name, typecast=typecast))
        else:
            raise _err(self.ctx, f"format alias '{word}' has neither an expression nor a "
                                 f"renderer (plugin '{rec.owner}')")

    def finish(self) -> LogOpt:
        """Resolve the options of every item against the global ones (HAProxy's
        lf_expr_postcheck)."""
        glob = self.global_opts if self.global_opts is not None else LogOpt(0)
        glob = _resolve(glob, LogOpt(0))
        if glob & LogOpt.CBOR or any(n.options & LogOpt.CBOR for n in self.nodes):
            raise _err(self.ctx, "'+cbor' encoding is not supported by hapx")
        for node in self.nodes:
            opts = node.options
            if glob & ENCODE:
                opts = (opts & ~(LogOpt.BIN | ENCODE)) | (glob & (LogOpt.BIN | ENCODE))
            else:
                opts = (opts & ~LogOpt.BIN) | (glob & LogOpt.BIN)
            node.options = _resolve(opts, glob)
        return glob


def _resolve(opts: LogOpt, glob: LogOpt) -> LogOpt:
    if opts & LogOpt.HTTP:
        if (glob & (LogOpt.HTTP | ENCODE)) & ENCODE and not glob & LogOpt.HTTP:
            opts &= ~LogOpt.HTTP
        else:
            opts &= ~ENCODE
    if opts & ENCODE:
        opts &= ~LogOpt.ESC
    return opts


def _compile_alias_expr(text: str, ctx: Any) -> SampleExpr:
    expr, end = parse_expr(text, 0, ctx, None)
    if end != len(text):
        raise _err(ctx, f"invalid expression '{text}'")
    return expr


def compile_logformat(text: str, ctx: Any, point: Point | None = None, *,
                      context: str = "log", merge_spaces: bool | None = None) -> LogFormat:
    """Compile a log-format string (raises ConfigError with HAProxy's messages).

    ``context`` is ``"log"`` (missing values print ``-``, spaces merge) or ``"http"`` (header
    values and bodies: missing values print nothing, forbidden characters are ``%XX``).
    ``merge_spaces`` overrides the space merging of the context.
    """
    if context not in ("log", "http"):
        raise ValueError(f"unknown log-format context '{context}'")
    base = LogOpt.MANDATORY if context == "log" else LogOpt.HTTP
    merge = (context == "log") if merge_spaces is None else merge_spaces
    parser = _Parser(text, ctx, point, base, merge)
    parser.parse()
    glob = parser.finish()
    return LogFormat(text, parser.nodes, glob, parser.uses)
