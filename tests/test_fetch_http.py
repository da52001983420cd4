"""fetch_http: request line, headers, cookies, URL and body parameters, response, payload
fetches, derived ACL keywords and predefined ACLs."""

from __future__ import annotations

import ipaddress
import re

import pytest
from conftest import build_ctx
from hapx.core.errors import ConfigError
from hapx.core.records import AclKeyword, Fetch, Point, PredefinedAcl, SmpType
from hapx.core.registry import Registry
from hapx.core.sample.acl import AclResult, parse_acl_expr
from hapx.core.sample.expr import compile_expr
from hapx.core.sample.types import F_MAY_CHANGE, Sample
from hapx.core.stream import HttpMessage, Session, Stream
from hapx.plugins import fetch_http, fetch_internal, fetch_l4
from hapx.plugins.fetch_http import httputil as hu
from hapx.plugins.fetch_http.request import sdbm_avalanche

ip = ipaddress.ip_address


@pytest.fixture(scope="module")
def reg() -> Registry:
    r = Registry()
    for name, plugin in (("fetch_http", fetch_http), ("fetch_internal", fetch_internal),
                         ("fetch_l4", fetch_l4)):
        plugin.hapx_register_fetches(r.for_owner(name, Fetch, AclKeyword, PredefinedAcl))
    return r


def make_stream(uri: str = "/a/b.php?x=1&y=2;z=3", headers=None, method: str = "GET",
                version: str = "1.1") -> Stream:
    hdrs = headers if headers is not None else [
        ("Host", "www.example.com"),
        ("Accept", "text/html, application/json;q=0.9"),
        ("X-Forwarded-For", "10.0.0.1, 10.0.0.2"),
        ("X-Forwarded-For", "192.0.2.3"),
        ("User-Agent", "Mozilla/5.0 (X11, Linux)"),
        ("Cookie", "SID=abc; lang = fr ; $Path=/; SID=def"),
        ("Cookie", "theme=dark,n=42"),
        ("Content-Length", "11"),
    ]
    strm = Stream(Session())
    strm.req = HttpMessage(method=method, uri=uri, version=version, headers=list(hdrs))
    return strm


def ev(reg: Registry, text: str, strm: Stream, point: Point = Point.FE_HRQ_HDR):
    return compile_expr(text, build_ctx(reg), point).eval(strm)


def ev_all(reg: Registry, text: str, strm: Stream, point: Point = Point.FE_HRQ_HDR):
    return [s.value for s in compile_expr(text, build_ctx(reg), point).eval_all(strm)]


def acl(reg: Registry, text: str, strm: Stream, point: Point = Point.FE_HRQ_HDR) -> AclResult:
    return parse_acl_expr(text.split(), build_ctx(reg), point).exec(strm)


def test_records_have_docs(reg: Registry) -> None:
    for rec in reg.records():
        assert rec.doc and rec.summary, rec.name


# -- request line ------------------------------------------------------------------------------

def test_request_line(reg: Registry) -> None:
    strm = make_stream()
    assert ev(reg, "method", strm) == Sample(SmpType.METH, "GET")
    assert ev(reg, "path", strm) == Sample(SmpType.STR, "/a/b.php")
    assert ev(reg, "pathq", strm).value == "/a/b.php?x=1&y=2;z=3"
    assert ev(reg, "query", strm).value == "x=1&y=2;z=3"
    assert ev(reg, "query(with_qm)", strm).value == "?x=1&y=2;z=3"
    assert ev(reg, "url", strm).value == "/a/b.php?x=1&y=2;z=3"
    assert ev(reg, "req.uri", strm).value == "/a/b.php?x=1&y=2;z=3"
    assert ev(reg, "req.ver", strm) == Sample(SmpType.STR, "1.1")
    assert ev(reg, "base", strm).value == "www.example.com/a/b.php"
    assert ev(reg, "baseq", strm).value == "www.example.com/a/b.php?x=1&y=2;z=3"
    assert ev(reg, "base32", strm).value == sdbm_avalanche(b"www.example.com/a/b.php")
    assert ev(reg, "http_first_req", strm).value is True


