"""fetch_internal: constants, clock, process, proxy/server state and transaction fetches."""

from __future__ import annotations

import ipaddress
import os
import re
import time
from dataclasses import dataclass

import pytest
from conftest import build_ctx
from hapx.core.config.model import Proxy, Rule
from hapx.core.errors import ConfigError
from hapx.core.records import AclKeyword, Fetch, Point, PredefinedAcl, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.expr import compile_expr
from hapx.core.stream import ProcState, ProxyState, ServerState, Session, Stream
from hapx.plugins import fetch_internal
from hapx.plugins.fetch_internal.clock import make_uuid
from hapx.plugins.fetch_internal.proxies import proxy_state, server_state


@pytest.fixture(scope="module")
def reg() -> Registry:
    r = Registry()
    fetch_internal.hapx_register_fetches(r.for_owner("fetch_internal", Fetch, AclKeyword,
                                                     PredefinedAcl))
    return r


def run(reg: Registry, text: str, strm: Stream | None = None, ctx=None,
        point: Point = Point.FE_HRQ_HDR):
    ctx = ctx or build_ctx(reg)
    expr = compile_expr(text, ctx, point)
    for item in ctx.config.deferred:
        item.fn(ctx.config)
    ctx.config.deferred.clear()
    return expr.eval(strm if strm is not None else Stream(Session()))


@dataclass
class Srv:
    name: str
    backup: bool = False
    maxconn: int = 0
    maxqueue: int = 0
    weight: int = 1


def test_records_have_docs(reg: Registry) -> None:
    for rec in reg.records():
        assert rec.doc and rec.summary, rec.name
        assert rec.owner == "fetch_internal"


def test_constants(reg: Registry) -> None:
    assert run(reg, "always_true").value is True
    assert run(reg, "always_false").value is False
    smp = run(reg, "str(hello)")
    assert (smp.type, smp.value) == (SmpType.STR, "hello")
    smp = run(reg, "int(-42)")
    assert (smp.type, smp.value) == (SmpType.SINT, -42)
    assert run(reg, "bool(true)").value is True
    assert run(reg, "bool(0)").value is False
    smp = run(reg, "bin(0aff)")
    assert (smp.type, smp.value) == (SmpType.BIN, b"\x0a\xff")
    smp = run(reg, "ipv4(10.1.2.3)")
    assert (smp.type, smp.value) == (SmpType.IPV4, ipaddress.IPv4Address("10.1.2.3"))
    smp = run(reg, "ipv6(::1)")
    assert (smp.type, smp.value) == (SmpType.IPV6, ipaddress.IPv6Address("::1"))
    smp = run(reg, "meth(PURGE)")
    assert (smp.type, smp.value) == (SmpType.METH, "PURGE")


