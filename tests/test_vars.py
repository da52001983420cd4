"""vars plugin: the var() fetch, set-var/unset-var converters and the set-var, set-var-fmt and
unset-var actions."""

from __future__ import annotations

import ipaddress
import re
from types import ModuleType

import pytest
from conftest import build_ctx
from hapx.core.errors import ConfigError
from hapx.core.records import ActResult, Point, RuleSet, SmpType
from hapx.core.registry import REGISTER_HOOKS, Registry
from hapx.core.rules import parse_rule
from hapx.core.sample.expr import compile_expr
from hapx.core.sample.types import F_MAY_CHANGE, Sample
from hapx.core.sample.vars import parse_var_name
from hapx.core.stream import HttpMessage, ProcState, Session, Stream
from hapx.plugins import fetch_http, fetch_internal, fetch_l4
from hapx.plugins import vars as vars_plugin
from hapx.plugins.vars.store import Cond, parse_conds, store


def register(reg: Registry, name: str, plugin: ModuleType) -> None:
    for hook, kinds in REGISTER_HOOKS.items():
        fn = getattr(plugin, hook, None)
        if fn is not None:
            fn(reg.for_owner(name, *kinds))


@pytest.fixture(scope="module")
def reg() -> Registry:
    r = Registry()
    for name, plugin in (("vars", vars_plugin), ("fetch_internal", fetch_internal),
                         ("fetch_l4", fetch_l4), ("fetch_http", fetch_http)):
        register(r, name, plugin)
    return r


def stream() -> Stream:
    strm = Stream(Session(), proc=ProcState())
    strm.req = HttpMessage(method="GET", uri="/a?x=1", headers=[("Host", "example.com")])
    return strm


def rule(reg: Registry, line: str, ruleset: RuleSet = RuleSet.HTTP_REQ,
         point: Point = Point.FE_HRQ_HDR):
    ctx = build_ctx(reg, line_text=line)
    return parse_rule(ctx, ruleset, line.split(), point)


def expr(reg: Registry, text: str):
    return compile_expr(text, build_ctx(reg), Point.FE_HRQ_HDR)


def test_records(reg: Registry) -> None:
    assert reg.fetch("var").out_type == SmpType.ANY
    assert reg.converter("set-var").in_type == SmpType.ANY
    for name in ("set-var", "set-var-fmt", "unset-var"):
        for rs in (RuleSet.HTTP_REQ, RuleSet.HTTP_RES, RuleSet.HTTP_AFTER_RES,
                   RuleSet.TCP_REQ_CONN, RuleSet.TCP_REQ_SESS, RuleSet.TCP_REQ_CONT,
                   RuleSet.TCP_RES_CONT):
            rec = reg.action(name, rs)
            assert rec is not None and rec.takes_param and rec.doc


def test_set_var_action_keeps_the_type(reg: Registry) -> None:
    strm = stream()
    assert rule(reg, "set-var(txn.n) int(42)").action.run(strm) == ActResult.CONT
    assert strm.txn_vars["n"] == Sample(SmpType.SINT, 42)
    rule(reg, "set-var(sess.host) req.hdr(host)").action.run(strm)
    assert strm.sess.vars["host"] == Sample(SmpType.STR, "example.com")
    rule(reg, "set-var(proc.flag) bool(1)").action.run(strm)
    assert strm.proc.vars["flag"].value is True
    rule(reg, "set-var(req.m) method").action.run(strm)
    assert strm.req_vars["m"].type == SmpType.METH
    # a failing expression stores nothing
    rule(reg, "set-var(txn.none) req.hdr(x-missing)").action.run(strm)
    assert "none" not in strm.txn_vars


def test_var_fetch(reg: Registry) -> None:
    strm = stream()
    e = expr(reg, "var(txn.n)")
    assert e.eval(strm) is None
    assert expr(reg, "var(txn.n,dflt)").eval(strm) == Sample(SmpType.STR, "dflt")
    strm.txn_vars["n"] = Sample(SmpType.SINT, 7)
    smp = e.eval(strm)
    assert smp == Sample(SmpType.SINT, 7) and smp.flags == 0
    # samples are never changed once built: a stored one with flags is read without them
    strm.txn_vars["n"] = Sample(SmpType.SINT, 8, F_MAY_CHANGE)
    smp = e.eval(strm)
    assert smp == Sample(SmpType.SINT, 8) and smp.flags == 0
    strm.txn_vars["n"] = Sample(SmpType.SINT, 7)
    assert expr(reg, "var(txn.n,dflt)").eval(strm).value == 7
    # a declared but unset variable counts as missing
    strm.txn_vars["n"] = Sample(SmpType.ANY, None)
    assert e.eval(strm) is None
    # proc scope works without a stream (constant expressions)
    assert expr(reg, "var(proc.none,x)").eval(None).value == "x"


def test_set_var_fmt_and_unset(reg: Registry) -> None:
    strm = stream()
    rule(reg, "set-var-fmt(txn.f) %[req.hdr(host)]:%[int(8)]").action.run(strm)
    assert strm.txn_vars["f"] == Sample(SmpType.STR, "example.com:8")
    rule(reg, "unset-var(txn.f)").action.run(strm)
    assert "f" not in strm.txn_vars
    rule(reg, "unset-var(txn.never)").action.run(strm)  # unsetting a missing one is fine


