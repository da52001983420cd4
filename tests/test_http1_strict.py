"""Strict and relaxed HTTP/1 parsing, request smuggling defences, on both codecs.

Raw bytes are sent over a socket to hapx (httptools and h11) and, where HAProxy 2.6
behaves as 3.2 does, to Debian's haproxy 2.6 with the same configuration: the status,
the log's termination state and what reaches the origin are compared.  Cases marked
``v32`` follow HAProxy 3.2 where 2.6 differs (NUL in header values, the characters of
the request target, of the authority and of the Host header, empty Transfer-Encoding in
responses, the WebSocket relaxations): only hapx is checked for them.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from netutil import (
    OriginServer,
    RawResponse,
    Response,
    free_port,
    read_response,
    run_haproxy,
    run_hapx,
    wait_until,
)
from test_http1_support import CODECS

CFG = """global
    log stdout format raw local0
{glob}
defaults
    mode http
    log global
    option httplog
    timeout client 5s
    timeout server 5s
    timeout connect 2s
{opts}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be

backend be
{be}
    server s1 127.0.0.1:{oport}
"""

RELAX_NEW = ("    option accept-unsafe-violations-in-http-request\n"
             "    option accept-unsafe-violations-in-http-response\n")
#: HAProxy 2.6 only knows the old names (hapx accepts them as aliases)
RELAX_OLD = ("    option accept-invalid-http-request\n"
             "    option accept-invalid-http-response\n")

KEY = b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
WS = b"Connection: upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
H = b"Host: x\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n"


def req(head: bytes, body: bytes = b"") -> bytes:
    return head + b"\r\n" + body


@dataclass(frozen=True)
class Case:
    """A request, the status hapx answers in strict and in relaxed mode, whether
    haproxy 2.6 answers the same (``v32``: it does not, 3.2 rules), and what the
    origin must have received when the request passes (header name -> value, None:
    absent)."""
    name: str
    data: bytes
    strict: int
    relaxed: int
    v32: bool = False
    seen: tuple[tuple[str, str | None], ...] = ()


REQUESTS = [
    # -- framing: Content-Length
    Case("cl_same_twice", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
                              b"Content-Length: 3\r\n", b"abc"), 200, 200,
         seen=(("content-length", "3"),)),
    Case("cl_differ", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n"
                          b"Content-Length: 4\r\n", b"abcd"), 400, 400),
    Case("cl_list_same", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 3\r\n",
                             b"abc"), 200, 200, seen=(("content-length", "3"),)),
    Case("cl_list_differ", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3, 4\r\n",
                               b"abcd"), 400, 400),
    Case("cl_plus", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +3\r\n", b"abc"),
         400, 400),
    Case("cl_negative", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n"), 400, 400),
    Case("cl_hex", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x3\r\n", b"abc"),
         400, 400),
    Case("cl_empty", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length:\r\n"), 400, 400),
    # -- framing: Transfer-Encoding
    Case("te_and_cl", req(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n" + CHUNKED,
                          b"3\r\nabc\r\n0\r\n\r\n"), 200, 200,
         seen=(("content-length", None), ("transfer-encoding", "chunked"))),
    Case("te_gzip_chunked", req(b"POST / HTTP/1.1\r\n" + H +
                                b"Transfer-Encoding: gzip, chunked\r\n",
                                b"3\r\nabc\r\n0\r\n\r\n"), 422, 422),
    Case("te_chunked_gzip", req(b"POST / HTTP/1.1\r\n" + H +
                                b"Transfer-Encoding: chunked, gzip\r\n", b"abc"), 400, 400),
    Case("te_gzip", req(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n", b"abc"),
         400, 400),
    Case("te_chunked_twice", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED + CHUNKED,
                                 b"3\r\nabc\r\n0\r\n\r\n"), 400, 400),
    Case("te_identity", req(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n",
                            b"abc"), 400, 400),
    Case("te_empty", req(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n"), 400, 400),
    # -- obs-fold: unfolded, as HAProxy does
    Case("obs_fold", req(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n"), 200, 200,
         seen=(("x-a", "a   b"),)),
    Case("obs_fold_te", req(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n chunked\r\n",
                            b"3\r\nabc\r\n0\r\n\r\n"), 200, 200,
         seen=(("transfer-encoding", "chunked"),)),
    Case("fold_first_line", req(b"GET / HTTP/1.1\r\n X-A: a\r\n" + H), 400, 400),
    # -- chunked bodies
    Case("chunk_bad_size", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED,
                               b"zz\r\nabc\r\n0\r\n\r\n"), 400, 400),
    Case("chunk_size_overflow", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED,
                                    b"fffffffffffffffff1\r\nabc\r\n0\r\n\r\n"), 400, 400),
    Case("chunk_no_crlf", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED,
                              b"3\r\nabcX\r\n0\r\n\r\n"), 400, 400),
    Case("chunk_extension", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED,
                                b"3;a=b\r\nabc\r\n0\r\n\r\n"), 200, 200),
    Case("chunk_size_blank", req(b"POST / HTTP/1.1\r\n" + H + CHUNKED,
                                 b"3 \r\nabc\r\n0\r\n\r\n"), 200, 200),
    # -- characters in header lines
    Case("nul_in_value", req(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n"), 400, 200,
         v32=True, seen=(("x-a", "a\x00b"),)),
    Case("nul_in_name", req(b"GET / HTTP/1.1\r\n" + H + b"X-\x00A: ab\r\n"), 400, 200),
    Case("ctl_in_value", req(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n"), 200, 200,
         seen=(("x-a", "a\x01b"),)),
    Case("bare_cr_in_value", req(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n"), 400, 400),
    Case("space_before_colon", req(b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n"), 400, 200),
    Case("tab_before_colon", req(b"GET / HTTP/1.1\r\n" + H + b"X-A\t: b\r\n"), 400, 200),
    Case("at_in_name", req(b"GET / HTTP/1.1\r\n" + H + b"X@A: b\r\n"), 400, 200),
    Case("no_colon", req(b"GET / HTTP/1.1\r\n" + H + b"XA\r\n"), 400, 400),
    Case("empty_name", req(b"GET / HTTP/1.1\r\n" + H + b": b\r\n"), 400, 400),
    Case("lf_line_ends", b"GET / HTTP/1.1\nHost: x\n\n", 200, 200),
    # -- request line
    Case("method_bad_char", req(b"G@T / HTTP/1.1\r\n" + H), 400, 400),
    Case("method_ctl", req(b"GE\x01T / HTTP/1.1\r\n" + H), 400, 400),
    Case("method_custom", req(b"FOO-BAR / HTTP/1.1\r\n" + H), 200, 200),
    Case("method_lower_case", req(b"get / HTTP/1.1\r\n" + H), 200, 200),
    Case("http09", b"GET /\r\n\r\n", 400, 200),
    Case("version_multi_digit", req(b"GET / HTTP/1.10\r\n" + H), 400, 200),
    Case("version_2_0", req(b"GET / HTTP/2.0\r\n" + H), 200, 200),
    Case("version_rtsp", req(b"GET / RTSP/1.0\r\n" + H), 400, 200),
    Case("version_lower_case", req(b"GET / http/1.1\r\n" + H), 400, 400),
    Case("target_non_ascii", req(b"GET /\xe9 HTTP/1.1\r\n" + H), 400, 200),
    Case("target_fragment", req(b"GET /a#b HTTP/1.1\r\n" + H), 400, 200),
    Case("target_ctl", req(b"GET /a\x01b HTTP/1.1\r\n" + H), 400, 400),
    Case("target_rfc3986_forbidden", req(b"GET /a{b}|^` HTTP/1.1\r\n" + H), 400, 200,
         v32=True),
    Case("target_space", req(b"GET /a b HTTP/1.1\r\n" + H), 400, 400),
    Case("several_spaces", req(b"GET  / HTTP/1.1\r\n" + H), 200, 200),
    # -- Host and authority
    Case("host_twice_same", req(b"GET / HTTP/1.1\r\n" + H + H), 200, 200,
         seen=(("host", "x"),)),
    Case("host_twice_differ", req(b"GET / HTTP/1.1\r\n" + H + b"Host: y\r\n"), 400, 400),
    Case("absolute_matches_host", req(b"GET http://x/ HTTP/1.1\r\n" + H), 200, 200),
    Case("absolute_differs_from_host", req(b"GET http://y/ HTTP/1.1\r\n" + H), 400, 200),
    Case("absolute_default_port", req(b"GET http://x:80/ HTTP/1.1\r\n" + H), 200, 200),
    Case("host_space", req(b"GET / HTTP/1.1\r\nHost: a b\r\n"), 400, 400, v32=True),
    Case("host_userinfo", req(b"GET / HTTP/1.1\r\nHost: u@a\r\n"), 400, 400, v32=True),
    Case("host_slash", req(b"GET / HTTP/1.1\r\nHost: a/b\r\n"), 400, 400, v32=True),
    Case("host_quote", req(b"GET / HTTP/1.1\r\nHost: a\"b\r\n"), 400, 400, v32=True),
    Case("host_non_ascii", req(b"GET / HTTP/1.1\r\nHost: a\xe9b\r\n"), 400, 400, v32=True),
    Case("authority_userinfo", req(b"GET http://u@x/ HTTP/1.1\r\n" + H), 400, 400, v32=True),
    Case("host_ipv6", req(b"GET / HTTP/1.1\r\nHost: [::1]:80\r\n"), 200, 200),
    Case("connect_no_port", req(b"CONNECT x HTTP/1.1\r\n" + H), 400, 200),
    # -- WebSocket (3.2 relaxes the missing key)
    Case("websocket_no_key", req(b"GET / HTTP/1.1\r\n" + H + WS), 400, 200, v32=True),
    Case("websocket_bad_key", req(b"GET / HTTP/1.1\r\n" + H + WS +
                                  b"Sec-WebSocket-Key: x\r\n"), 400, 200, v32=True),
    Case("websocket_key", req(b"GET / HTTP/1.1\r\n" + H + WS + KEY), 200, 200),
]


def rsp(head: bytes, body: bytes = b"") -> bytes:
    return head + b"\r\n" + body


@dataclass(frozen=True)
class RCase:
    """A raw response from the origin to ``GET /r/<name>`` (or a WebSocket request when
    ``ws``): the status the client gets in strict and relaxed mode, ``v32`` as above,
    and the header names the client must not see."""
    name: str
    data: bytes
    strict: int
    relaxed: int
    v32: bool = False
    ws: bool = False
    absent: tuple[str, ...] = ()


RESPONSES = [
    RCase("cl_differ", rsp(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n",
                           b"ok"), 502, 502),
    RCase("te_and_cl", rsp(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
                           b"transfer-encoding: chunked\r\n", b"2\r\nok\r\n0\r\n\r\n"),
          200, 200, absent=("content-length",)),
    RCase("te_gzip", rsp(b"HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n", b"okok"),
          502, 502),
    RCase("te_chunked_gzip", rsp(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, gzip\r\n",
                                 b"okok"), 502, 502),
    RCase("te_chunked_twice", rsp(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked, chunked"
                                  b"\r\n", b"2\r\nok\r\n0\r\n\r\n"), 502, 200, v32=True),
    RCase("te_empty", rsp(b"HTTP/1.1 200 OK\r\ntransfer-encoding:\r\n", b"ok"), 502, 200,
          v32=True),
    RCase("nul_in_value", rsp(b"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n",
                              b"ok"), 502, 200, v32=True),
    RCase("space_before_colon", rsp(b"HTTP/1.1 200 OK\r\nx-a : b\r\ncontent-length: 2\r\n",
                                    b"ok"), 502, 200),
    RCase("obs_fold", rsp(b"HTTP/1.1 200 OK\r\nx-a: a\r\n b\r\ncontent-length: 2\r\n", b"ok"),
          200, 200),
    RCase("chunk_bad_size", rsp(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n",
                                b"zz\r\nok\r\n0\r\n\r\n"), 502, 502),
    RCase("bad_version", rsp(b"HTTP/1.x 200 OK\r\ncontent-length: 2\r\n", b"ok"), 502, 502),
    RCase("204_content_length", rsp(b"HTTP/1.1 204 No Content\r\ncontent-length: 5\r\n"),
          204, 204, absent=("content-length", "transfer-encoding")),
    RCase("204_content_length_0", rsp(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n"),
          204, 204, absent=("content-length", "transfer-encoding")),
    RCase("204_chunked", rsp(b"HTTP/1.1 204 No Content\r\ntransfer-encoding: chunked\r\n"),
          204, 204, absent=("content-length", "transfer-encoding")),
    RCase("101_no_accept", rsp(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n"
                               b"upgrade: websocket\r\n"), 502, 101, v32=True, ws=True),
    RCase("101_content_length_0", rsp(b"HTTP/1.1 101 Switching Protocols\r\n"
                                      b"connection: upgrade\r\nupgrade: websocket\r\n" +
                                      ACCEPT + b"content-length: 0\r\n"),
          101, 101, ws=True, absent=("content-length",)),
]


# -- the proxies ----------------------------------------------------------------------------

class Proxies:
    """hapx (per codec) and haproxy 2.6, strict or relaxed, started once per module in
    front of one origin."""

    def __init__(self, stack: contextlib.ExitStack, origin: OriginServer) -> None:
        self.stack = stack
        self.origin = origin
        self.running: dict[tuple[str, bool], tuple[int, object]] = {}

    def get(self, kind: str, relaxed: bool) -> tuple[int, object]:
        key = (kind, relaxed)
        if key not in self.running:
            port = free_port()
            opts = (RELAX_OLD if kind == "haproxy" else RELAX_NEW) if relaxed else ""
            glob = f"    h1-codec {kind}" if kind != "haproxy" else ""
            cfg = CFG.format(glob=glob, opts=opts, port=port, oport=self.origin.port,
                             be=BE_RULES if kind != "haproxy" else "")
            runner = run_haproxy if kind == "haproxy" else run_hapx
            px = self.stack.enter_context(runner(cfg, ready_ports=[port]))
            self.running[key] = (port, px)
        return self.running[key]


#: hapx only: a Content-Length: 0 set by configuration stays on a 204 (3.2), another
#: value does not
BE_RULES = ("    http-response set-header content-length 0 if { path /set0 }\n"
            "    http-response set-header content-length 7 if { path /set7 }\n")


def _origin_routes() -> dict[str, Response]:
    routes = {f"/r/{c.name}": Response(action="raw", raw=c.data, close=True) for c in RESPONSES}
    routes["/set0"] = Response(status=204)
    routes["/set7"] = Response(status=204)
    return routes


@pytest.fixture(scope="module")
def proxies() -> Iterator[Proxies]:
    with OriginServer(_origin_routes()) as origin, contextlib.ExitStack() as stack:
        yield Proxies(stack, origin)


def exchange(port: int, data: bytes, *, head_request: bool = False,
             upgrade: bool = False) -> tuple[RawResponse, bool]:
    """Send ``data``, read one response; whether the proxy then closed the connection.
    The close is waited for only where it is due (an error status, or ``Connection:
    close``): a kept-alive connection reads as not closed without idling until the
    timeout, as no assertion asks for it to stay open."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        buf = bytearray()
        resp = read_response(s, buffer=buf, head_request=head_request)
        if upgrade or resp.status == 101:
            return resp, False
        if resp.status < 400 and (resp.header("connection") or "").lower() != "close":
            return resp, False
        s.settimeout(5)
        try:
            closed = s.recv(1) == b""
        except TimeoutError:
            closed = False
        except ConnectionResetError:
            closed = True
        return resp, closed


