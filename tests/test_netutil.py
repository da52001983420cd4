"""The network test helpers of netutil.py, checked with real clients: curl, httpx,
logger, raw sockets, and Debian's haproxy for run_haproxy."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from typing import Any

import httpx
import pytest
from netutil import (
    Incomplete,
    OriginServer,
    ProxyFailure,
    Response,
    TcpEchoServer,
    TcpSinkServer,
    TcpSyslog,
    UdpSyslog,
    UnixSyslog,
    WaitTimeout,
    check_pattern,
    free_port,
    free_ports,
    have_haproxy,
    iter_pattern,
    parse_response,
    pattern,
    raw_exchange,
    read_response,
    run_haproxy,
    run_hapx,
    wait_until,
)

CURL = shutil.which("curl")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed")
needs_haproxy = pytest.mark.skipif(not have_haproxy(), reason="haproxy is not installed")


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([CURL or "curl", "-s", "--max-time", "10", *args],
                          capture_output=True, timeout=20)


# --------------------------------------------------------------------------- ports, patterns

def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    for port in [*ports, free_port()]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_pattern_is_a_stable_stream():
    whole = pattern(200_000)
    assert b"".join(iter_pattern(200_000, chunk=1000)) == whole
    assert check_pattern(whole[12345:20000], 12345)
    assert not check_pattern(b"x" + whole[1:10])
    assert pattern(0) == b""


# --------------------------------------------------------------------------- origin server

def test_origin_keepalive_counts_connections_and_records_requests():
    with OriginServer() as origin, httpx.Client() as client:
        for i in range(3):
            r = client.post(origin.url(f"/p{i}?q=1"), content=b"x" * (i * 10),
                            headers={"X-Test": str(i)})
            assert r.status_code == 200
            assert r.text == "ok\n"
            assert r.headers["x-origin"] == origin.name
        assert origin.connections == 1
        reqs = origin.wait_requests(3)
        assert [(q.method, q.target, q.path, q.body_len, q.index) for q in reqs] == [
            ("POST", "/p0?q=1", "/p0", 0, 0), ("POST", "/p1?q=1", "/p1", 10, 1),
            ("POST", "/p2?q=1", "/p2", 20, 2)]
        assert reqs[1].header("x-test") == "1"
        assert reqs[2].body == b"x" * 20
        assert {q.conn_id for q in reqs} == {1}


@needs_curl
def test_origin_new_connection_per_curl_and_connection_close():
    with OriginServer({"/bye": Response(200, b"bye", close=True)}) as origin:
        assert curl(origin.url("/a")).stdout == b"ok\n"
        assert curl(origin.url("/b")).stdout == b"ok\n"
        out = curl("-i", origin.url("/bye")).stdout
        assert b"Connection: close\r\n" in out and out.endswith(b"bye")
        assert origin.connections == 3
        assert [q.conn_id for q in origin.requests] == [1, 2, 3]


def test_origin_routes_handler_and_default():
    def handler(req):
        if req.path.startswith("/h/"):
            return Response(201, f"handled {req.method} {req.target}",
                            {"X-Seen": req.header("x-in", "-")})
        return None

    origin = OriginServer({"/teapot": Response(418, b"short", reason="I'm a teapot")},
                          handler=handler, name="o1")
    with origin, httpx.Client() as client:
        r = client.get(origin.url("/teapot"))
        assert (r.status_code, r.reason_phrase, r.content) == (418, "I'm a teapot", b"short")
        r = client.get(origin.url("/h/x?y"), headers={"X-In": "v"})
        assert (r.status_code, r.text, r.headers["x-seen"]) == (201, "handled GET /h/x?y", "v")
        assert r.headers["x-origin"] == "o1"
        assert client.get(origin.url("/other")).text == "ok\n"


@pytest.mark.parametrize("chunked", [False, True])
def test_origin_large_generated_bodies(chunked):
    size = 50 * 1024 * 1024 + 7
    origin = OriginServer({"/big": Response(body=size, chunked=chunked, chunk_size=1 << 20)})
    with origin, httpx.Client() as client, client.stream("GET", origin.url("/big")) as r:
        assert ("transfer-encoding" in r.headers) == chunked
        assert r.headers.get("content-length") == (None if chunked else str(size))
        got = 0
        for piece in r.iter_bytes():
            assert check_pattern(piece, got)
            got += len(piece)
        assert got == size


@needs_curl
def test_origin_chunked_with_trailers_and_iterable_body_curl():
    parts = [b"alpha,", b"beta,", b"gamma"]
    origin = OriginServer({
        "/it": Response(body=lambda: iter(parts), chunked=True, trailers=[("X-T", "1")]),
        "/nolen": Response(body=[b"a" * 100, b"b" * 100], length=False),
    })
    with origin:
        out = curl("--raw", origin.url("/it")).stdout
        assert out == b"6\r\nalpha,\r\n5\r\nbeta,\r\n5\r\ngamma\r\n0\r\nX-T: 1\r\n\r\n"
        out = curl("-i", origin.url("/nolen")).stdout
        assert b"Connection: close" in out and out.endswith(b"a" * 100 + b"b" * 100)


def test_origin_request_bodies_chunked_and_large_upload():
    size = 20 * 1024 * 1024
    with OriginServer(keep_body=1000) as origin, httpx.Client() as client:
        r = client.post(origin.url("/up"), content=iter_pattern(size, 100_000))
        assert r.status_code == 200
        req = origin.last
        assert req.chunked and req.body_len == size and req.body == pattern(1000)


def test_origin_delays_are_honoured():
    origin = OriginServer({"/slowhead": Response(body=b"x", delay_head=0.3),
                           "/slowbody": Response(body=[b"a", b"b"], chunked=True,
                                                 delay_body=0.2, chunk_delay=0.2)})
    with origin, httpx.Client() as client:
        t0 = time.monotonic()
        assert client.get(origin.url("/slowhead")).text == "x"
        assert time.monotonic() - t0 >= 0.3
        with client.stream("GET", origin.url("/slowbody")) as r:
            t_head = time.monotonic()
            assert r.status_code == 200
            assert b"".join(r.iter_bytes()) == b"ab"
            assert time.monotonic() - t_head >= 0.35


def test_origin_stalled_response_ends_when_server_closes():
    origin = OriginServer({"/stall": Response(body=b"x", delay_head=3600)})
    with origin:
        with socket.create_connection(("127.0.0.1", origin.port), timeout=5) as s:
            s.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
            origin.wait_requests(1)
            origin.close()
            s.settimeout(3)  # the close must come before this read gives up
            assert s.recv(100) == b""


def test_origin_close_reset_and_malformed():
    origin = OriginServer({
        "/close": Response(action="close"),
        "/reset": Response(action="reset"),
        "/bad": Response(action="raw", raw=b"HTTP/1.1 abc Nope\r\nX: y\r\n\r\n"),
    })
    with origin, httpx.Client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(origin.url("/close"))
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            client.get(origin.url("/reset"))
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(origin.url("/bad"))
        assert raw_exchange(origin.port, b"GET /bad HTTP/1.1\r\n\r\n") == \
            b"HTTP/1.1 abc Nope\r\nX: y\r\n\r\n"
        assert len(origin.requests) == 4


def test_origin_http10_head_204_and_expect_continue():
    origin = OriginServer({"/nc": Response(204)})
    with origin:
        data = raw_exchange(origin.port, b"GET /a HTTP/1.0\r\n\r\n")
        resp = parse_response(data)
        assert (resp.status, resp.header("connection"), resp.body) == (200, "close", b"ok\n")
        data = raw_exchange(origin.port, b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n"
                            b"GET /nc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        head = parse_response(data, head_request=True)
        assert head.header("content-length") == "3" and head.body == b""
        nc = parse_response(head.rest)
        assert nc.status == 204 and nc.header("content-length") is None
        with socket.create_connection(("127.0.0.1", origin.port), timeout=5) as s:
            s.sendall(b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
            s.sendall(b"body")
            resp = parse_response(s.recv(1000))
            assert resp.status == 200 and origin.last.body == b"body"


def test_origin_upgrade_then_echo():
    with OriginServer({"/ws": Response.upgrade()}) as origin:
        with socket.create_connection(("127.0.0.1", origin.port), timeout=5) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
                      b"Upgrade: websocket\r\n\r\nearly")
            data = b""
            while b"early" not in data:
                data += s.recv(1000)
            resp = parse_response(data)
            assert resp.status == 101 and resp.header("upgrade") == "websocket"
            assert resp.rest == b"early"
            s.sendall(b"ping")
            assert s.recv(100) == b"ping"
            s.shutdown(socket.SHUT_WR)
            assert s.recv(100) == b""


@needs_curl
def test_origin_serves_curl_in_parallel():
    gate = threading.Event()
    arrived = []

    def held(req: Any) -> Response:
        arrived.append(req.path)
        gate.wait(10)
        return Response(body=b"s")

    origin = OriginServer(handler=held)
    with origin:
        procs = [subprocess.Popen([CURL or "curl", "-s", origin.url("/slow")],
                                  stdout=subprocess.PIPE) for _ in range(5)]
        try:
            # all five are being served at once: none is answered before the gate opens
            wait_until(lambda: len(arrived) == 5, 10)
        finally:
            gate.set()
        outs = [p.communicate(timeout=10)[0] for p in procs]
        assert outs == [b"s"] * 5
        assert origin.connections == 5


def test_origin_truncated_responses_and_early_answer():
    origin = OriginServer({
        "/cut": Response(body=100_000, truncate=1000),
        "/cutchunked": Response(body=100_000, chunked=True, truncate=10),
        "/early": Response(413, b"too big", read_body=False),
    })
    with origin:
        with socket.create_connection(("127.0.0.1", origin.port), timeout=5) as s:
            s.sendall(b"GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
            with pytest.raises(Incomplete):
                read_response(s)
        data = raw_exchange(origin.port, b"GET /cut HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = data.partition(b"\r\n\r\n")
        assert b"Content-Length: 100000" in head and b"Connection" not in head
        assert body == pattern(1000)
        data = raw_exchange(origin.port, b"GET /cutchunked HTTP/1.1\r\nHost: x\r\n\r\n")
        assert data.endswith(b"\r\n\r\n" + b"%x\r\n" % 10 + pattern(10) + b"\r\n")
        data = raw_exchange(origin.port, b"POST /early HTTP/1.1\r\nHost: x\r\n"
                            b"Content-Length: 1000000\r\n\r\npartial")
        resp = parse_response(data)
        assert (resp.status, resp.body) == (413, b"too big")
        assert origin.last.body_len == 0


def test_read_response_keepalive_pipelined():
    origin = OriginServer({"/c": Response(body=[b"ab", b"cd"], chunked=True,
                                          trailers=[("X-Sum", "4")])})
    with origin, socket.create_connection(("127.0.0.1", origin.port), timeout=5) as s:
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"HEAD /a HTTP/1.1\r\nHost: x\r\n\r\n")
        buf = bytearray()
        first = read_response(s, buffer=buf)
        second = read_response(s, buffer=buf)
        third = read_response(s, buffer=buf, head_request=True)
        assert first.body == b"ok\n" and second.body == b"abcd"
        assert second.trailers == [("X-Sum", "4")]
        assert third.header("content-length") == "3" and third.body == b""
        assert origin.connections == 1 and [q.index for q in origin.requests] == [0, 1, 2]
        with pytest.raises(WaitTimeout):
            read_response(s, buffer=buf, timeout=0.2)


# --------------------------------------------------------------------------- TCP servers

def test_echo_server_echoes_and_half_closes():
    with TcpEchoServer() as echo:
        data = pattern(300_000)
        with socket.create_connection(("127.0.0.1", echo.port), timeout=5) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            got = bytearray()
            while piece := s.recv(65536):
                got += piece
        assert bytes(got) == data
        assert echo.bytes_in == len(data) and echo.connections == 1


def test_sink_counts_sends_and_half_closes():
    with TcpSinkServer(send=100_000, half_close=True) as sink:
        with socket.create_connection(("127.0.0.1", sink.port), timeout=5) as s:
            got = bytearray()
            while piece := s.recv(65536):   # ends with the server's half-close
                got += piece
            assert check_pattern(bytes(got)) and len(got) == 100_000
            s.sendall(b"x" * 5000)          # our side still open
            s.shutdown(socket.SHUT_WR)
            sink.wait_eof(1)
        assert sink.bytes_in == 5000
        assert sink.conns[0].sent == 100_000 and sink.conns[0].head == b"x" * 5000


def test_sink_close_after_send():
    with TcpSinkServer(send=10, close_after_send=True) as sink:
        assert raw_exchange(sink.port, b"") == pattern(10)
        with pytest.raises(WaitTimeout):
            sink.wait_connections(2, timeout=0.1)


# --------------------------------------------------------------------------- syslog receivers

def logger(*args: str, stdin: bytes | None = None) -> None:
    subprocess.run(["logger", *args], input=stdin, check=True, timeout=10)


def test_udp_syslog_with_logger():
    with UdpSyslog() as rx:
        logger("-n", "127.0.0.1", "-P", str(rx.port), "-d", "--rfc5424=notq,notime,nohost",
               "-t", "hapx", "-p", "local0.info", "udp msg")
        assert rx.wait_for(1) == ["<134>1 - - hapx - - - udp msg"]
        assert rx.address == f"127.0.0.1:{rx.port}"


def test_tcp_syslog_framings_with_logger():
    with TcpSyslog() as rx:
        logger("-n", "127.0.0.1", "-P", str(rx.port), "-T", "--octet-count",
               "--rfc5424=notq,notime,nohost", "-t", "hapx", stdin=b"one\ntwo\n")
        logger("-n", "127.0.0.1", "-P", str(rx.port), "-T", "--rfc5424=notq,notime,nohost",
               "-t", "hapx", "lf framed")
        msgs = rx.wait_for(3)
        assert msgs == ["<13>1 - - hapx - - - one", "<13>1 - - hapx - - - two",
                        "<13>1 - - hapx - - - lf framed"]
        assert rx.framing == ["octet", "octet", "lf"]
        assert rx.connections == 2


def test_tcp_syslog_split_and_glued_frames():
    with TcpSyslog() as rx:
        with socket.create_connection(("127.0.0.1", rx.port), timeout=5) as s:
            s.sendall(b"5 hel")
            time.sleep(0.05)                 # a frame split across two segments
            s.sendall(b"lo3 abcline one\nline")
            s.sendall(b" two\n")
            assert rx.wait_for(4) == ["hello", "abc", "line one", "line two"]


def test_unix_syslog_with_logger():
    with UnixSyslog() as rx:
        logger("-u", rx.path, "--rfc3164", "-t", "hapx", "-p", "local1.err", "unix msg")
        (msg,) = rx.wait_for(1)
        assert msg.startswith("<139>") and msg.endswith(" hapx: unix msg")


def test_syslog_wait_is_bounded():
    with UdpSyslog() as rx:
        with pytest.raises(WaitTimeout, match="0 syslog messages"):
            rx.wait_for(1, timeout=0.2)


# --------------------------------------------------------------------------- proxy processes

HAPROXY_CFG = """
global
    log 127.0.0.1:{log} local0
