"""The HTTP/1 data path against real origin servers, with curl, httpx and raw sockets,
for both codecs (httptools and h11)."""

from __future__ import annotations

import socket
import subprocess
import threading

import httpx
import pytest
from hapx.core.proto.pages import default_page
from netutil import (
    OriginServer,
    Response,
    free_port,
    parse_response,
    raw_exchange,
    wait_until,
)
from test_http1_support import CODECS, cfg_with_codec, proxy
from test_queues import Holding

BASE = """
defaults
    mode http
    timeout client 5s
    timeout server {tserver}
    timeout connect 1s
    {extra_defaults}

frontend fe
    bind 127.0.0.1:{port}
{fe}
    default_backend be

backend be
{be}
    server s1 127.0.0.1:{oport}
"""


def make_cfg(codec: str, port: int, oport: int, fe: str = "", be: str = "",
             tserver: str = "2s", extra_defaults: str = "") -> str:
    return cfg_with_codec(BASE.format(port=port, oport=oport, fe=fe, be=be, tserver=tserver,
                                      extra_defaults=extra_defaults), codec)


def page(status: int) -> bytes:
    return default_page(status).body or b""


@pytest.fixture(params=CODECS)
def codec(request: pytest.FixtureRequest) -> str:
    return request.param


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["curl", "-s", "--max-time", "20", *args], capture_output=True,
                          text=True, timeout=30)


# -- keep-alive and connection reuse -------------------------------------------------------------

def test_keepalive_reuses_one_server_connection(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            with httpx.Client() as c:
                for i in range(5):
                    r = c.get(f"http://127.0.0.1:{port}/k{i}")
                    assert r.status_code == 200 and r.text == "ok\n"
            assert o.connections == 1
            assert len(o.requests) == 5


def test_http_server_close_opens_one_connection_per_request(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, fe="    option http-server-close"), port):
            with httpx.Client() as c:
                for _ in range(3):
                    assert c.get(f"http://127.0.0.1:{port}/").status_code == 200
            assert o.connections == 3
            assert all(r.header("connection") == "close" for r in o.requests)


def test_http_reuse_always_shares_connections_across_clients(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, be="    http-reuse always"), port):
            for _ in range(3):
                assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
            assert o.connections == 1


def test_http_reuse_safe_first_request_gets_its_own_connection(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, be="    http-reuse safe"), port):
            for _ in range(3):
                assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
            assert o.connections == 3


def test_httpclose_closes_the_client_connection(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, fe="    option httpclose"), port):
            data = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            r = parse_response(data)
            assert r.status == 200 and r.header("connection") == "close"


def test_pipelined_requests_answered_in_order(codec: str) -> None:
    with OriginServer({"/slow": Response(200, b"slow\n", delay_head=0.2)}) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            req = (b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                   b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = raw_exchange(port, req)
            first = parse_response(data)
            second = parse_response(first.rest)
            assert first.body == b"slow\n" and second.body == b"ok\n"


# -- HTTP/1.0, 100-continue, bodies ----------------------------------------------------------------

def test_http10_client(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            r = curl("-0", "-i", f"http://127.0.0.1:{port}/")
            assert r.stdout.startswith("HTTP/1.1 200 OK")
            assert "connection: close" in r.stdout.lower()
            assert r.stdout.endswith("ok\n")


def _continue_origin() -> tuple[socket.socket, threading.Thread, list[int]]:
    """A one-shot origin that answers Expect: 100-continue before reading the body."""
    lsock = socket.create_server(("127.0.0.1", 0))
    got: list[int] = []

    def serve() -> None:
        conn, _ = lsock.accept()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            head, body = head.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            assert b"100-continue" in head.lower()
            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            while len(body) < length:
                body += conn.recv(65536)
            got.append(len(body))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngot\n")

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return lsock, th, got


def test_expect_100_continue(codec: str) -> None:
    lsock, th, got = _continue_origin()
    with lsock:
        port = free_port()
        with proxy(make_cfg(codec, port, lsock.getsockname()[1]), port):
            # curl sends the body only once the 100 arrives (its fallback is pushed back
            # to 60 s, so a 100 that is not forwarded makes the test fail, not slow)
            r = curl("-v", "--expect100-timeout", "60", "-H", "Expect: 100-continue",
                     "--data-binary", "x" * 5000, f"http://127.0.0.1:{port}/up")
            assert "HTTP/1.1 100 Continue" in r.stderr
            assert r.stdout == "got\n"
            th.join(5)
            assert got == [5000]


def test_large_chunked_download_streams(codec: str) -> None:
    size = 100 * 1024 * 1024
    with OriginServer({"/big": Response(200, size, chunked=True, chunk_size=65536)}) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, tserver="10s"), port):
            r = subprocess.run(f"curl -s --max-time 60 http://127.0.0.1:{port}/big | wc -c",
                               shell=True, capture_output=True, text=True, timeout=90)
            assert int(r.stdout.strip()) == size


