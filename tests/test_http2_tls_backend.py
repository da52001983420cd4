"""HTTP/2 towards servers over TLS: `server … ssl … alpn h2` (the server's ALPN choice picks
the HTTP version: h2, or HTTP/1.1 on `alpn h2,http/1.1` when the server prefers it) and
`proto h2` over TLS, with HTTP/1.1 and HTTP/2 clients; `ssl_bc_alpn` reports what was
negotiated.  The origins are real TLS servers with certificates made by the fixtures."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import httpx
import pytest
from cliutil import cli
from h2util import H2Origin
from netutil import (
    OriginServer,
    check_pattern,
    free_port,
    run_haproxy,
    run_hapx,
    wait_until,
)
from tlspki import CA, write

MiB = 1 << 20


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = CA()
    paths = write(d, {"ca.pem": ca.pem, "origin.pem": ca.leaf(["origin.test",
                                                               "127.0.0.1"]).bundle})
    return {k: str(v) for k, v in paths.items()}


def origin_ctx(pki, alpn: list[str]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["origin.pem"])
    ctx.set_alpn_protocols(alpn)
    return ctx


class TlsH1Origin(OriginServer):
    """An HTTP/1.1 origin over TLS (its ALPN list chosen by the context)."""

    def __init__(self, ctx: ssl.SSLContext, **kw) -> None:
        self.ctx = ctx
        self.alpns: list[str | None] = []
        super().__init__(**kw)

    def serve(self, conn_id: int, sock: socket.socket) -> None:
        sock.settimeout(5)
        tls = self.ctx.wrap_socket(sock, server_side=True)
        with self.lock:
            self.alpns.append(tls.selected_alpn_protocol())
        tls.settimeout(0.2)
        super().serve(conn_id, tls)


def _cfg(port: int, origin: int, srv: str, bind: str = "") -> str:
    return f"""
global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port} {bind}
    http-response set-header x-bc-alpn %[ssl_bc_alpn]
    http-response set-header x-bc %[ssl_bc]
    default_backend be
backend be
    server s1 127.0.0.1:{origin} {srv}