def test_query_edge_cases(reg: Registry) -> None:
    assert ev(reg, "query", make_stream("/p")) is None
    assert ev(reg, "query", make_stream("/p?")).value == ""
    with pytest.raises(ConfigError, match="only 'with_qm' is supported"):
        ev(reg, "query(bad)", make_stream())


def test_absolute_and_odd_targets(reg: Registry) -> None:
    strm = make_stream("http://h.example:8080/x/y?q=1")
    assert ev(reg, "path", strm).value == "/x/y"
    assert ev(reg, "pathq", strm).value == "/x/y?q=1"
    assert ev(reg, "path", make_stream("*")) is None
    assert ev(reg, "path", make_stream("example.com:443", method="CONNECT")) is None
    assert ev(reg, "path", make_stream("http://h.example")) is None
    # base without Host: the path alone
    assert ev(reg, "base", make_stream("/z", headers=[])).value == "/z"


def test_url_ip_and_port(reg: Registry) -> None:
    strm = make_stream("http://192.0.2.10:8080/x")
    assert ev(reg, "url_ip", strm) == Sample(SmpType.IPV4, ip("192.0.2.10"))
    assert ev(reg, "url_port", strm).value == 8080
    assert ev(reg, "url_port", make_stream("https://192.0.2.10/x")).value == 443
    assert ev(reg, "url_port", make_stream("http://192.0.2.10/x")).value == 80
    v6 = make_stream("http://[2001:db8::5]:81/")
    assert ev(reg, "url_ip", v6) == Sample(SmpType.IPV6, ip("2001:db8::5"))
    assert ev(reg, "url_port", v6).value == 81
    assert ev(reg, "url_ip", make_stream("http://www.example.com/")) is None
    assert ev(reg, "url_ip", make_stream("/local")) is None
    assert ev(reg, "url_ip", make_stream("ftp://192.0.2.1/")) is None


def test_no_request(reg: Registry) -> None:
    strm = Stream(Session())
    for name in ("method", "path", "url", "base", "req.hdr(host)", "req.cook(a)",
                 "url_param(a)", "req.ver", "req.hdr_cnt", "req.body"):
        assert ev(reg, name, strm) is None, name


# -- headers -----------------------------------------------------------------------------------

def test_hdr_values_and_occurrences(reg: Registry) -> None:
    strm = make_stream()
    assert ev(reg, "req.hdr(x-forwarded-for)", strm).value == "192.0.2.3"
    assert ev(reg, "hdr(X-Forwarded-For)", strm).value == "192.0.2.3"
    assert ev(reg, "req.hdr(x-forwarded-for,1)", strm).value == "10.0.0.1"
    assert ev(reg, "req.hdr(x-forwarded-for,2)", strm).value == "10.0.0.2"
    assert ev(reg, "req.hdr(x-forwarded-for,-2)", strm).value == "10.0.0.2"
    assert ev(reg, "req.hdr(x-forwarded-for,-3)", strm).value == "10.0.0.1"
    assert ev(reg, "req.hdr(x-forwarded-for,4)", strm) is None
    assert ev(reg, "req.hdr(x-forwarded-for,-4)", strm) is None
    assert ev(reg, "req.hdr(x-forwarded-for,0)", strm).value == "192.0.2.3"
    assert ev(reg, "req.hdr(user-agent)", strm).value == "Linux)"
    assert ev(reg, "req.fhdr(user-agent)", strm).value == "Mozilla/5.0 (X11, Linux)"
    assert ev(reg, "req.fhdr(x-forwarded-for,1)", strm).value == "10.0.0.1, 10.0.0.2"
    assert ev(reg, "req.hdr(missing)", strm) is None
    assert ev_all(reg, "req.hdr(x-forwarded-for)", strm) == ["10.0.0.1", "10.0.0.2",
                                                             "192.0.2.3"]
    assert ev_all(reg, "req.hdr(x-forwarded-for,2)", strm) == ["10.0.0.2"]
    assert ev_all(reg, "req.fhdr(x-forwarded-for)", strm) == ["10.0.0.1, 10.0.0.2",
                                                              "192.0.2.3"]
    # without a name: every value of every header
    assert len(ev_all(reg, "req.hdr", strm)) == 12


