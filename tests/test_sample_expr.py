"""Argument lists, use points and sample expressions (fetch + converter chains)."""

from __future__ import annotations

import ipaddress
import re

import pytest
from hapx.core.config.model import Proxy
from hapx.core.errors import ConfigError
from hapx.core.records import Arg, ArgType, Converter, Fetch, Point, Use
from hapx.core.records import SmpType as T
from hapx.core.sample.args import convert_args, find_closing, split_args
from hapx.core.sample.expr import compile_expr
from hapx.core.sample.types import Sample
from hapx.core.sample.usage import available_points, check_use, use_names
from hapx.core.sample.vars import VarRef
from hapx.core.stream import Session, Stream

V4 = ipaddress.IPv4Address


def const(smp_type, value):
    return lambda args, strm: Sample(smp_type, value)


def _hdr(args, strm):
    return Sample(T.STR, f"{args[0]}#{args[1]}")


def _unit_validate(args, ctx):
    if args[0] not in ("s", "ms"):
        raise ConfigError(f"expects 's' or 'ms', got '{args[0]}'")
    return [1000 if args[0] == "s" else 1]


FETCHES = (
    Fetch("t.str", process=lambda a, s: Sample(T.STR, a[0] if a[0] is not None else "hello"),
          out_type=T.STR, args=(Arg("s", optional=True),), doc="t.str([s])"),
    Fetch("t.req", process=const(T.STR, "x"), args=(Arg("s"),), doc="t.req(s)"),
    Fetch("t.int", process=const(T.SINT, 42), out_type=T.SINT, doc="t.int"),
    Fetch("t.ip", process=const(T.IPV4, V4("10.1.2.3")), out_type=T.IPV4, doc="t.ip"),
    Fetch("t.addr", process=lambda a, s: Sample(T.IPV4, s.sess.src), out_type=T.ADDR,
          uses=Use.L4CLI,
          doc="t.addr"),
    Fetch("t.meth", process=const(T.METH, "GET"), out_type=T.METH, doc="t.meth"),
    Fetch("t.bool", process=const(T.BOOL, True), out_type=T.BOOL, doc="t.bool"),
    Fetch("t.none", process=lambda a, s: None, doc="t.none"),
    Fetch("t.any", process=lambda a, s: s.txn_vars.get("v"), out_type=T.ANY, doc="t.any"),
    Fetch("t.hdr", process=_hdr, uses=Use.HTTP_REQ, doc="t.hdr(name[,occ])",
          args=(Arg("name"), Arg("occ", ArgType.SINT, optional=True, default=-1))),
    Fetch("t.res", process=const(T.STR, "r"), uses=Use.HTTP_RES, doc="t.res"),
    Fetch("t.multi", process=const(T.STR, "a"), doc="t.multi",
          values=lambda a, s: iter([Sample(T.STR, "a"), Sample(T.STR, "b"),
                                    Sample(T.STR, "")])),
    Fetch("t.unit", process=lambda a, s: Sample(T.SINT, a[0]), out_type=T.SINT,
          args=(Arg("unit"),), validate=_unit_validate, doc="t.unit(unit)"),
    Fetch("t.off", process=const(T.STR, "off"), active=False, doc="t.off"),
)

CONVERTERS = (
    Converter("t.upper", process=lambda a, s, st: Sample(T.STR, s.value.upper()),
              doc="t.upper"),
    Converter("t.len", process=lambda a, s, st: Sample(T.SINT, len(s.value)), out_type=T.SINT,
              doc="t.len"),
    Converter("t.add", in_type=T.SINT, doc="t.add(v)",
              args=(Arg("v", ArgType.SINT, var_ok=True),),
              process=lambda a, s, st: Sample(
                  T.SINT, s.value + (a[0].get(st).value if isinstance(a[0], VarRef)
                                     else a[0]))),
    Converter("t.mask", in_type=T.ADDR, args=(Arg("m", ArgType.MSK4),), doc="t.mask(m)",
              process=lambda a, s, st: Sample(
                  T.IPV4, V4(int(s.value) & int(a[0].netmask)))),
    Converter("t.hex", in_type=T.BIN, out_type=T.STR, doc="t.hex",
              process=lambda a, s, st: Sample(T.STR, s.value.hex().upper())),
    Converter("t.fail", process=lambda a, s, st: None, doc="t.fail"),
    Converter("t.same", in_type=T.ANY, doc="t.same", process=lambda a, s, st: s),
    Converter("t.not", in_type=T.SINT, out_type=T.BOOL, doc="t.not",
              process=lambda a, s, st: Sample(T.BOOL, not s.value)),
)


