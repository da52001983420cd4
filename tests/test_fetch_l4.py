"""fetch_l4: connection addresses, names of proxies/servers/listeners, connection facts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest
from hapx.core.config.model import Proxy
from hapx.core.records import AclKeyword, Fetch, PredefinedAcl, SmpType, Use
from hapx.core.registry import Registry
from hapx.core.sample.types import Sample
from hapx.core.stream import ServerConn, Session, Stream
from hapx.plugins import fetch_l4
from hapx.plugins.fetch_l4.conn import is_local

ip = ipaddress.ip_address


@pytest.fixture(scope="module")
def reg() -> Registry:
    r = Registry()
    fetch_l4.hapx_register_fetches(r.for_owner("fetch_l4", Fetch, AclKeyword, PredefinedAcl))
    return r


def call(reg: Registry, name: str, strm: Stream, args: list | None = None) -> Sample | None:
    return reg.fetch(name).process(args or [], strm)


@dataclass
class Listener:
    name: str | None = None


@dataclass
class Srv:
    name: str
    puid: int


def test_docs_and_uses(reg: Registry) -> None:
    for rec in reg.records():
        assert rec.doc and rec.summary, rec.name
    assert reg.fetch("src").uses == Use.L4CLI
    assert reg.fetch("fc_rcvd_proxy").uses == Use.L5CLI
    assert reg.fetch("bc_reused").uses == Use.L4SRV
    assert reg.fetch("be_name").uses == Use.BACKEND
    assert reg.fetch("srv_name").uses == Use.SERVER
    assert reg.fetch("src").out_type == SmpType.IPV4


def test_client_addresses(reg: Registry) -> None:
    sess = Session(src=ip("192.0.2.7"), src_port=51000, dst=ip("2001:db8::1"), dst_port=443)
    strm = Stream(sess)
    assert call(reg, "src", strm) == Sample(SmpType.IPV4, ip("192.0.2.7"))
    assert call(reg, "src_port", strm) == Sample(SmpType.SINT, 51000)
    assert call(reg, "dst", strm) == Sample(SmpType.IPV6, ip("2001:db8::1"))
    assert call(reg, "dst_port", strm).value == 443
    # without a PROXY header, fc_* are the same
    assert call(reg, "fc_src", strm).value == ip("192.0.2.7")
    assert call(reg, "fc_dst_port", strm).value == 443
    assert call(reg, "fc_rcvd_proxy", strm).value is False


def test_proxy_protocol_addresses(reg: Registry) -> None:
    sess = Session(src=ip("198.51.100.9"), src_port=4000, dst=ip("203.0.113.1"), dst_port=80,
                   conn_src=ip("10.0.0.2"), conn_src_port=33000, conn_dst=ip("10.0.0.1"),
                   conn_dst_port=8080, rcvd_proxy=True)
    strm = Stream(sess)
    assert call(reg, "src", strm).value == ip("198.51.100.9")
    assert call(reg, "fc_src", strm).value == ip("10.0.0.2")
    assert call(reg, "fc_src_port", strm).value == 33000
    assert call(reg, "fc_dst", strm).value == ip("10.0.0.1")
    assert call(reg, "fc_dst_port", strm).value == 8080
    assert call(reg, "fc_rcvd_proxy", strm).value is True


def test_unix_socket_has_no_address(reg: Registry) -> None:
    strm = Stream(Session())
    assert call(reg, "src", strm) is None
    assert call(reg, "src_port", strm) is None
    assert call(reg, "src_is_local", strm).value is True


def test_locality(reg: Registry) -> None:
    assert is_local(ip("127.0.0.1"))
    assert is_local(ip("127.0.0.42"))
    assert not is_local(ip("192.0.2.250"))
    strm = Stream(Session(src=ip("192.0.2.250"), dst=ip("127.0.0.1")))
    assert call(reg, "src_is_local", strm).value is False
    assert call(reg, "dst_is_local", strm).value is True
    assert call(reg, "fc_dst_is_local", strm).value is True


def test_names(reg: Registry) -> None:
    fe = Proxy("web", "frontend", uuid=3)
    be = Proxy("app", "backend", uuid=4)
    sess = Session(frontend=fe, listener=Listener("public"))
    strm = Stream(sess, frontend=fe)
    assert call(reg, "fe_name", strm) == Sample(SmpType.STR, "web")
    assert call(reg, "fe_id", strm) == Sample(SmpType.SINT, 3)
    # no backend chosen yet: the frontend
    assert call(reg, "be_name", strm).value == "web"
    strm.backend = be
    assert call(reg, "be_name", strm).value == "app"
    assert call(reg, "be_id", strm).value == 4
    assert call(reg, "srv_name", strm) is None
    strm.server = Srv("s1", 2)
    assert call(reg, "srv_name", strm).value == "s1"
    assert call(reg, "srv_id", strm).value == 2
    assert call(reg, "so_name", strm).value == "public"
    assert call(reg, "so_name", Stream(Session(listener=Listener()))) is None


def test_connection_facts(reg: Registry) -> None:
    strm = Stream(Session(conn_err=0))
    assert call(reg, "fc_http_major", strm).value == 1
    strm.sess.http_major = 2
    assert call(reg, "fc_http_major", strm).value == 2
    assert call(reg, "fc_err", strm).value == 0
    strm.sess.conn_err = 11
    assert call(reg, "fc_err", strm).value == 11


def test_server_connection(reg: Registry) -> None:
    strm = Stream(Session())
    for name in ("bc_src", "bc_dst", "bc_src_port", "bc_dst_port", "bc_reused", "bc_err",
                 "bc_http_major"):
        assert call(reg, name, strm) is None, name
    strm.srv_conn = ServerConn(src=ip("10.1.0.1"), src_port=40000, dst=ip("10.1.0.9"),
                               dst_port=8080, reused=True, err=0, http_major=2)
    assert call(reg, "bc_src", strm) == Sample(SmpType.IPV4, ip("10.1.0.1"))
    assert call(reg, "bc_src_port", strm).value == 40000
    assert call(reg, "bc_dst", strm).value == ip("10.1.0.9")
    assert call(reg, "bc_dst_port", strm).value == 8080
    assert call(reg, "bc_reused", strm) == Sample(SmpType.BOOL, True)
    assert call(reg, "bc_err", strm).value == 0
    assert call(reg, "bc_http_major", strm).value == 2
    strm.srv_conn.reused = False
    assert call(reg, "bc_reused", strm).value is False


def test_localhost_acl(reg: Registry) -> None:
    acl = reg.predefined_acl("LOCALHOST")
    assert acl.criterion == ("src", "127.0.0.1/8", "::1")