def test_hdr_occurrence_limit(reg: Registry) -> None:
    with pytest.raises(ConfigError, match=re.escape(
            "invalid args in fetch method 'hdr' : header occurrence must be >= -10")):
        ev(reg, "hdr(x,-11)", make_stream())


def test_quoted_commas() -> None:
    assert hu.split_values('a, "b, c", d') == ["a", '"b, c"', "d"]
    assert hu.split_values('"x\\", y", z') == ['"x\\", y"', "z"]
    assert hu.split_values("a,,b") == ["a", "", "b"]
    assert hu.split_values(" ") == [""]


def test_hdr_counts_names_and_blocks(reg: Registry) -> None:
    strm = make_stream()
    assert ev(reg, "req.hdr_cnt(x-forwarded-for)", strm).value == 3
    assert ev(reg, "hdr_cnt(x-forwarded-for)", strm).value == 3
    assert ev(reg, "req.fhdr_cnt(x-forwarded-for)", strm).value == 2
    assert ev(reg, "req.hdr_cnt(missing)", strm).value == 0
    assert ev(reg, "req.fhdr_cnt", strm).value == 8
    assert ev(reg, "req.hdr_names", strm).value == ("host,accept,x-forwarded-for,"
                                                    "x-forwarded-for,user-agent,cookie,cookie,"
                                                    "content-length")
    small = make_stream(headers=[("Host", "h"), ("X-A", "1")])
    assert ev(reg, "req.hdr_names(;:)", small).value == "host;x-a"
    assert ev(reg, "req.hdrs", small) == Sample(SmpType.STR, "host: h\r\nx-a: 1\r\n\r\n")
    assert ev(reg, "req.hdrs_bin", small) == Sample(SmpType.BIN,
                                                    b"\x04host\x01h\x03x-a\x011\x00\x00")


def test_varint() -> None:
    assert hu.encode_varint(0) == b"\x00"
    assert hu.encode_varint(239) == b"\xef"
    assert hu.encode_varint(240) == b"\xf0\x00"
    assert hu.encode_varint(1000) == b"\xf8\x2f"
    long = make_stream(headers=[("X-Long", "v" * 300)])
    blob = fetch_http.headers._hdrs_bin("req")([], long).value
    assert blob[:7] == b"\x06x-long" and blob[7:9] == hu.encode_varint(300)


def test_hdr_val_and_ip(reg: Registry) -> None:
    strm = make_stream(headers=[("Content-Length", "11"), ("X-N", "-12abc"), ("X-N", "z"),
                                ("X-IP", "192.0.2.1:8080, [2001:db8::1]:443, nope, ::1")])
    assert ev(reg, "req.hdr_val(content-length)", strm) == Sample(SmpType.SINT, 11)
    assert ev(reg, "hdr_val(x-n,1)", strm).value == -12
    assert ev(reg, "hdr_val(x-n)", strm).value == 0
    assert ev_all(reg, "req.hdr_val(x-n)", strm) == [-12, 0]
    assert ev(reg, "req.hdr_ip(x-ip,1)", strm) == Sample(SmpType.IPV4, ip("192.0.2.1"))
    assert ev(reg, "req.hdr_ip(x-ip,2)", strm) == Sample(SmpType.IPV6, ip("2001:db8::1"))
    assert ev(reg, "req.hdr_ip(x-ip,3)", strm) is None
    assert ev(reg, "hdr_ip(x-ip)", strm).value == ip("::1")
    assert ev_all(reg, "req.hdr_ip(x-ip)", strm) == [ip("192.0.2.1"), ip("2001:db8::1"),
                                                     ip("::1")]
    assert hu.parse_ip("1.2.3.4.5") is None
    assert hu.parse_ip("256.1.1.1") is None