@pytest.fixture
def ctx(registry_with, make_ctx):
    return make_ctx(registry_with(*FETCHES, *CONVERTERS))


@pytest.fixture
def strm():
    return Stream(sess=Session(src=V4("192.168.1.20")))


# -- args ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,args", [
    ("", []), ("a", ["a"]), ("a,b", ["a", "b"]), ("a,", ["a", ""]), (",", ["", ""]),
    ("'a,b',c", ["a,b", "c"]), ('"a)b"', ["a)b"]), (r"a\,b", ["a\\", "b"]), (r"\.,-", ["\\.", "-"]),
    (r"a\\b\ c\td", ["a\\b c\td"]),
    ("'it''s'", ["its"]), (r"'a\b'", [r"a\b"]), (r'"a\"b"', ['a"b']), ("' '", [" "]),
    ("\"'\"", ["'"]),
])
def test_split_args(text, args):
    assert split_args(text) == args


@pytest.mark.parametrize("text,pos", [
    ("a,b)", 3), ("')',x)", 5), ('")")', 3), (r"\))", 1), ("abc", -1), ("'a)", -1),
])
def test_find_closing(text, pos):
    assert find_closing(text, 0) == pos


def test_convert_args_types(ctx):
    spec = (Arg("s"), Arg("i", ArgType.SINT), Arg("t", ArgType.TIME), Arg("z", ArgType.SIZE),
            Arg("a4", ArgType.IPV4), Arg("a6", ArgType.IPV6), Arg("m4", ArgType.MSK4),
            Arg("m6", ArgType.MSK6), Arg("r", ArgType.REGEX), Arg("v", ArgType.VAR),
            Arg("p", ArgType.PATREF))
    raw = ["x", "-12", "2s", "4k", "10.0.0.1", "::1", "255.255.0.0", "64", "^a+$", "txn.x",
           "/etc/map"]
    out = convert_args(spec, raw, ctx, "fetch method 'f'")
    assert out[:6] == ["x", -12, 2000, 4096, V4("10.0.0.1"), ipaddress.IPv6Address("::1")]
    assert out[6] == ipaddress.IPv4Network("0.0.0.0/16")
    assert out[7] == ipaddress.IPv6Network("::/64")
    assert isinstance(out[8], re.Pattern) and out[8].match("aaa")
    assert out[9] == VarRef("txn", "x") and out[10] == "/etc/map"
    assert convert_args((Arg("m", ArgType.MSK4),), ["24"], ctx, "x")[0].prefixlen == 24


def test_convert_args_defaults_and_var_ok(ctx):
    spec = (Arg("a"), Arg("b", ArgType.SINT, optional=True, default=-1))
    assert convert_args(spec, ["x"], ctx, "f") == ["x", -1]
    assert convert_args(spec, [], ctx, "f") == ["", -1]  # the mandatory string is empty
    spec = (Arg("v", ArgType.SINT, var_ok=True),)
    assert convert_args(spec, ["txn.n"], ctx, "f") == [VarRef("txn", "n")]
    assert convert_args(spec, ["7"], ctx, "f") == [7]


