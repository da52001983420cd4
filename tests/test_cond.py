"""Conditions: if/unless, AND/OR/negation, anonymous ACLs, predefined ACLs, MISS and the
warnings for ACLs that cannot match where they are used."""

from __future__ import annotations

import ipaddress

import pytest
from hapx.core.errors import ConfigError
from hapx.core.records import Fetch, Point, PredefinedAcl, SmpType, Use
from hapx.core.sample.acl import declare_acl
from hapx.core.sample.cond import compile_condition, split_condition
from hapx.core.sample.types import F_MAY_CHANGE, Sample, smp_bool, smp_str
from hapx.core.stream import HttpMessage, Session, Stream

CALLS: list[str] = []


def _path(args, strm):
    CALLS.append("path")
    return smp_str(strm.req.path)


def _src(args, strm):
    CALLS.append("src")
    return Sample(SmpType.IPV4, strm.sess.src)


def _pending(args, strm):
    return Sample(SmpType.SINT, len(strm.req_buffer), F_MAY_CHANGE)


FETCHES = (
    Fetch("path", process=_path, uses=Use.HTTP_REQ, doc="path"),
    Fetch("src", process=_src, out_type=SmpType.IPV4, uses=Use.L4CLI, doc="src"),
    Fetch("req.len", process=_pending, out_type=SmpType.SINT, uses=Use.L6REQ, doc="req.len"),
    Fetch("always_true", process=lambda a, s: smp_bool(True), out_type=SmpType.BOOL,
          doc="always_true"),
    Fetch("always_false", process=lambda a, s: smp_bool(False), out_type=SmpType.BOOL,
          doc="always_false"),
    Fetch("method", process=lambda a, s: Sample(SmpType.METH, s.req.method),
          out_type=SmpType.METH, uses=Use.HTTP_REQ, doc="method"),
    PredefinedAcl("TRUE", criterion=("always_true",), doc="TRUE"),
    PredefinedAcl("FALSE", criterion=("always_false",), doc="FALSE"),
    PredefinedAcl("LOCALHOST", criterion=("src", "127.0.0.1/8", "::1"), doc="LOCALHOST"),
    PredefinedAcl("METH_GET", criterion=("method", "GET", "HEAD"), doc="METH_GET"),
)


@pytest.fixture
def ctx(registry_with, make_ctx):
    c = make_ctx(registry_with(*FETCHES))
    px = c.proxy
    declare_acl(px, "api", ["path", "-m", "beg", "/api"], c)
    declare_acl(px, "admin", ["path", "-m", "beg", "/admin"], c)
    declare_acl(px, "lan", ["src", "10.0.0.0/8"], c)
    declare_acl(px, "waiting", ["req.len", "gt", "100"], c)
    return c


def stream(path="/", src="10.1.1.1", method="GET", buf=b""):
    strm = Stream(Session(src=ipaddress.ip_address(src)))
    strm.req = HttpMessage(method=method, uri=path)
    strm.req_buffer = buf
    return strm


def ev(ctx, text, strm):
    return compile_condition(text.split(), ctx, None).eval(strm)


def test_split_condition():
    assert split_condition(["deny", "deny_status", "403", "if", "a", "b"]) == (
        ["deny", "deny_status", "403"], ["if", "a", "b"])
    assert split_condition(["allow", "unless", "x"]) == (["allow"], ["unless", "x"])
    assert split_condition(["allow"]) == (["allow"], None)


def test_and_or_not(ctx):
    s = stream("/api/x", "10.1.1.1")
    assert ev(ctx, "if api lan", s) is True
    assert ev(ctx, "if api !lan", s) is False
    assert ev(ctx, "if admin || lan", s) is True
    assert ev(ctx, "if admin or api", s) is True
    assert ev(ctx, "if admin OR !lan", s) is False
    assert ev(ctx, "if ! lan", s) is False  # a lone '!' negates the next term
    assert ev(ctx, "if !!lan", s) is True
    # AND binds tighter than OR
    assert ev(ctx, "if admin lan || api", s) is True
    assert ev(ctx, "if admin || api !lan", s) is False


def test_unless(ctx):
    s = stream("/api/x")
    assert ev(ctx, "unless api", s) is False
    assert ev(ctx, "unless admin", s) is True
    assert ev(ctx, "unless admin || api", s) is False


