"""HTTP/2 towards servers (`server … proto h2`): HTTP/1 and HTTP/2 clients to an HTTP/2
server (h1↔h2 conversion both ways), many streams multiplexed on one server connection
shared across clients, flow control towards the server, gRPC with its trailers end to end,
and `idle-ping` on server lines."""

from __future__ import annotations

import asyncio
import shutil
import struct
import subprocess

import httpx
import pytest
from h2util import H2Origin, RawH2
from netutil import check_pattern, free_port, run_hapx, wait_until


def _cfg(port: int, origin: int, bind: str = "", srv: str = "proto h2", be: str = "",
         glob: str = "") -> str:
    return f"""
global
    log stdout format raw local0
{glob}
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port} {bind}
    default_backend be
backend be
{be}
    server s1 127.0.0.1:{origin} {srv}
"""


def test_http1_client_to_h2_server_get_post_download():
    port = free_port()
    with H2Origin() as origin, run_hapx(_cfg(port, origin.port), ready_ports=[port]) as px:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20) as c:
            r = c.get("/x?y=1", headers={"x-a": "b"})
            assert r.status_code == 200 and r.text == "h2 ok\n"
            assert r.http_version == "HTTP/1.1"
            big = 5 << 20
            r = c.get(f"/size/{big}")
            assert len(r.content) == big and check_pattern(r.content)
            body = b"z" * (3 << 20)
            r = c.post("/echo", content=body)
            assert r.content == body
            # a body of unknown length (chunked from the client)
            r = c.post("/len", content=iter([b"a" * 70000, b"b" * 70000]))
            assert r.text == "140000\n"
        first = origin.requests[0]
        # an origin-form request: :scheme https, no :authority, the Host header kept (as
        # haproxy 2.6 sends it: see test_http2_tls_backend's oracle test)
        assert first[":path"] == "/x?y=1" and first["host"] == f"127.0.0.1:{port}"
        assert first[":scheme"] == "https" and first["x-a"] == "b"
        assert ":authority" not in first and "connection" not in first
        line = px.wait_output('"GET /x?y=1 HTTP/1.1"')
        assert " be/s1 " in line and " 200 " in line


def test_h2_client_h2_server_100_streams_share_one_server_connection():
    """100 concurrent streams of one client connection ride one server connection."""
    port = free_port()
    with H2Origin(delay=0.2) as origin, run_hapx(_cfg(port, origin.port, "proto h2"),
                                                 ready_ports=[port]):
        async def run() -> list[httpx.Response]:
            tr = httpx.AsyncHTTPTransport(http1=False, http2=True)
            async with httpx.AsyncClient(transport=tr, timeout=20,
                                         base_url=f"http://127.0.0.1:{port}") as c:
                return await asyncio.gather(*(c.get(f"/s{i}") for i in range(100)))
        res = asyncio.run(run())
        assert all(r.status_code == 200 and r.text == "h2 ok\n" for r in res)
        assert origin.connections == 1
        assert origin.max_concurrent > 50


def test_idle_server_connection_shared_across_clients():
    """An idle HTTP/2 server connection serves the next client connections (http-reuse)."""
    port = free_port()
    with H2Origin() as origin, run_hapx(_cfg(port, origin.port, be="    http-reuse always"),
                                        ready_ports=[port]):
        for i in range(5):
            with httpx.Client(timeout=10) as c:
                r = c.get(f"http://127.0.0.1:{port}/c{i}")
                assert r.headers["x-h2-conn"] == "1"
        assert origin.connections == 1
        # concurrent clients multiplexed on it too
        with httpx.Client(timeout=10) as a, httpx.Client(timeout=10) as b:
            assert a.get(f"http://127.0.0.1:{port}/a").headers["x-h2-conn"] == "1"
            assert b.get(f"http://127.0.0.1:{port}/b").headers["x-h2-conn"] == "1"


def _grpc_frame(msg: bytes) -> bytes:
    return struct.pack(">BI", 0, len(msg)) + msg


def test_grpc_through_h2_keeps_trailers():
    port = free_port()
    with H2Origin() as origin, run_hapx(_cfg(port, origin.port, "proto h2"),
                                        ready_ports=[port]) as px:
        cli = RawH2(port)
        msg = _grpc_frame(b"\x0a\x05hello")
        sid = cli.request("POST", "/grpc/test.Echo/Say", body=msg,
                          headers=[("content-type", "application/grpc"), ("te", "trailers")])
        status, headers, body = cli.response(sid)
        assert status == 200 and headers["content-type"] == "application/grpc"
        assert body == msg
        assert headers["grpc-status"] == "0" and headers["grpc-message"] == "echoed"
        req = origin.requests[-1]
        assert req["te"] == "trailers" and req["content-type"] == "application/grpc"
        cli.close()
        px.wait_output("/grpc/test.Echo/Say HTTP/2.0")


def test_server_idle_ping_closes_silent_server_keeps_answering_one():
    port = free_port()
    with H2Origin() as origin, run_hapx(_cfg(port, origin.port, srv="proto h2 idle-ping 300ms"),
                                        ready_ports=[port]):
        with httpx.Client(timeout=10) as c:
            assert c.get(f"http://127.0.0.1:{port}/a").headers["x-h2-conn"] == "1"
            # the server answers the pings: the idle connection is kept over several
            wait_until(lambda: origin.pings >= 3, 10)
            assert c.get(f"http://127.0.0.1:{port}/b").headers["x-h2-conn"] == "1"
            # the server stops answering: hapx closes the connection, the next request
            # opens another
            origin.answer_pings = False
            wait_until(lambda: origin.open == 0, 10)
            origin.answer_pings = True
            assert c.get(f"http://127.0.0.1:{port}/c").headers["x-h2-conn"] == "2"


needs_h2load = pytest.mark.skipif(shutil.which("h2load") is None, reason="h2load missing")


@needs_h2load
def test_h2load_through_h2_both_sides():
    port = free_port()
    with H2Origin() as origin, run_hapx(_cfg(port, origin.port, "proto h2"),
                                        ready_ports=[port]):
        out = subprocess.run(["h2load", "-n", "2000", "-c", "1", "-m", "100",
                              f"http://127.0.0.1:{port}/"], capture_output=True, text=True,
                             timeout=120)
        assert "2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed" in \
            out.stdout, out.stdout
        assert origin.connections == 1


def test_be_max_concurrent_streams_spreads_over_connections():
    """tune.h2.be.max-concurrent-streams caps the streams of one server connection: more
    concurrent requests open more connections, each within the cap."""
    port = free_port()
    glob = "    tune.h2.be.max-concurrent-streams 10"
    with H2Origin(delay=0.3) as origin, run_hapx(_cfg(port, origin.port, "proto h2",
                                                      glob=glob), ready_ports=[port]) as px:
        async def run() -> list[httpx.Response]:
            tr = httpx.AsyncHTTPTransport(http1=False, http2=True)
            async with httpx.AsyncClient(transport=tr, timeout=20,
                                         base_url=f"http://127.0.0.1:{port}") as c:
                return await asyncio.gather(*(c.get(f"/m{i}") for i in range(40)))
        res = asyncio.run(run())
        assert [r.status_code for r in res] == [200] * 40, px.output()
        assert origin.max_per_conn == 10
        assert origin.connections >= 4