def log_lines(px: object) -> list[str]:
    return [line for line in px.stdout.splitlines() if " fe " in line]  # type: ignore[attr-defined]


def marker_through(proxies: Proxies, port: int, tag: str, px: object = None) -> list:
    """Send a marker request and return the requests the origin received from the one
    before it on: only the marker must be there after a refused request.  With the
    proxy ``px``, wait for the marker's log line too, so that the next case counts its
    own lines from after it."""
    origin = proxies.origin
    before = len(origin.requests)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /marker-" + tag.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                  b"Connection: close\r\n\r\n")
        assert read_response(s).status == 200
    if px is not None:
        wait_until(lambda: any(f"/marker-{tag} " in line for line in log_lines(px)), 5,
                   message="no log line for the marker")
    return origin.requests[before:]


def run_case(proxies: Proxies, kind: str, case: Case, relaxed: bool) -> int:
    """Run one request case through ``kind``; check what reached the origin and the
    log; return the status."""
    port, px = proxies.get(kind, relaxed)
    origin = proxies.origin
    n_log = len(log_lines(px))
    n_req = len(origin.requests)
    resp, closed = exchange(port, case.data)
    wait_until(lambda: len(log_lines(px)) > n_log, 5, message="no log line")
    line = log_lines(px)[n_log]
    if resp.status >= 400:
        # refused while parsing: HAProxy's <BADREQ> log with termination state PR
        assert " PR-- " in line and '"<BADREQ>"' in line, line
        assert closed
        got = marker_through(proxies, port, f"{kind}-{case.name}", px)
        assert [r.path for r in got] == [f"/marker-{kind}-{case.name}"], got
    elif resp.status == 200 and not case.data.startswith(b"CONNECT"):
        assert " ---- " in line, line
        got = origin.requests[n_req:]
        assert len(got) == 1, got
        for name, value in case.seen:
            assert got[0].header_all(name) == ([] if value is None else [value]), got[0]
        if case.name == "te_and_cl":
            # the Content-Length went, the connection closes after the response
            assert resp.header("connection") == "close" and closed
    return resp.status


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case", REQUESTS, ids=[c.name for c in REQUESTS])
def test_request_strict(proxies: Proxies, codec: str, case: Case) -> None:
    assert run_case(proxies, codec, case, relaxed=False) == case.strict


