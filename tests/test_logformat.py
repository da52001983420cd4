"""The log-format language: text, %%, %[expr], flags, aliases, names, JSON and errors."""

from __future__ import annotations

import ipaddress
import json

import pytest
from hapx.core.errors import ConfigError
from hapx.core.records import Converter, Fetch, LogAlias, Point, Use
from hapx.core.records import SmpType as T
from hapx.core.sample.logformat import LogOpt, compile_logformat
from hapx.core.sample.types import Sample
from hapx.core.stream import Session, Stream

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


def _status(strm, options):
    return strm.status if strm.status >= 0 else None


def _seen(strm, options):
    strm.ext.setdefault("seen", []).append(options)
    return "r q"


RECORDS = (
    Fetch("t.str", process=lambda a, s: s.ext.get("str"), doc="t.str"),
    Fetch("t.int", process=lambda a, s: Sample(T.SINT, 255), out_type=T.SINT, doc="t.int"),
    Fetch("t.neg", process=lambda a, s: Sample(T.SINT, -1), out_type=T.SINT, doc="t.neg"),
    Fetch("t.bool", process=lambda a, s: Sample(T.BOOL, True), out_type=T.BOOL, doc="t.bool"),
    Fetch("t.src", process=lambda a, s: Sample(T.IPV4, s.sess.src), out_type=T.ADDR,
          uses=Use.L4CLI, doc="t.src"),
    Fetch("t.bin", process=lambda a, s: Sample(T.BIN, b"a\x00b"), out_type=T.BIN,
          doc="t.bin"),
    Fetch("t.res", process=lambda a, s: Sample(T.STR, "r"), uses=Use.HTTP_RES, doc="t.res"),
    Fetch("t.hdr", process=lambda a, s: Sample(T.STR, "h"), uses=Use.HTTP_REQ, doc="t.hdr"),
    Converter("t.upper", process=lambda a, s, st: Sample(T.STR, s.value.upper()),
              doc="t.upper"),
    LogAlias("ci", fetch="t.src", uses=Use.L4CLI, doc="%ci"),
    LogAlias("ST", render=_status, doc="%ST"),
    LogAlias("r", render=_seen, uses=Use.HTTP_REQ, doc="%r"),
    LogAlias("six", render=lambda s, o: Sample(T.IPV6, V6("::1")), doc="%six"),
    LogAlias("b", render=lambda s, o: True, doc="%b"),
)


@pytest.fixture
def ctx(registry_with, make_ctx):
    return make_ctx(registry_with(*RECORDS))


@pytest.fixture
def strm():
    s = Stream(sess=Session(src=V4("10.0.0.1")))
    s.status = 200
    s.ext["str"] = Sample(T.STR, 'a "b"]\\')
    return s


def render(fmt, ctx, strm, **kw):
    return compile_logformat(fmt, ctx, **kw).render(strm)


def test_plain_text_and_percent(ctx, strm):
    lf = compile_logformat("hello 100%% sure", ctx)
    assert lf.is_const and lf.render(strm) == "hello 100% sure" and lf.uses == Use(0)
    assert render("", ctx, strm) == ""
    assert compile_logformat("  a   b  ", ctx).render(strm) == "a b "  # runs of spaces merge
    assert compile_logformat("  a   b  ", ctx, context="http").render(strm) == "  a   b  "
    assert compile_logformat("a  b", ctx, merge_spaces=False).render(strm) == "a  b"
    assert render("a%-b", ctx, strm) == "a-b"  # a lone '%' before punctuation is dropped


def test_expressions(ctx, strm):
    lf = compile_logformat("ip=%[t.src] n=%[t.int] u=%[t.str,t.upper]", ctx)
    assert not lf.is_const and lf.uses == Use.L4CLI | Use.INTERNAL
    assert lf.render(strm) == 'ip=10.0.0.1 n=255 u=A "B"]\\'
    assert render("%[t.bool]/%[t.bin]", ctx, strm) == "1/a"


def test_missing_values(ctx, strm):
    strm.ext["str"] = None
    assert render("[%[t.str]]", ctx, strm) == "[-]"
    assert render("[%{+Q}[t.str]]", ctx, strm) == '[""]'
    assert render("[%{-M}[t.str]]", ctx, strm) == "[]"
    assert render("[%[t.str]]", ctx, strm, context="http") == "[]"
    strm.ext["str"] = Sample(T.STR, "")
    assert render("[%[t.str]]", ctx, strm) == "[-]"
    strm.status = -1
    assert render("%ST", ctx, strm) == "-"


def test_flags(ctx, strm):
    assert render("%{+Q}[t.str]", ctx, strm) == '"a "b"]\\"'
    assert render("%{+E}[t.str]", ctx, strm) == 'a \\"b\\"\\]\\\\'
    assert render("%{+Q,+E}[t.str]", ctx, strm) == '"a \\"b\\"\\]\\\\"'
    assert render("%{+X}[t.src] %{+X}[t.int] %{+X}[t.neg]", ctx, strm) == \
        "0A000001 00FF FFFFFFFFFFFFFFFF"
    assert render("%{+X}ci %ci %{+X}six", ctx, strm) == \
        "0A000001 10.0.0.1 00000000000000000000000000000001"
    assert render("%{+Q}ST %{+Q}r %b", ctx, strm) == '200 "r q" 1'
    assert render("%{+Z}[t.int]", ctx, strm) == "255"  # unknown flags are ignored