@pytest.mark.parametrize("conds, before, smp, stored", [
    ("ifexists", None, Sample(SmpType.SINT, 1), False),
    ("ifexists", Sample(SmpType.SINT, 0), Sample(SmpType.SINT, 1), True),
    ("ifnotexists", Sample(SmpType.SINT, 0), Sample(SmpType.SINT, 1), False),
    ("ifnotexists", None, Sample(SmpType.SINT, 1), True),
    ("ifset", Sample(SmpType.ANY, None), Sample(SmpType.SINT, 1), False),
    ("ifnotset", Sample(SmpType.ANY, None), Sample(SmpType.SINT, 1), True),
    ("ifnotset", Sample(SmpType.SINT, 0), Sample(SmpType.SINT, 1), False),
    ("ifempty", None, Sample(SmpType.STR, ""), True),
    ("ifempty", None, Sample(SmpType.STR, "a"), False),
    ("ifempty", None, Sample(SmpType.SINT, 0), False),
    ("ifnotempty", None, Sample(SmpType.BIN, b""), False),
    ("ifnotempty", None, Sample(SmpType.SINT, 0), True),
    ("ifgt", Sample(SmpType.SINT, 5), Sample(SmpType.SINT, 3), True),
    ("ifgt", Sample(SmpType.SINT, 5), Sample(SmpType.SINT, 9), False),
    ("iflt", Sample(SmpType.SINT, 5), Sample(SmpType.SINT, 9), True),
    ("iflt", Sample(SmpType.SINT, 5), Sample(SmpType.SINT, 3), False),
    ("ifgt", None, Sample(SmpType.SINT, 3), True),
    ("ifgt", Sample(SmpType.STR, "x"), Sample(SmpType.SINT, 3), True),
    ("ifexists,ifnotempty", Sample(SmpType.STR, "x"), Sample(SmpType.STR, "y"), True),
])
def test_conditions(conds: str, before: Sample | None, smp: Sample, stored: bool) -> None:
    strm = stream()
    var = parse_var_name("txn.v")
    if before is not None:
        strm.txn_vars["v"] = before
    assert store(var, strm, smp, parse_conds(conds.split(","))) is stored
    assert strm.txn_vars.get("v") == (smp if stored else before)


def test_conditional_action(reg: Registry) -> None:
    strm = stream()
    act = rule(reg, "set-var(txn.max,ifgt) int(3)").action
    assert act.conds == Cond.IFGT
    act.run(strm)
    assert strm.txn_vars["max"].value == 3
    strm.txn_vars["max"] = Sample(SmpType.SINT, 2)
    act.run(strm)
    assert strm.txn_vars["max"].value == 2


def test_converters(reg: Registry) -> None:
    strm = stream()
    smp = expr(reg, "req.hdr(host),set-var(txn.h)").eval(strm)
    assert smp == Sample(SmpType.STR, "example.com")
    assert strm.txn_vars["h"] == smp
    # a condition that does not hold makes the conversion fail
    assert expr(reg, "str(other),set-var(txn.h,ifnotexists)").eval(strm) is None
    assert strm.txn_vars["h"].value == "example.com"
    assert expr(reg, "str(x),unset-var(txn.h)").eval(strm).value == "x"
    assert "h" not in strm.txn_vars


@pytest.mark.parametrize("line, message", [
    ("set-var(txn.y,ifbad) str(a)", 'unknown condition "ifbad"'),
    ("unset-var(txn.x,ifexists)", "unset-var does not expect parameters after the variable "
                                  "name. Only \"set-var\" and \"set-var-fmt\" manage conditions"),
    ("set-var(foo.z) str(a)", "invalid variable name 'foo.z'. A variable name must be start by "
                              "its scope."),
    ("set-var(txn.z-a) str(a)", "invalid syntax at char '-a'"),
    ("set-var(txn.z)", "missing fetch method"),
    ("set-var", "invalid or incomplete action 'set-var'. Expects 'set-var(<var-name>)'"),
    ("set-var(txn.x) str(a) foo", "'http-request set-var(txn.x)' expects either 'if' or "
                                  "'unless' followed by a condition but found 'foo'"),
    ("set-var(txn.x) res.hdr(x)", "extracts information from 'HTTP response headers', none "
                                  "of which is available here"),
    ("set-var(txn.x) str(a),set-var(txn.q,ifnope)", "invalid args in converter 'set-var' : "
                                                    'unknown condition "ifnope"'),
])
def test_errors(reg: Registry, line: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        rule(reg, line)


def test_early_rulesets_take_proc_and_sess_only(reg: Registry) -> None:
    with pytest.raises(ConfigError, match="only the 'proc' and 'sess' scopes"):
        rule(reg, "set-var(txn.y) src", RuleSet.TCP_REQ_CONN, Point.FE_CON_ACC)
    strm = stream()
    strm.sess.src = ipaddress.ip_address("10.0.0.1")
    rule(reg, "set-var(sess.y) src", RuleSet.TCP_REQ_CONN, Point.FE_CON_ACC).action.run(strm)
    assert strm.sess.vars["y"].type == SmpType.IPV4
    rule(reg, "set-var(txn.y) src", RuleSet.TCP_REQ_CONT, Point.FE_REQ_CNT).action.run(strm)
    assert strm.txn_vars["y"].value == strm.sess.src