# -- cookies -----------------------------------------------------------------------------------

def test_cookie_parsing() -> None:
    pairs = hu.cookie_pairs("SID=abc; lang = fr ; $Path=/; SID=def", True)
    assert pairs == [("SID", "abc"), ("lang", "fr"), ("SID", "def")]
    assert hu.cookie_pairs('a="x;y"; b=2', True) == [("a", '"x;y"'), ("b", "2")]
    assert hu.cookie_pairs("noeq; c=3", True) == [("c", "3")]
    assert hu.cookie_pairs("e=; f=1", True) == [("e", ""), ("f", "1")]
    assert hu.cookie_pairs("x=1,y=2", True) == [("x", "1"), ("y", "2")]
    # Set-Cookie: only the first pair, attributes ignored
    assert hu.cookie_pairs("id=42; Path=/; Expires=Wed, 09 Jun 2021", False) == [("id", "42")]


def test_request_cookies(reg: Registry) -> None:
    strm = make_stream()
    assert ev(reg, "req.cook(SID)", strm).value == "def"  # last occurrence
    assert ev(reg, "cook(lang)", strm).value == "fr"
    assert ev(reg, "req.cook(sid)", strm) is None  # case-sensitive
    assert ev(reg, "req.cook", strm).value == "abc"  # no name: the first cookie
    assert ev(reg, "req.cook(theme)", strm).value == "dark"
    assert ev_all(reg, "req.cook(SID)", strm) == ["abc", "def"]
    assert ev(reg, "req.cook_cnt(SID)", strm).value == 2
    assert ev(reg, "cook_cnt", strm).value == 5
    assert ev(reg, "req.cook_val(n)", strm) == Sample(SmpType.SINT, 42)
    assert ev(reg, "req.cook_names", strm).value == "SID,lang,SID,theme,n"
    assert ev(reg, "req.cook_names(|)", strm).value == "SID|lang|SID|theme|n"
    assert ev(reg, "req.cook(none)", strm) is None
    assert ev(reg, "req.cook_cnt(none)", strm).value == 0


def test_response_headers_and_cookies(reg: Registry) -> None:
    strm = make_stream()
    strm.res = HttpMessage(status=302, reason="Found", version="1.1", headers=[
        ("Location", "/x"), ("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2, c=3"),
        ("Cache-Control", "no-cache, private"), ("X-Ip", "10.9.8.7")])
    point = Point.FE_HRS_HDR
    assert ev(reg, "status", strm, point) == Sample(SmpType.SINT, 302)
    assert ev(reg, "res.ver", strm, point).value == "1.1"
    assert ev(reg, "res.hdr(cache-control)", strm, point).value == "private"
    assert ev(reg, "shdr(cache-control,1)", strm, point).value == "no-cache"
    assert ev(reg, "res.fhdr(cache-control)", strm, point).value == "no-cache, private"
    assert ev(reg, "res.hdr_cnt(cache-control)", strm, point).value == 2
    assert ev(reg, "shdr_cnt(cache-control)", strm, point).value == 2
    assert ev(reg, "res.hdr_ip(x-ip)", strm, point).value == ip("10.9.8.7")
    assert ev(reg, "res.hdr_names", strm, point).value.startswith("location,set-cookie")
    assert ev(reg, "res.cook(b)", strm, point).value == "2"
    assert ev(reg, "scook(c)", strm, point) is None  # one cookie per Set-Cookie
    assert ev(reg, "res.cook", strm, point).value == "1"
    assert ev(reg, "res.cook_cnt", strm, point).value == 2
    assert ev(reg, "res.cook_names", strm, point).value == "a,b"
    assert ev(reg, "capture.res.ver", strm, point).value == "HTTP/1.1"