@pytest.mark.parametrize("case", [c for c in REQUESTS if not c.v32],
                         ids=[c.name for c in REQUESTS if not c.v32])
def test_request_strict_haproxy(proxies: Proxies, case: Case) -> None:
    assert run_case(proxies, "haproxy", case, relaxed=False) == case.strict


RELAXED = [c for c in REQUESTS if c.relaxed != c.strict or c.v32]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case", RELAXED, ids=[c.name for c in RELAXED])
def test_request_relaxed(proxies: Proxies, codec: str, case: Case) -> None:
    assert run_case(proxies, codec, case, relaxed=True) == case.relaxed


@pytest.mark.parametrize("case", [c for c in RELAXED if not c.v32],
                         ids=[c.name for c in RELAXED if not c.v32])
def test_request_relaxed_haproxy(proxies: Proxies, case: Case) -> None:
    assert run_case(proxies, "haproxy", case, relaxed=True) == case.relaxed


def run_rcase(proxies: Proxies, kind: str, case: RCase, relaxed: bool) -> int:
    port, px = proxies.get(kind, relaxed)
    n_log = len(log_lines(px))
    extra = WS + KEY if case.ws else b""
    resp, _closed = exchange(port, b"GET /r/" + case.name.encode() + b" HTTP/1.1\r\n" + H +
                             extra + b"\r\n", upgrade=case.ws)
    for name in case.absent:
        assert resp.header(name) is None, resp.headers
    wait_until(lambda: len(log_lines(px)) > n_log, 5, message="no log line")
    line = log_lines(px)[n_log]
    if resp.status == 502:
        # an invalid response: HAProxy's 502 with termination state PH
        assert " PH-- " in line, line
    if case.name == "obs_fold":
        assert resp.header("x-a") == "a   b"
    return resp.status


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case", RESPONSES, ids=[c.name for c in RESPONSES])
def test_response_strict(proxies: Proxies, codec: str, case: RCase) -> None:
    assert run_rcase(proxies, codec, case, relaxed=False) == case.strict