defaults
    mode http
    log global
    option httplog
    option dontlognull
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{fe}
    http-request return status 200 content-type text/plain string "local\\n" if {{ path /local }}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


@needs_haproxy
def test_run_haproxy_proxies_to_origin_with_keepalive_and_logs():
    fe = free_port()
    with OriginServer() as origin, UdpSyslog() as logs:
        cfg = HAPROXY_CFG.format(log=logs.port, fe=fe, origin=origin.port)
        with run_haproxy(cfg, ready_ports=[fe]) as px, httpx.Client() as client:
            assert px.alive and px.pid > 0
            for _ in range(5):
                r = client.get(f"http://127.0.0.1:{fe}/x")
                assert r.status_code == 200 and r.headers["x-origin"] == origin.name
            assert client.get(f"http://127.0.0.1:{fe}/local").text == "local\n"
            assert origin.connections == 1          # haproxy reused its server connection
            assert len(origin.requests) == 5
            lines = logs.wait_for(6)
            assert " fe be/s1 " in lines[0] and '"GET /x HTTP/1.1"' in lines[0]
            assert " fe fe/<NOSRV> " in lines[5] and " LR-- " in lines[5]
            assert px.cpu_ticks() >= 0
        assert not px.alive


@needs_haproxy
def test_run_haproxy_soft_stop_and_stderr():
    fe = free_port()
    cfg = f"frontend fe\n    mode http\n    bind 127.0.0.1:{fe}\n" \
          f"    http-request return status 204\n"
    with run_haproxy(cfg, ready_ports=[fe]) as px:
        r = httpx.get(f"http://127.0.0.1:{fe}/")
        assert r.status_code == 204
        assert px.stop(soft=True) == 0
        assert "missing timeouts" in px.stderr