@pytest.mark.parametrize("spec,raw,desc,message", [
    ((Arg("a"), Arg("o", ArgType.SINT, optional=True)), ["a", "b"], "fetch method 'req.hdr'",
     "fetch method 'req.hdr' : failed to parse 'b' as type 'integer' at position 2"),
    ((Arg("o", ArgType.SINT),), [], "fetch method 'req.payload'",
     "fetch method 'req.payload' : expected type 'integer' at position 1, but got nothing"),
    ((Arg("o", ArgType.SINT), Arg("l", ArgType.SINT)), ["1"], "fetch method 'req.payload'",
     "fetch method 'req.payload' : missing arguments (got 1/2), type 'integer' expected"),
    ((Arg("a"), Arg("b", optional=True)), ["a", "b", "c", "d"], "fetch method 'url_param'",
     "fetch method 'url_param' : expected ')' before ',c,d)'"),
    ((), ["1"], "fetch method 'src'", "fetch method 'src' : expected ')' before '1)'"),
    ((Arg("m", ArgType.MSK4),), [], "converter 'ipmask'",
     "invalid arg 1 in converter 'ipmask' : expected type 'IPv4 mask' at position 1, "
     "but got nothing"),
    ((Arg("m", ArgType.MSK4), Arg("m6", ArgType.MSK6, optional=True)), ["24", "zz"],
     "converter 'ipmask'",
     "invalid arg 2 in converter 'ipmask' : failed to parse 'zz' as type 'IPv6 mask' at "
     "position 2"),
    ((Arg("m", ArgType.MSK4), Arg("m6", ArgType.MSK6, optional=True)), ["24", "64", "1"],
     "converter 'ipmask'", "invalid arg 2 in converter 'ipmask' : expected ')' before ',1)'"),
    ((Arg("v", ArgType.SINT, var_ok=True),), ["ttt.x"], "converter 'add'",
     "invalid arg 1 in converter 'add' : expects an integer or a variable name"),
    ((Arg("v", ArgType.VAR),), ["txn.a-b"], "fetch method 'var'",
     "fetch method 'var' : invalid syntax at char '-b'"),
    ((Arg("u", choices=("s", "ms", "us")),), ["xx"], "fetch method 'date'",
     "fetch method 'date' : expects 's', 'ms' or 'us', got 'xx'"),
    ((Arg("t", ArgType.TIME),), ["10x"], "converter 'c'",
     "invalid arg 1 in converter 'c' : failed to parse '10x' as type 'delay' at position 1"),
    ((Arg("s", ArgType.SIZE),), ["1q"], "fetch method 'f'",
     "fetch method 'f' : failed to parse '1q' as type 'size' at position 1"),
    ((Arg("a", ArgType.IPV4),), ["1.2.3"], "fetch method 'f'",
     "fetch method 'f' : failed to parse '1.2.3' as type 'IPv4 address' at position 1"),
    ((Arg("a", ArgType.IPV6),), ["zz"], "fetch method 'f'",
     "fetch method 'f' : failed to parse 'zz' as type 'IPv6 address' at position 1"),
    ((Arg("m", ArgType.MSK6),), ["129"], "fetch method 'f'",
     "fetch method 'f' : failed to parse '129' as type 'IPv6 mask' at position 1"),
    ((Arg("r", ArgType.REGEX),), ["(,"], "converter 'regsub'",
     "invalid arg 1 in converter 'regsub' : regex '(,' is invalid (error=missing ), "
     "unterminated subpattern, erroffset=0)"),
])
def test_convert_args_errors(ctx, spec, raw, desc, message):
    with pytest.raises(ConfigError) as info:
        convert_args(spec, raw, ctx, desc)
    assert info.value.message == message
    assert info.value.line == 1 and info.value.file == "test.cfg"


def test_named_args_are_checked_after_parsing(ctx):
    spec = (Arg("be", ArgType.BACKEND), Arg("srv", ArgType.SERVER), Arg("t", ArgType.TABLE),
            Arg("fe", ArgType.FRONTEND), Arg("u", ArgType.USERLIST))
    out = convert_args(spec, ["app", "app/s1", "app", "fe", "users"], ctx, "fetch method 'f'")
    assert out == ["app", "app/s1", "app", "fe", "users"]
    assert len(ctx.config.deferred) == 5
    config = ctx.config
    backend = Proxy("app", "backend")
    config.proxies.append(backend)

    class Srv:
        name = "s1"
    backend.servers.append(Srv())
    config.sections["userlist"] = {"users": object()}
    for item in config.deferred:
        item.fn(config)
    config.deferred.clear()
    convert_args((Arg("be", ArgType.BACKEND),), ["nope"], ctx, "fetch method 'nbsrv'")
    with pytest.raises(ConfigError) as info:
        config.deferred[0].fn(config)
    assert info.value.message == ("unable to find backend 'nope' referenced in arg 1 of fetch "
                                  "method 'nbsrv' in frontend 'fe'")


# -- usage --------------------------------------------------------------------------------------