def test_global_options(ctx, strm):
    lf = compile_logformat('%{+Q}o %r %{-Q}r %r %{+X}o %ci', ctx)
    assert lf.render(strm) == '"r q" r q "r q" 0A000001'
    seen = strm.ext["seen"]
    assert seen[0] & LogOpt.QUOTE and not seen[1] & LogOpt.QUOTE
    assert lf.options == LogOpt.MANDATORY | LogOpt.QUOTE  # common to every %o
    assert compile_logformat("%{+Q}o %[t.int]", ctx).options & LogOpt.QUOTE


def test_http_context_escapes(ctx, strm):
    strm.ext["str"] = Sample(T.STR, "a\r\nb\x7f\tc\x00d%")
    assert render("<%[t.str]>", ctx, strm, context="http") == "<a%0D%0Ab%7F\tc%00d%>"
    strm.ext["str"] = Sample(T.STR, "x\x00y")
    assert render("%[t.str]", ctx, strm) == "x"  # log lines stop at NUL


def test_named_items_and_json(ctx, strm):
    lf = compile_logformat("%{+json}o %(client)ci %(status)ST %(n)[t.int] "
                           "%(ns:str)[t.int] %(flag:bool)[t.int] %(s)[t.str] %(b)b "
                           "text %[t.int]", ctx)
    out = lf.render(strm)
    assert json.loads(out) == {"client": "10.0.0.1", "status": 200, "n": 255, "ns": "255",
                               "flag": True, "s": 'a "b"]\\', "b": True}
    assert [n.name for n in lf.nodes if n.kind != "text"][:2] == ["client", "status"]
    strm.ext["str"] = None
    assert json.loads(compile_logformat("%{+json}o %(s)[t.str]", ctx).render(strm)) == {"s": ""}
    # a single item may be JSON-encoded
    strm.ext["str"] = Sample(T.STR, 'q"\n')
    assert render("v=%{+json}[t.str]", ctx, strm) == 'v="q\\"\\u000a"'


def test_points(ctx):
    assert compile_logformat("%[t.hdr]", ctx, Point.FE_HRQ_HDR).uses == Use.HTTP_REQ
    with pytest.raises(ConfigError) as info:
        compile_logformat("x %[t.res] y", ctx, Point.FE_HRQ_HDR)
    assert info.value.message == ("sample fetch <t.res] y> may not be reliably used here "
                                  "because it needs 'HTTP response headers' which is not "
                                  "available here")
    # aliases are not checked against the point
    assert compile_logformat("%r", ctx, Point.FE_CON_ACC).uses == Use.HTTP_REQ


@pytest.mark.parametrize("fmt,message", [
    ("%zz", "no such format alias 'zz'. If you wanted to emit the '%' character verbatim, "
            "you need to use '%%'"),
    ("100%", "truncated line after '%'"),
    ("100%1", "unexpected alias name near '1' at position 4 line : '100%1'. Maybe you want "
              "to write a single '%', use the syntax '%%'"),
    ("a% b", "unexpected alias name near ' ' at position 2 line : 'a% b'. Maybe you want "
             "to write a single '%', use the syntax '%%'"),
    ("%{+Q", "truncated line after '+Q'"),
    ("%{+Q}", "parse argument modifier without alias name near '%{+Q}'"),
    ("%{+Q}/", "parse argument modifier without alias name near '%{+Q}'"),
    ("%[t.int", "missing ']' after 't.int'"),
    ("%[t.int  ]", "expected ']' after 't.int', but found ' '"),
    ("%[nope]", "failed to parse sample expression <nope]> : unknown fetch method 'nope'"),
    ("%[t.int,t.uper]", "failed to parse sample expression <t.int,t.uper]> : unknown "
                        "converter 't.uper'; did you mean 't.upper' maybe ?"),
    ("%[]", "failed to parse sample expression <]> : missing fetch method"),
    ("%(na!me)[t.int]", "invalid character in custom name near '!' at position 4 line : "
                        "'%(na!me)[t.int]'"),
    ("%(n:int)[t.int]", "unexpected output type 'int' at position 4 line : "
                        "'%(n:int)[t.int]'. Supported types are: str, sint, bool"),
    ("%(name", "truncated line after '%'"),
    ("%{+cbor}o %(a)ST", "'+cbor' encoding is not supported by hapx"),
])
def test_errors(ctx, fmt, message):
    with pytest.raises(ConfigError) as info:
        compile_logformat(fmt, ctx)
    assert info.value.message == message
    assert info.value.file == "test.cfg"


def test_alias_with_bad_expression(registry_with, make_ctx):
    ctx = make_ctx(registry_with(LogAlias("zz", fetch="nope", doc="%zz")))
    with pytest.raises(ConfigError) as info:
        compile_logformat("%zz", ctx)
    assert info.value.message == "format alias 'zz' : unknown fetch method 'nope'"


def test_inactive_alias_is_noted(registry_with, make_ctx):
    ctx = make_ctx(registry_with(LogAlias("later", render=lambda s, o: "x", active=False,
                                          doc="%later")))
    compile_logformat("%later", ctx)
    assert [u.keyword for u in ctx.config.inactive] == ["later"]


def test_builtin_http_format_compiles(registry_with, make_ctx):
    names = ["ci", "cp", "tr", "ft", "b", "s", "TR", "Tw", "Tc", "Tr", "Ta", "ST", "B", "CC",
             "CS", "tsc", "ac", "fc", "bc", "sc", "rc", "sq", "bq", "hr", "hs", "r"]
    aliases = [LogAlias(n, render=lambda s, o, n=n: n, doc=f"%{n}") for n in names]
    ctx = make_ctx(registry_with(*aliases))
    fmt = ("%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
           "%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r")
    out = compile_logformat(fmt, ctx).render(None)
    assert out == ("ci:cp [tr] ft b/s TR/Tw/Tc/Tr/Ta ST B CC CS tsc ac/fc/bc/sc/rc sq/bq "
                   'hr hs "r"')