@needs_haproxy
def test_run_haproxy_rejected_config_fails_readably():
    with pytest.raises(ProxyFailure, match="rejected the configuration"):
        with run_haproxy("frontend fe\n    bogus-keyword 1\n"):
            pass


@needs_haproxy
def test_run_haproxy_crash_is_reported():
    fe = free_port()
    cfg = f"frontend fe\n    mode http\n    bind 127.0.0.1:{fe}\n" \
          f"    timeout client 1s\n    http-request return status 204\n"
    with pytest.raises(ProxyFailure, match="exited on its own"):
        with run_haproxy(cfg, ready_ports=[fe]) as px:
            px.proc.kill()
            px.proc.wait(5)


@needs_haproxy
def test_run_haproxy_port_never_listening_times_out():
    fe, other = free_ports(2)
    cfg = f"frontend fe\n    mode http\n    bind 127.0.0.1:{fe}\n    timeout client 1s\n"
    with pytest.raises(ProxyFailure, match=f"{other} did not listen"):
        with run_haproxy(cfg, ready_ports=[fe, other], timeout=0.5):
            pass


def test_run_hapx_reports_start_failure_with_stderr():
    with pytest.raises(ProxyFailure) as info:
        with run_hapx("frontend fe\n    bogus-keyword 1\n", ready_ports=[free_port()]):
            pass
    text = str(info.value)
    assert "exited with status" in text and "bogus-keyword" in text


def test_run_hapx_serves_when_the_data_path_is_there():
    fe = free_port()
    cfg = f"""
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{fe}
    http-request return status 200 content-type text/plain string "hi\\n"
"""
    with run_hapx(cfg, ready_ports=[fe], timeout=10) as px:
        assert httpx.get(f"http://127.0.0.1:{fe}/").text == "hi\n"
        assert px.stop(soft=True) == 0