def test_response_fetches_are_refused_on_requests(reg: Registry) -> None:
    with pytest.raises(ConfigError, match="none of which is available here"):
        ev(reg, "res.hdr(x)", make_stream())


# -- URL and body parameters -------------------------------------------------------------------

def test_url_param(reg: Registry) -> None:
    strm = make_stream("/p?a=1&b=2;c=3&a=4&flag&D=5")
    assert ev(reg, "url_param(a)", strm) == Sample(SmpType.STR, "1")
    assert ev(reg, "urlp(c)", strm).value == "3"
    assert ev(reg, "urlp(flag)", strm) is None
    assert ev(reg, "urlp(d)", strm) is None
    assert ev(reg, "urlp(d,,i)", strm).value == "5"
    assert ev(reg, "urlp", strm).value == "1"
    assert ev_all(reg, "urlp(a)", strm) == ["1", "4"]
    assert ev_all(reg, "url_param", strm) == ["1", "2", "3", "4", "5"]
    assert ev(reg, "urlp_val(c)", strm) == Sample(SmpType.SINT, 3)
    assert ev(reg, "url_param(a)", make_stream("/p")) is None


def test_url_param_delimiter(reg: Registry) -> None:
    strm = make_stream("/p;jsessionid=XYZ?x=1")
    # parameters end at '&', ';' or the delimiter only
    assert ev(reg, "url_param(jsessionid,;)", strm).value == "XYZ?x=1"
    assert ev(reg, "url_param(jsessionid,;)", make_stream("/p;jsessionid=XYZ")).value == "XYZ"
    # with the default delimiter the list starts after '?'
    assert ev(reg, "url_param(jsessionid)", strm) is None
    assert hu.url_params("/q?a=1|b=2", "b", "|", False) == ["2"]
    with pytest.raises(ConfigError, match="only 'i' is supported"):
        ev(reg, "url_param(a,;,x)", strm)


def test_body(reg: Registry) -> None:
    strm = make_stream(method="POST")
    assert ev(reg, "req.body", strm) == Sample(SmpType.BIN, b"")
    strm.req.body = b"user=bob&Pass=x%20y&user=al"
    strm.req.body_complete = False
    smp = ev(reg, "req.body", strm)
    assert smp.value == b"user=bob&Pass=x%20y&user=al" and smp.flags & F_MAY_CHANGE
    strm.req.body_complete = True
    assert ev(reg, "req.body", strm).flags & F_MAY_CHANGE == 0
    assert ev(reg, "req.body_len", strm).value == 27
    assert ev(reg, "req.body_size", strm).value == 11  # Content-Length announced
    assert ev(reg, "req.body_param(user)", strm) == Sample(SmpType.STR, "bob")
    assert ev(reg, "req.body_param(pass)", strm) is None
    assert ev(reg, "req.body_param(pass,i)", strm).value == "x%20y"
    assert ev_all(reg, "req.body_param(user)", strm) == ["bob", "al"]
    assert ev(reg, "req.body_param", strm).value == "bob"
    chunked = make_stream(headers=[("Transfer-Encoding", "chunked")], method="POST")
    chunked.req.body = b"abc"
    assert ev(reg, "req.body_size", chunked).value == 3


def test_response_body(reg: Registry) -> None:
    strm = make_stream()
    strm.res = HttpMessage(status=200, body=b"hello", body_complete=True)
    assert ev(reg, "res.body", strm, Point.FE_HRS_HDR) == Sample(SmpType.BIN, b"hello")
    assert ev(reg, "res.body_len", strm, Point.FE_HRS_HDR).value == 5


# -- captures and dates ------------------------------------------------------------------------