def test_anonymous_acls(ctx):
    s = stream("/img/a.png", "192.168.1.1")
    assert ev(ctx, "if { path -m end .png }", s) is True
    assert ev(ctx, "if !{ path -m end .png } || { src 192.168.0.0/16 }", s) is True
    assert ev(ctx, "if { path -m end .png } !{ src 192.168.0.0/16 }", s) is False
    with pytest.raises(ConfigError, match="missing closing '}' in condition"):
        compile_condition("if { path /x".split(), ctx, None)


def test_lazy_evaluation(ctx):
    s = stream("/x")
    CALLS.clear()
    ev(ctx, "if admin lan", s)
    assert CALLS == ["path"]
    CALLS.clear()
    ev(ctx, "if lan || admin", s)
    assert CALLS == ["src"]


def test_miss_propagates(ctx):
    s = stream("/api", buf=b"abc")
    assert ev(ctx, "if waiting", s) is None
    assert ev(ctx, "unless waiting", s) is None
    assert ev(ctx, "if !waiting", s) is None
    assert ev(ctx, "if waiting || api", s) is True
    assert ev(ctx, "if admin waiting", s) is False
    assert ev(ctx, "if waiting || admin", s) is None
    assert ev(ctx, "if { req.len 3 }", s) is True
    assert ev(ctx, "if { req.len 999 }", stream(buf=b"x" * 999)) is True


def test_unknown_acl(ctx):
    with pytest.raises(ConfigError, match="no such ACL : 'nope'"):
        compile_condition(["if", "api", "nope"], ctx, None)


def test_predefined_acls(ctx):
    assert ev(ctx, "if TRUE", stream()) is True
    assert ev(ctx, "if FALSE", stream()) is False
    assert ev(ctx, "if LOCALHOST", stream(src="127.0.0.5")) is True
    assert ev(ctx, "if LOCALHOST", stream(src="10.0.0.1")) is False
    assert ev(ctx, "if METH_GET", stream(method="HEAD")) is True
    assert ev(ctx, "if METH_GET", stream(method="POST")) is False
    # once used, a predefined ACL belongs to the proxy: a declaration adds an alternative
    declare_acl(ctx.proxy, "TRUE", ["always_false"], ctx)
    assert ev(ctx, "if TRUE", stream()) is True
    # declared before use, an ACL of the same name hides the predefined one
    other = ctx.sub("x", [])
    other.section = type(ctx.proxy)("be2", "backend")
    declare_acl(other.section, "TRUE", ["always_false"], other)
    assert ev(other, "if TRUE", stream()) is False


def test_empty_condition(ctx):
    assert ev(ctx, "if", stream()) is False
    assert ev(ctx, "unless", stream()) is True
    assert ev(ctx, "if api ||", stream("/api")) is True


def test_condition_uses_and_text(ctx):
    cond = compile_condition("if api || lan".split(), ctx, None)
    assert cond.uses == Use.HTTP_REQ | Use.L4CLI
    assert cond.text == "if api || lan"


def _warnings(ctx):
    return [m.text for m in ctx.diag.warnings]


def test_warning_when_acl_never_matches(ctx):
    compile_condition(["if", "api"], ctx, Point.FE_CON_ACC)
    assert _warnings(ctx)[-1] == (
        "acl 'api' will never match because it only involves keywords that are incompatible "
        "with 'frontend tcp-request connection rule'")
    compile_condition(["if", "{", "path", "/x", "}"], ctx, Point.FE_CON_ACC,
                      where="tcp-request connection")
    assert _warnings(ctx)[-1] == (
        "anonymous acl will never match in 'tcp-request connection' because it uses keyword "
        "'path' which is incompatible with 'frontend tcp-request connection rule'")
    declare_acl(ctx.proxy, "mixed", ["path", "/x"], ctx)
    declare_acl(ctx.proxy, "mixed", ["src", "1.2.3.4"], ctx)
    compile_condition(["if", "mixed"], ctx, Point.FE_CON_ACC)
    assert _warnings(ctx)[-1] == (
        "acl 'mixed' involves keyword 'path' which is incompatible with "
        "'frontend tcp-request connection rule'")
    n = len(_warnings(ctx))
    compile_condition(["if", "api", "lan", "TRUE"], ctx, Point.FE_HRQ_HDR)
    compile_condition(["if", "lan"], ctx, Point.FE_CON_ACC)
    assert len(_warnings(ctx)) == n