@pytest.mark.parametrize("case", [c for c in RESPONSES if not c.v32],
                         ids=[c.name for c in RESPONSES if not c.v32])
def test_response_strict_haproxy(proxies: Proxies, case: RCase) -> None:
    assert run_rcase(proxies, "haproxy", case, relaxed=False) == case.strict


RRELAXED = [c for c in RESPONSES if c.relaxed != c.strict]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("case", RRELAXED, ids=[c.name for c in RRELAXED])
def test_response_relaxed(proxies: Proxies, codec: str, case: RCase) -> None:
    assert run_rcase(proxies, codec, case, relaxed=True) == case.relaxed


@pytest.mark.parametrize("case", [c for c in RRELAXED if not c.v32],
                         ids=[c.name for c in RRELAXED if not c.v32])
def test_response_relaxed_haproxy(proxies: Proxies, case: RCase) -> None:
    assert run_rcase(proxies, "haproxy", case, relaxed=True) == case.relaxed


@pytest.mark.parametrize("codec", CODECS)
def test_content_length_0_set_on_204_is_kept(proxies: Proxies, codec: str) -> None:
    """3.2: a Content-Length: 0 added by configuration stays on a 204; another value is
    dropped (a 204 has no body)."""
    port, _px = proxies.get(codec, False)
    resp, _ = exchange(port, b"GET /set0 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status == 204 and resp.header("content-length") == "0"
    resp, _ = exchange(port, b"GET /set7 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert resp.status == 204 and resp.header("content-length") is None


@pytest.mark.parametrize("codec", CODECS)
def test_pipelined_smuggling_attempt_is_parsed_again(proxies: Proxies, codec: str) -> None:
    """A request hidden after a Content-Length body is a request of its own, parsed
    with the same rules: here it is malformed (two different lengths) and refused, the
    first one is served."""
    port, _px = proxies.get(codec, False)
    origin = proxies.origin
    before = len(origin.requests)
    first = req(b"POST /first HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n", b"hello")
    second = req(b"POST /smuggled HTTP/1.1\r\n" + H + b"Content-Length: 1\r\n"
                 b"Content-Length: 2\r\n", b"xx")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(first + second)
        buf = bytearray()
        assert read_response(s, buffer=buf).status == 200
        assert read_response(s, buffer=buf).status == 400
    got = marker_through(proxies, port, f"pipe-{codec}")
    assert [r.path for r in origin.requests[before:]] == ["/first", got[-1].path]


@pytest.mark.parametrize("codec", CODECS)
def test_old_option_names_are_aliases(codec: str) -> None:
    """option accept-invalid-http-request|response (the pre-3.0 names) relax as the new
    ones do."""
    routes = {"/r/nul": Response(action="raw", close=True, raw=rsp(
        b"HTTP/1.1 200 OK\r\nx-a: a\x00b\r\ncontent-length: 2\r\n", b"ok"))}
    with OriginServer(routes) as o:
        port = free_port()
        cfg = CFG.format(glob=f"    h1-codec {codec}", opts=RELAX_OLD, port=port,
                         oport=o.port, be="")
        with run_hapx(cfg, ready_ports=[port]):
            resp, _ = exchange(port, req(b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n"))
            assert resp.status == 200 and o.requests[-1].header("x-a") == "a\x00b"
            resp, _ = exchange(port, req(b"GET /r/nul HTTP/1.1\r\n" + H))
            assert resp.status == 200 and resp.header("x-a") == "a\x00b"