def test_captures_and_request_date(reg: Registry) -> None:
    strm = make_stream(version="1.0")
    strm.captures_req = ["www.example.com", None]
    strm.captures_res = ["text/html"]
    strm.request_date = 1700000000.123456
    assert ev(reg, "capture.req.hdr(0)", strm).value == "www.example.com"
    assert ev(reg, "capture.req.hdr(1)", strm) is None
    assert ev(reg, "capture.req.hdr(5)", strm) is None
    assert ev(reg, "capture.res.hdr(0)", strm, Point.FE_HRS_HDR).value == "text/html"
    assert ev(reg, "capture.req.method", strm) == Sample(SmpType.STR, "GET")
    assert ev(reg, "capture.req.uri", strm).value == "/a/b.php?x=1&y=2;z=3"
    assert ev(reg, "capture.req.ver", strm).value == "HTTP/1.0"
    assert ev(reg, "request_date", strm).value == 1700000000
    assert ev(reg, "request_date(ms)", strm).value == 1700000000123
    assert ev(reg, "request_date(us)", strm).value == 1700000000123456
    strm.first_req = False
    assert ev(reg, "http_first_req", strm).value is False


# -- layer 6 -------------------------------------------------------------------------------------

def test_payload(reg: Registry) -> None:
    strm = Stream(Session(), req_buffer=b"\x16\x03\x01\x00\x05hello-rest")
    point = Point.FE_REQ_CNT
    smp = ev(reg, "req.len", strm, point)
    assert smp.value == 15 and smp.flags & F_MAY_CHANGE
    assert ev(reg, "req.payload(0,1)", strm, point) == Sample(SmpType.BIN, b"\x16")
    assert ev(reg, "req.payload(5,5)", strm, point).value == b"hello"
    assert ev(reg, "req.payload(5,0)", strm, point).value == b"hello-rest"
    short = ev(reg, "req.payload(10,20)", strm, point)
    assert short.value == b"" and short.flags & F_MAY_CHANGE
    assert ev(reg, "req.payload_lv(3,2)", strm, point).value == b"hello"
    assert ev(reg, "req.payload_lv(3,2,5)", strm, point).value == b"hello"
    assert ev(reg, "req.payload_lv(3,2,+5)", strm, point).value == b"-rest"
    assert ev(reg, "req.payload_lv(3,2,-5)", strm, point).value == b"\x16\x03\x01\x00\x05"
    strm.res_buffer = b"OK"
    assert ev(reg, "res.len", strm, Point.FE_RES_CNT).value == 2
    assert ev(reg, "res.payload(0,2)", strm, Point.FE_RES_CNT).value == b"OK"