def test_usage_points():
    assert available_points(Use.INTERNAL) & Point.CFG_PARSER
    assert available_points(Use.L4CLI) & Point.FE_CON_ACC
    assert not available_points(Use.L5CLI) & Point.FE_CON_ACC
    assert available_points(Use.L5CLI) & Point.FE_SES_ACC
    http_req = available_points(Use.HTTP_REQ)
    assert http_req & Point.FE_HRQ_HDR and http_req & Point.BE_SRV_CON
    assert not http_req & (Point.FE_HRS_HDR | Point.BE_HRS_HDR | Point.FE_LOG_END)
    http_res = available_points(Use.HTTP_RES)
    assert http_res & Point.FE_HRS_HDR and http_res & Point.FE_LOG_END
    assert not http_res & Point.FE_HRQ_HDR
    assert available_points(Use.TXN_END) == Point.FE_LOG_END
    assert not available_points(Use.HTTP_REQ_BODY) & Point.FE_HRQ_HDR
    # several sources: usable where any of them is
    assert available_points(Use.HTTP_RES | Use.L4CLI) & Point.FE_CON_ACC


def test_check_use_messages():
    assert check_use(Use.HTTP_REQ, None) is None
    assert check_use(Use.HTTP_REQ, Point.FE_HRQ_HDR) is None
    assert check_use(Use.HTTP_RES, Point.FE_HRQ_HDR | Point.BE_HRS_HDR) is None
    assert check_use(Use.HTTP_RES, Point.FE_HRQ_HDR) == (
        "extracts information from 'HTTP response headers', none of which is available here")
    assert use_names(Use.L4CLI | Use.HTTP_REQ) == "client address,HTTP request headers"


# -- expressions --------------------------------------------------------------------------------

def test_plain_fetches(ctx, strm):
    assert compile_expr("t.str", ctx).eval(strm) == Sample(T.STR, "hello")
    assert compile_expr("t.str()", ctx).eval(strm) == Sample(T.STR, "hello")
    e = compile_expr("t.hdr(host)", ctx)
    assert e.eval(strm) == Sample(T.STR, "host#-1")
    assert e.fetch.name == "t.hdr" and e.fetch_args == ["host", -1]
    assert e.uses == Use.HTTP_REQ and e.out_type == T.STR and e.text == "t.hdr(host)"
    assert compile_expr("t.hdr('a,b',2)", ctx).eval(strm) == Sample(T.STR, "a,b#2")
    assert compile_expr("t.req", ctx).fetch_args == [""]


def test_converter_chain_with_casts(ctx, strm):
    e = compile_expr("t.str(abc),t.upper,t.len", ctx)
    assert e.eval(strm) == Sample(T.SINT, 3) and e.out_type == T.SINT
    # str -> sint implicit cast before t.add
    e = compile_expr("t.str(12ab),t.add(3)", ctx)
    assert e.eval(strm) == Sample(T.SINT, 15)
    # empty string does not convert to an integer: no sample
    assert compile_expr("t.str(''),t.add(3)", ctx).eval(strm) is None
    # ipv4 -> bin for t.hex
    assert compile_expr("t.ip,t.hex", ctx).eval(strm) == Sample(T.STR, "0A010203")
    # SAME output follows the input type; ANY input accepts all
    e = compile_expr("t.ip,t.same", ctx)
    assert e.out_type == T.IPV4 and e.eval(strm) == Sample(T.IPV4, V4("10.1.2.3"))
    e = compile_expr("t.str(10.9.8.7),t.mask(255.255.0.0)", ctx)
    assert e.out_type == T.ADDR and e.eval(strm) == Sample(T.IPV4, V4("10.9.0.0"))
    assert compile_expr("t.addr,t.mask(24)", ctx).eval(strm) == Sample(T.IPV4,
                                                                      V4("192.168.1.0"))
    # var argument
    strm.txn_vars["n"] = Sample(T.SINT, 8)
    assert compile_expr("t.int,t.add(txn.n)", ctx).eval(strm) == Sample(T.SINT, 50)
    # three converters
    assert compile_expr("t.int,t.add(1),t.add(2),t.not", ctx).eval(strm) == Sample(T.BOOL,
                                                                                  False)


def test_missing_samples_stop_the_chain(ctx, strm):
    assert compile_expr("t.none,t.upper", ctx).eval(strm) is None
    assert compile_expr("t.str,t.fail,t.upper", ctx).eval(strm) is None
    assert compile_expr("t.str(x),t.upper,t.fail", ctx).eval_all(strm) == []