@pytest.mark.parametrize("text, message", [
    ("bool(maybe)", "invalid args in fetch method 'bool' : Expects 'true', 'false', '0' or '1'"),
    ("bin(abc)", "an even number of hex digit is expected"),
    ("bin(zz)", "invalid hex string 'zz'"),
    ("meth(G@T)", "expects valid method."),
    ("uuid(5)", "Unsupported UUID version: '5'"),
    ("date(1,hours)", "expects 's', 'ms' or 'us', got 'hours'"),
])
def test_bad_arguments(reg: Registry, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        run(reg, text)


def test_env_and_hostname(reg: Registry, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAPX_TEST_ENV", "v1")
    assert run(reg, "env(HAPX_TEST_ENV)").value == "v1"
    monkeypatch.delenv("HAPX_TEST_ENV")
    assert run(reg, "env(HAPX_TEST_ENV)") is None
    assert run(reg, "hostname").value == os.uname().nodename


def test_date(reg: Registry) -> None:
    now = time.time()
    assert abs(run(reg, "date").value - int(now)) <= 1
    assert abs(run(reg, "date(3600)").value - (int(now) + 3600)) <= 1
    assert abs(run(reg, "date(-5,ms)").value - (int(now * 1000) - 5)) < 2000
    assert abs(run(reg, "date(0,us)").value - int(now * 1e6)) < 2e6
    assert 0 <= run(reg, "date_us").value < 1000000


def test_rand_and_uuid(reg: Registry) -> None:
    for _ in range(50):
        assert 0 <= run(reg, "rand(6)").value < 6
        assert 0 <= run(reg, "rand").value < 2**32
    v4 = run(reg, "uuid").value
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                        v4)
    v7 = make_uuid(7)
    assert v7[14] == "7" and v7[19] in "89ab"
    ms = int(v7.replace("-", "")[:12], 16)
    assert abs(ms - time.time() * 1000) < 5000
    assert run(reg, "uuid(7)").value[14] == "7"


def test_process_fetches(reg: Registry) -> None:
    proc = ProcState(start_time=time.time() - 100, act_conn=7)
    strm = Stream(Session(), proc=proc)
    assert run(reg, "thread", strm).value == 0
    assert run(reg, "proc", strm).value == 1
    assert run(reg, "pid", strm).value == os.getpid()
    assert 99 <= run(reg, "uptime", strm).value <= 101
    assert run(reg, "stopping", strm).value is False
    proc.stopping = True
    assert run(reg, "stopping", strm).value is True
    assert run(reg, "act_conn", strm).value == 7


def _config_with_backend(reg: Registry):
    ctx = build_ctx(reg, section_kind="backend", proxy_name="app")
    be = ctx.proxy
    be.servers = [Srv("s1", maxconn=10, maxqueue=5), Srv("s2", maxconn=10, maxqueue=5),
                  Srv("b1", backup=True, maxconn=10, maxqueue=5),
                  Srv("b2", backup=True, maxconn=10, maxqueue=5)]
    other = Proxy("other", "backend")
    other.servers = [Srv("x", maxconn=3, maxqueue=0)]
    fe = Proxy("web", "frontend")
    ctx.config.proxies += [other, fe]
    return ctx, be, other, fe


def test_backend_state(reg: Registry) -> None:
    ctx, be, other, fe = _config_with_backend(reg)
    strm = Stream(Session(frontend=fe), frontend=fe, backend=be)
    assert run(reg, "nbsrv", strm, ctx).value == 2
    assert run(reg, "nbsrv(other)", strm, ctx).value == 1
    s1, s2, b1, b2 = be.servers
    server_state(s1).up = False
    server_state(s2).up = False
    assert run(reg, "nbsrv", strm, ctx).value == 1  # first backup only
    be.options["allbackups"] = True
    assert run(reg, "nbsrv", strm, ctx).value == 2
    server_state(b1).up = server_state(b2).up = False
    assert run(reg, "nbsrv", strm, ctx).value == 0

    server_state(s1).up = server_state(s2).up = True
    proxy_state(be).cur_conn = 12
    proxy_state(be).queued = 3
    server_state(s1).queued = 2
    assert isinstance(be.ext["state"], ProxyState)
    assert isinstance(s1.live, ServerState)
    assert run(reg, "be_conn", strm, ctx).value == 12
    assert run(reg, "queue", strm, ctx).value == 5
    assert run(reg, "avg_queue", strm, ctx).value == 3  # ceil(5 / 2)
    server_state(s1).up = server_state(s2).up = False
    assert run(reg, "avg_queue", strm, ctx).value == 10  # no usable server: twice the queue
    server_state(s1).up = True
    server_state(s1).cur_conn = 4
    # s1 up: (10-4) + (5-2); backups down
    assert run(reg, "connslots", strm, ctx).value == 9
    assert run(reg, "connslots(other)", strm, ctx).value == -1

    proxy_state(fe).cur_conn = 33
    assert run(reg, "fe_conn(web)", strm, ctx).value == 33
    assert run(reg, "be_conn(other)", strm, ctx).value == 0


def test_backend_arg_defaults_to_the_rules_proxy_or_the_stream(reg: Registry) -> None:
    ctx, be, other, fe = _config_with_backend(reg)
    proxy_state(other).cur_conn = 5
    # written in backend "app": app even when the stream's backend is another one
    strm = Stream(Session(), backend=other)
    assert run(reg, "be_conn", strm, ctx).value == 0
    # written in a defaults section: the stream's backend
    dctx = build_ctx(reg, section_kind="defaults")
    dctx.config.proxies += [be, other]
    assert run(reg, "be_conn", strm, dctx).value == 5
    # fe_conn in a defaults section: the stream's frontend
    proxy_state(fe).cur_conn = 2
    assert run(reg, "fe_conn", Stream(Session(frontend=fe)), dctx).value == 2


def test_unknown_backend_is_reported(reg: Registry) -> None:
    ctx, *_ = _config_with_backend(reg)
    with pytest.raises(ConfigError, match="unable to find backend 'nope'"):
        run(reg, "nbsrv(nope)", ctx=ctx)


def test_srv_is_up(reg: Registry) -> None:
    ctx, be, other, fe = _config_with_backend(reg)
    strm = Stream(Session())
    assert run(reg, "srv_is_up(s1)", strm, ctx).value is True
    server_state(be.servers[0]).up = False
    assert run(reg, "srv_is_up(s1)", strm, ctx).value is False
    assert run(reg, "srv_is_up(other/x)", strm, ctx).value is True
    with pytest.raises(ConfigError, match="unable to find server 'other/zz'"):
        run(reg, "srv_is_up(other/zz)", strm, ctx)


def test_immutable_server_reads_as_up(reg: Registry) -> None:
    @dataclass(frozen=True)
    class Frozen:
        name: str

    st = server_state(Frozen("f"))
    assert st.up and st.cur_conn == 0


def test_transaction_fetches(reg: Registry) -> None:
    strm = Stream(Session(), uniq_id=2**32 + 5, status=403, term_state="PR--",
                  conn_retries=2, redispatched=True)
    assert run(reg, "txn.id32", strm).value == 5
    assert run(reg, "txn.status", strm).value == 403
    assert run(reg, "txn.sess_term_state", strm).value == "PR"
    assert run(reg, "txn.conn_retries", strm, point=Point.FE_LOG_END).value == 2
    assert run(reg, "txn.redispatched", strm, point=Point.FE_LOG_END).value is True
    assert run(reg, "last_rule_file", strm) is None
    assert run(reg, "last_rule_line", strm) is None
    strm.last_rule = Rule("http-request", "deny", action=None, file="/etc/x.cfg", line=12)
    assert run(reg, "last_rule_file", strm).value == "/etc/x.cfg"
    assert run(reg, "last_rule_line", strm).value == 12


def test_fetch_at_the_wrong_place_is_refused(reg: Registry) -> None:
    ctx = build_ctx(reg)
    with pytest.raises(ConfigError, match="none of which is available here"):
        compile_expr("txn.conn_retries", ctx, Point.FE_HRQ_HDR)


def test_predefined_acls(reg: Registry) -> None:
    assert reg.predefined_acl("TRUE").criterion == ("always_true",)
    assert reg.predefined_acl("FALSE").criterion == ("always_false",)