@pytest.mark.parametrize("text, message", [
    ("req.payload_lv(0,0)", "payload length must be > 0"),
    ("req.payload_lv(0,1,x)", "payload offset2 is not a number"),
    ("req.payload(0,-1)", "payload length must be >= 0"),
])
def test_payload_errors(reg: Registry, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        ev(reg, text, Stream(Session()), Point.FE_REQ_CNT)


def test_proto_http(reg: Registry) -> None:
    point = Point.FE_REQ_CNT
    partial = ev(reg, "req.proto_http", Stream(Session(), req_buffer=b"GET / HT"), point)
    assert partial.value is False and partial.flags & F_MAY_CHANGE
    full = Stream(Session(), req_buffer=b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
    assert ev(reg, "req.proto_http", full, point).value is True
    junk = Stream(Session(), req_buffer=b"\x16\x03\x01 garbage\r\n\r\n")
    assert ev(reg, "req.proto_http", junk, point).value is False
    assert ev(reg, "req.proto_http", make_stream(), point).value is True


# -- ACL keywords and predefined ACLs ----------------------------------------------------------

def test_derived_acl_keywords(reg: Registry) -> None:
    kw = reg.acl_keyword("path_beg")
    assert (kw.fetch, kw.match) == ("path", "beg")
    assert reg.acl_keyword("hdr_sub").fetch == "req.hdr"
    assert reg.acl_keyword("shdr_dom").fetch == "res.hdr"
    assert reg.acl_keyword("cook_reg").fetch == "req.cook"
    assert reg.acl_keyword("scook_len").fetch == "res.cook"
    assert reg.acl_keyword("urlp_end").fetch == "urlp"
    for prefix in ("base", "cook", "hdr", "path", "scook", "shdr", "url", "urlp"):
        for method in ("beg", "dir", "dom", "end", "len", "reg", "sub"):
            assert reg.acl_keyword(f"{prefix}_{method}") is not None
    assert reg.acl_keyword("hdr_found") is None  # not an HAProxy keyword


def test_acls_try_every_value(reg: Registry) -> None:
    strm = make_stream()
    assert acl(reg, "path_beg /a/", strm) == AclResult.MATCH
    assert acl(reg, "path_end .php .html", strm) == AclResult.MATCH
    assert acl(reg, "path_dir b.php", strm) == AclResult.MATCH
    assert acl(reg, "hdr_beg(x-forwarded-for) 10.0.0.2", strm) == AclResult.MATCH
    assert acl(reg, "hdr(x-forwarded-for,1) 10.0.0.2", strm) == AclResult.NOMATCH
    assert acl(reg, "hdr_dom(host) example.com", strm) == AclResult.MATCH
    assert acl(reg, "cook(SID) abc", strm) == AclResult.MATCH
    assert acl(reg, "urlp_reg(y) ^[0-9]$", strm) == AclResult.MATCH
    assert acl(reg, "hdr_cnt(x-forwarded-for) gt 2", strm) == AclResult.MATCH
    assert acl(reg, "req.hdr_ip(x-forwarded-for) 10.0.0.0/8", strm) == AclResult.MATCH
    assert acl(reg, "base_sub example.com/a", strm) == AclResult.MATCH


@pytest.mark.parametrize("name, stream_kw, expected", [
    ("HTTP_1.1", {}, True),
    ("HTTP_1.0", {}, False),
    ("HTTP_2.0", {"version": "2.0"}, True),
    ("HTTP_CONTENT", {}, True),
    ("HTTP_URL_ABS", {"uri": "http://x/"}, True),
    ("HTTP_URL_ABS", {}, False),
    ("HTTP_URL_SLASH", {}, True),
    ("HTTP_URL_STAR", {"uri": "*", "method": "OPTIONS"}, True),
    ("METH_GET", {"method": "HEAD"}, True),
    ("METH_GET", {"method": "POST"}, False),
    ("METH_POST", {"method": "POST"}, True),
    ("METH_CONNECT", {"method": "CONNECT", "uri": "h:443"}, True),
    ("HTTP", {}, True),
])
def test_predefined_acls(reg: Registry, name: str, stream_kw: dict, expected: bool) -> None:
    rec = reg.predefined_acl(name)
    strm = make_stream(**stream_kw)
    point = Point.FE_REQ_CNT if name == "HTTP" else Point.FE_HRQ_HDR
    res = parse_acl_expr(list(rec.criterion), build_ctx(reg), point).exec(strm)
    assert res == (AclResult.MATCH if expected else AclResult.NOMATCH)


def test_req_content_acl(reg: Registry) -> None:
    rec = reg.predefined_acl("REQ_CONTENT")
    expr = parse_acl_expr(list(rec.criterion), build_ctx(reg), Point.FE_REQ_CNT)
    assert expr.exec(Stream(Session(), req_buffer=b"x")) == AclResult.MATCH
    assert expr.exec(Stream(Session())) == AclResult.MISS  # more data may come


def test_every_predefined_acl_compiles(reg: Registry) -> None:
    for rec in reg.all(PredefinedAcl):
        parse_acl_expr(list(rec.criterion), build_ctx(reg), None)