def test_want_casts_the_result(ctx, strm):
    e = compile_expr("t.int", ctx, want=T.STR)
    assert e.out_type == T.STR and e.eval(strm) == Sample(T.STR, "42")
    assert compile_expr("t.str(7)", ctx, want=T.SINT).eval(strm) == Sample(T.SINT, 7)
    assert compile_expr("t.str(x)", ctx, want=T.IPV4).eval(strm) is None
    with pytest.raises(ConfigError) as info:
        compile_expr("t.meth", ctx, want=T.SINT)
    assert info.value.message == ("sample expression 't.meth' returns type 'method' which "
                                  "cannot be converted to 'integer'")


def test_any_fetch_is_cast_at_run_time(ctx, strm):
    e = compile_expr("t.any,t.add(1)", ctx)
    strm.txn_vars["v"] = Sample(T.STR, "41")
    assert e.eval(strm) == Sample(T.SINT, 42)
    strm.txn_vars["v"] = Sample(T.METH, "GET")
    assert e.eval(strm) is None


def test_eval_all(ctx, strm):
    assert compile_expr("t.multi,t.upper", ctx).eval_all(strm) == [
        Sample(T.STR, "A"), Sample(T.STR, "B"), Sample(T.STR, "")]
    assert compile_expr("t.multi,t.add(1)", ctx).eval_all(strm) == [
        Sample(T.SINT, 1), Sample(T.SINT, 1)]
    assert compile_expr("t.int", ctx).eval_all(strm) == [Sample(T.SINT, 42)]
    assert compile_expr("t.none", ctx).eval_all(strm) == []


def test_validate_replaces_args(ctx, strm):
    assert compile_expr("t.unit(s)", ctx).eval(strm) == Sample(T.SINT, 1000)
    with pytest.raises(ConfigError) as info:
        compile_expr("t.unit(h)", ctx)
    assert info.value.message == "invalid args in fetch method 't.unit' : expects 's' or 'ms', got 'h'"


@pytest.mark.parametrize("text,message", [
    ("t.strr", "unknown fetch method 't.strr'; did you mean 't.str' maybe ?"),
    ("zzzzzz", "unknown fetch method 'zzzzzz'"),
    ("t.str,t.uper", "unknown converter 't.uper'; did you mean 't.upper' maybe ?"),
    ("t.str,", "unknown converter ''"),
    (",t.upper", "missing fetch method"),
    ("t.str(", "fetch method 't.str' : expected ')' before ''"),
    ("t.str(a", "fetch method 't.str' : expected ')' before 'a'"),
    ("t.str,t.upper(", "invalid arg 1 in converter 't.upper' : expected ')' before ''"),
    ("t.int(1)", "fetch method 't.int' : expected ')' before '1)'"),
    ("t.str,t.upper(1)", "invalid arg 1 in converter 't.upper' : expected ')' before '1)'"),
    ("t.bool,t.mask(24)", "converter 't.mask' cannot be applied"),
    ("t.meth,t.add(1)", "converter 't.add' cannot be applied"),
    ("t.str,t.add(x.y)", "invalid arg 1 in converter 't.add' : expects an integer or a "
                         "variable name"),
    ("t.str x", "missing comma after fetch keyword 't.str'"),
    ("t.str,t.upper]", "missing comma after converter 't.upper'"),
])
def test_expression_errors(ctx, text, message):
    with pytest.raises(ConfigError) as info:
        compile_expr(text, ctx)
    assert info.value.message == message


def test_point_errors(ctx):
    assert compile_expr("t.hdr(a)", ctx, Point.FE_HRQ_HDR).uses == Use.HTTP_REQ
    with pytest.raises(ConfigError) as info:
        compile_expr("t.res,t.upper", ctx, Point.FE_HRQ_HDR)
    assert info.value.message == ("fetch method 't.res' extracts information from 'HTTP "
                                  "response headers', none of which is available here")
    with pytest.raises(ConfigError):
        compile_expr("t.hdr(a)", ctx, Point.FE_CON_ACC)
    assert compile_expr("t.addr", ctx, Point.FE_CON_ACC).out_type == T.ADDR


def test_inactive_records_are_noted(ctx):
    compile_expr("t.off", ctx)
    assert [u.keyword for u in ctx.config.inactive] == ["t.off"]