def test_generator_upload_streams(codec: str) -> None:
    size = 64 * 1024 * 1024

    def gen():
        piece = b"y" * 65536
        for _ in range(size // len(piece)):
            yield piece

    with OriginServer(keep_body=0) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, tserver="10s"), port):
            r = httpx.post(f"http://127.0.0.1:{port}/up", content=gen(), timeout=60)
            assert r.status_code == 200
            assert o.requests[-1].body_len == size
            assert o.requests[-1].chunked


def test_content_length_upload(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            r = httpx.post(f"http://127.0.0.1:{port}/p", content=b"z" * 300000)
            assert r.status_code == 200
            assert o.requests[-1].body == b"z" * 300000 and not o.requests[-1].chunked


# -- errors ----------------------------------------------------------------------------------------

def test_400_malformed_request(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            r = parse_response(raw_exchange(port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n"))
            assert r.status == 400 and r.body == page(400)
            assert o.requests == []


def test_414_uri_too_long(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            data = raw_exchange(port, b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            r = parse_response(data)
            assert r.status == 414 and r.body == page(414)


def test_431_headers_too_large(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            data = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 20000 + b"\r\n\r\n")
            r = parse_response(data)
            assert r.status == 431 and r.body == page(431)


def test_too_many_headers_400(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        cfg = make_cfg(codec, port, o.port).replace("global\n", "global\n    tune.http.maxhdr 5\n")
        with proxy(cfg, port):
            hdrs = b"".join(b"X-%d: v\r\n" % i for i in range(8))
            r = parse_response(raw_exchange(port, b"GET / HTTP/1.1\r\n" + hdrs + b"\r\n"))
            assert r.status == 400


def test_400_transfer_coding_without_final_chunked(codec: str) -> None:
    """A request whose only transfer coding is not chunked: 400, as HAProxy (2.6 checked;
    422 when chunked comes last after other codings, see test_http1_strict)."""
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            data = raw_exchange(port, b"POST / HTTP/1.1\r\nHost: x\r\n"
                                b"Transfer-Encoding: gzip\r\n\r\nabc")
            r = parse_response(data)
            assert r.status == 400
            assert r.body == page(400)
            assert not o.requests


def test_408_request_timeout(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        fe = "    timeout http-request 300ms"
        with proxy(make_cfg(codec, port, o.port, fe=fe), port):
            # read for less than timeout client (5s): the 408 comes from timeout
            # http-request
            data = raw_exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\n", timeout=3)
            r = parse_response(data)
            assert r.status == 408 and r.body == page(408)
            assert r.header("connection") == "close"


def test_502_bad_response(codec: str) -> None:
    with OriginServer({"/bad": Response(action="raw", raw=b"garbage\r\n\r\n"),
                       "/gone": Response(action="close")}) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            for path in ("/bad", "/gone"):
                r = httpx.get(f"http://127.0.0.1:{port}{path}")
                assert r.status_code == 502 and r.content == page(502)


def test_503_no_server(codec: str) -> None:
    dead = free_port()
    port = free_port()
    with proxy(make_cfg(codec, port, dead), port):
        r = httpx.get(f"http://127.0.0.1:{port}/")
        assert r.status_code == 503 and r.content == page(503)
        assert r.headers["content-type"] == "text/html"


def test_504_server_timeout(codec: str) -> None:
    with OriginServer({"/slow": Response(200, b"late", delay_head=2.0)}) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, tserver="300ms"), port):
            r = httpx.get(f"http://127.0.0.1:{port}/slow")
            assert r.status_code == 504 and r.content == page(504)


def test_slow_server_does_not_stall_others(codec: str) -> None:
    """A request whose server holds its answer does not delay another client's: the
    second one is answered while the first is still held (no time is measured)."""
    hold = Holding()
    hold.release("/fast")
    with OriginServer(handler=hold) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, tserver="30s"), port):
            slow = subprocess.Popen(["curl", "-s", f"http://127.0.0.1:{port}/slow"],
                                    stdout=subprocess.PIPE)
            try:
                wait_until(lambda: "/slow" in hold.arrived, 10)
                assert httpx.get(f"http://127.0.0.1:{port}/fast").text == "done /fast\n"
                assert slow.poll() is None  # still held by its server
            finally:
                hold.release_all()
            assert slow.communicate(timeout=10)[0] == b"done /slow\n"


def test_malformed_request_does_not_disturb_another_client(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port), port):
            with httpx.Client() as c:
                assert c.get(f"http://127.0.0.1:{port}/1").status_code == 200
                r = parse_response(raw_exchange(port, b"\x00\x01garbage\r\n\r\n"))
                assert r.status == 400
                assert c.get(f"http://127.0.0.1:{port}/2").status_code == 200


def test_errorfile_and_http_error_override(codec: str) -> None:
    with OriginServer() as o:
        dead = free_port()
        port = free_port()
        cfg = make_cfg(codec, port, dead, fe="    http-error status 503 content-type text/plain "
                       "string \"sorry\\n\"")
        with proxy(cfg, port):
            r = httpx.get(f"http://127.0.0.1:{port}/")
            assert r.status_code == 503 and r.text == "sorry\n"
        errfile = b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\n\r\ncustom 502\n"
        o.route("/bad", Response(action="raw", raw=b"nonsense\r\n\r\n"))
        port = free_port()
        cfg = make_cfg(codec, port, o.port, be="    errorfile 502 e502.http")
        with proxy(cfg, port, files={"e502.http": errfile}):
            r = httpx.get(f"http://127.0.0.1:{port}/bad")
            assert r.status_code == 502 and r.text == "custom 502\n"


# -- actions on live traffic -----------------------------------------------------------------------

def test_request_actions(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        fe = "\n".join([
            "    option forwardfor",
            "    http-request set-header X-Set %[method]-%[path]",
            "    http-request add-header X-Add one",
            "    http-request del-header X-Drop",
            "    http-request set-path /rewritten if { path /old }",
            "    http-request deny if { path /forbidden }",
            "    http-request redirect location /elsewhere code 301 if { path /moved }",
        ])
        with proxy(make_cfg(codec, port, o.port, fe=fe), port):
            with httpx.Client() as c:
                r = c.get(f"http://127.0.0.1:{port}/old?q=1", headers={"X-Drop": "1"})
                assert r.status_code == 200
                req = o.requests[-1]
                assert req.target == "/rewritten?q=1"
                assert req.header("x-set") == "GET-/old"
                assert req.header("x-add") == "one"
                assert req.header("x-drop") is None
                assert req.header("x-forwarded-for") == "127.0.0.1"
                r = c.get(f"http://127.0.0.1:{port}/forbidden")
                assert r.status_code == 403 and r.content == page(403)
                r = c.get(f"http://127.0.0.1:{port}/moved")
                assert r.status_code == 301 and r.headers["location"] == "/elsewhere"
                # the connection is still usable after local replies
                assert c.get(f"http://127.0.0.1:{port}/x").status_code == 200


def test_response_actions(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        be = "\n".join([
            "    http-response set-status 202 reason Fine",
            "    http-response set-header X-Backend be",
        ])
        fe = "    http-response add-header X-Frontend fe\n    http-after-response set-header X-After 1"
        with proxy(make_cfg(codec, port, o.port, fe=fe, be=be), port):
            r = curl("-i", f"http://127.0.0.1:{port}/")
            assert r.stdout.startswith("HTTP/1.1 202 Fine")
            low = r.stdout.lower()
            assert "x-backend: be" in low and "x-frontend: fe" in low and "x-after: 1" in low


def test_acme_map_lf_string(codec: str) -> None:
    with OriginServer() as o:
        port = free_port()
        fe = ('    http-request return status 200 content-type text/plain lf-string '
              '"%[path,field(-1,/)].%[path,field(-1,/),map(acme.map)]\\n" '
              'if { path_beg /.well-known/acme-challenge/ }')
        files = {"acme.map": "tok123 thumbprint-abc\n"}
        with proxy(make_cfg(codec, port, o.port, fe=fe), port, files=files):
            r = httpx.get(f"http://127.0.0.1:{port}/.well-known/acme-challenge/tok123")
            assert r.status_code == 200
            assert r.text == "tok123.thumbprint-abc\n"
            assert r.headers["content-type"] == "text/plain"


# -- upgrade tunnel ---------------------------------------------------------------------------------

def test_websocket_upgrade_tunnel(codec: str) -> None:
    # a WebSocket handshake needs its key and accept headers (RFC 6455; HAProxy refuses
    # one without them unless option accept-unsafe-violations-in-http-request|response)
    ws = Response(status=101, action="upgrade", headers=[
        ("Connection", "Upgrade"), ("Upgrade", "websocket"),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")])
    with OriginServer({"/ws": ws}) as o:
        port = free_port()
        with proxy(make_cfg(codec, port, o.port, extra_defaults="timeout tunnel 5s"), port):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                          b"Upgrade: websocket\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
                head = b""
                while b"\r\n\r\n" not in head:
                    head += s.recv(4096)
                assert head.startswith(b"HTTP/1.1 101")
                rest = head.split(b"\r\n\r\n", 1)[1]
                s.sendall(b"ping-through-tunnel")
                got = rest
                while len(got) < len(b"ping-through-tunnel"):
                    got += s.recv(4096)
                assert got == b"ping-through-tunnel"