"""


def _h1_client_checks(port: int, alpn: str) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
        r = c.get("/x?y=1")
        assert r.status_code == 200 and r.text == "h2 ok\n"
        assert r.headers["x-bc-alpn"] == alpn and r.headers["x-bc"] == "1"
        big = 8 * MiB
        r = c.get(f"/size/{big}")
        assert len(r.content) == big and check_pattern(r.content)
        body = bytes(range(256)) * (12 * 1024)  # 3 MiB
        r = c.post("/echo", content=body)
        assert r.content == body
        r = c.post("/len", content=iter([b"a" * 70000, b"b" * 70000]))
        assert r.text == "140000\n"


@pytest.mark.parametrize("srv", [
    "ssl verify required ca-file {ca} alpn h2",
    "ssl verify none alpn h2,http/1.1",
    "ssl verify required ca-file {ca} proto h2",
])
def test_http1_client_to_tls_h2_server(pki, srv):
    """GET, a large download and POSTs from an HTTP/1.1 client reach a TLS HTTP/2 server
    over one TLS connection speaking h2, which ssl_bc_alpn reports."""
    port = free_port()
    with H2Origin(ssl_ctx=origin_ctx(pki, ["h2"])) as origin, \
            run_hapx(_cfg(port, origin.port, srv.format(ca=pki["ca.pem"])),
                     ready_ports=[port]) as px:
        # proto h2 forces HTTP/2 without offering ALPN (none is then negotiated)
        _h1_client_checks(port, "h2" if "alpn" in srv else "")
        assert origin.connections == 1
        first = origin.requests[0]
        assert first[":path"] == "/x?y=1"
        line = px.wait_output('"GET /x?y=1 HTTP/1.1"')
        assert " be/s1 " in line and " 200 " in line
    assert origin.alpns == ["h2" if "alpn" in srv else None]


def test_h2_client_to_tls_h2_server_multiplexed(pki):
    """An HTTP/2 client's concurrent streams, a download and an upload ride one TLS h2
    server connection chosen by ALPN."""
    port = free_port()
    srv = f"ssl verify required ca-file {pki['ca.pem']} alpn h2,http/1.1"
    with H2Origin(ssl_ctx=origin_ctx(pki, ["h2", "http/1.1"]), delay=0.2) as origin, \
            run_hapx(_cfg(port, origin.port, srv, bind="proto h2"), ready_ports=[port]) as px:
        async def run() -> tuple[list[httpx.Response], httpx.Response, httpx.Response]:
            tr = httpx.AsyncHTTPTransport(http1=False, http2=True)
            async with httpx.AsyncClient(transport=tr, timeout=30,
                                         base_url=f"http://127.0.0.1:{port}") as c:
                # the first request makes the connection (its ALPN known only after the
                # handshake), the next streams share it
                first = await c.get("/first")
                assert first.headers["x-bc-alpn"] == "h2"
                many = await asyncio.gather(*(c.get(f"/s{i}") for i in range(50)))
                down = await c.get(f"/size/{6 * MiB}")
                up = await c.post("/echo", content=b"q" * (2 * MiB))
                return many, down, up
        many, down, up = asyncio.run(run())
        assert all(r.status_code == 200 and r.text == "h2 ok\n" for r in many)
        assert all(r.http_version == "HTTP/2" and r.headers["x-bc-alpn"] == "h2"
                   for r in many)
        assert origin.max_concurrent > 10
        assert len(down.content) == 6 * MiB and check_pattern(down.content)
        assert up.content == b"q" * (2 * MiB)
        assert origin.connections == 1 and origin.alpns == ["h2"]
        px.wait_output('/s49 HTTP/2.0"')


def test_alpn_h2_http11_server_choosing_http11_is_spoken_http11(pki):
    """On `alpn h2,http/1.1` a server that negotiates http/1.1 gets HTTP/1.1 requests,
    from HTTP/1.1 and HTTP/2 clients alike."""
    port = free_port()
    srv = f"ssl verify required ca-file {pki['ca.pem']} alpn h2,http/1.1"
    with TlsH1Origin(origin_ctx(pki, ["http/1.1"])) as origin, \
            run_hapx(_cfg(port, origin.port, srv, bind="proto h2"), ready_ports=[port]):
        tr = httpx.HTTPTransport(http1=False, http2=True)
        with httpx.Client(transport=tr, timeout=10) as c:
            r = c.get(f"http://127.0.0.1:{port}/one")
            assert r.status_code == 200 and r.text == "ok\n"
            assert r.headers["x-bc-alpn"] == "http/1.1"
            r = c.post(f"http://127.0.0.1:{port}/up", content=b"u" * 100000)
            assert r.status_code == 200
        assert origin.alpns and set(origin.alpns) == {"http/1.1"}
        reqs = origin.requests
        assert [q.path for q in reqs] == ["/one", "/up"]
        assert all(q.version == "HTTP/1.1" for q in reqs)
        assert reqs[1].body_len == 100000


def test_alpn_h2_server_without_alpn_is_spoken_http11(pki):
    """A TLS server that agrees on no ALPN protocol is spoken to in HTTP/1.1."""
    port = free_port()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["origin.pem"])
    with TlsH1Origin(ctx) as origin, \
            run_hapx(_cfg(port, origin.port, "ssl verify none alpn h2,http/1.1"),
                     ready_ports=[port]):
        r = httpx.get(f"http://127.0.0.1:{port}/plain", timeout=10)
        assert r.status_code == 200 and r.text == "ok\n"
        assert "x-bc-alpn" not in r.headers or r.headers["x-bc-alpn"] == ""
        assert origin.alpns == [None]
        assert origin.requests[0].version == "HTTP/1.1"


@pytest.mark.parametrize("runner", [run_hapx, run_haproxy])
@pytest.mark.parametrize("origin_alpn", [["h2"], ["http/1.1"]], ids=["h2", "http1.1"])
def test_alpn_choice_matches_haproxy(pki, runner, origin_alpn):
    """hapx and Debian's haproxy (the oracle) alike: on `alpn h2,http/1.1` an origin
    choosing h2 is spoken to in HTTP/2, one choosing http/1.1 in HTTP/1.1, and
    ssl_bc_alpn says which."""
    port = free_port()
    ctx = origin_ctx(pki, origin_alpn)
    origin = H2Origin(ssl_ctx=ctx) if origin_alpn == ["h2"] else TlsH1Origin(ctx)
    srv = f"ssl verify required ca-file {pki['ca.pem']} alpn h2,http/1.1"
    with origin, runner(_cfg(port, origin.port, srv), ready_ports=[port]):
        r = httpx.get(f"http://127.0.0.1:{port}/oracle", timeout=10)
        assert r.status_code == 200
        assert r.headers["x-bc-alpn"] == origin_alpn[0]
        assert r.text == ("h2 ok\n" if origin_alpn == ["h2"] else "ok\n")
        assert origin.alpns == origin_alpn
        if origin_alpn == ["h2"]:
            # an origin-form request converted to HTTP/2: :scheme https, no :authority,
            # the Host header kept
            req = origin.requests[0]
            assert req[":scheme"] == "https" and ":authority" not in req
            assert req["host"] == f"127.0.0.1:{port}"


def test_alpn_h2_server_new_connection_shared_while_being_established(pki):
    """Once a server chose h2 by ALPN, a new connection to it is expected to be h2 again:
    a burst of streams arriving while it is being established shares it (one handshake,
    not one per stream)."""
    port = free_port()
    srv = f"ssl verify required ca-file {pki['ca.pem']} alpn h2,http/1.1"
    with H2Origin(ssl_ctx=origin_ctx(pki, ["h2", "http/1.1"])) as origin, \
            run_hapx(_cfg(port, origin.port, srv, bind="proto h2"), ready_ports=[port]) as px:
        async def run() -> list[httpx.Response]:
            tr = httpx.AsyncHTTPTransport(http1=False, http2=True)
            async with httpx.AsyncClient(transport=tr, timeout=30,
                                         base_url=f"http://127.0.0.1:{port}") as c:
                assert (await c.get("/first")).headers["x-bc-alpn"] == "h2"
                origin.close_connections()
                for _ in range(100):
                    if origin.open == 0:
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.2)  # hapx saw the close
                return await asyncio.gather(*(c.get(f"/b{i}") for i in range(30)))
        res = asyncio.run(run())
        assert [r.status_code for r in res] == [200] * 30, px.stdout
        assert all(r.headers["x-bc-alpn"] == "h2" for r in res)
        assert origin.connections == 2 and origin.alpns == ["h2", "h2"]


def test_alpn_server_changing_its_choice_to_http11(pki, tmp_path):
    """A server that chose h2 and now chooses http/1.1 (another origin behind the same
    server after `set server … addr`): the connection expected to be h2 is given up and
    the request is spoken in HTTP/1.1 on the negotiated one."""
    port = free_port()
    sock = str(tmp_path / "admin.sock")
    srv = f"ssl verify required ca-file {pki['ca.pem']} alpn h2,http/1.1"
    with H2Origin(ssl_ctx=origin_ctx(pki, ["h2"])) as h2o, \
            TlsH1Origin(origin_ctx(pki, ["http/1.1"])) as h1o:
        text = _cfg(port, h2o.port, srv, bind="proto h2").replace(
            "global\n", f"global\n    stats socket {sock} level admin\n", 1)
        with run_hapx(text, ready_ports=[port]):
            tr = httpx.HTTPTransport(http1=False, http2=True)
            with httpx.Client(transport=tr, timeout=10) as c:
                assert c.get(f"http://127.0.0.1:{port}/a").headers["x-bc-alpn"] == "h2"
            h2o.close_connections()
            wait_until(lambda: h2o.open == 0)
            out = cli(sock, f"set server be/s1 addr 127.0.0.1 port {h1o.port}")
            assert "changed" in out.lower() or out.strip() == "", out
            time.sleep(0.2)  # hapx saw the server's close
            with httpx.Client(transport=httpx.HTTPTransport(http1=False, http2=True),
                              timeout=10) as c:
                r = c.get(f"http://127.0.0.1:{port}/b")
                assert r.status_code == 200 and r.text == "ok\n"
                assert r.headers["x-bc-alpn"] == "http/1.1"
        assert h2o.requests[-1][":path"] == "/a"
        assert [q.path for q in h1o.requests] == ["/b"]
        assert h1o.alpns == ["http/1.1"]
