"""Interim 1xx responses relayed to HTTP/3 and HTTP/2 clients: 100 Continue answered by an
HTTP/1.1 server to a request carrying ``Expect: 100-continue``, and 102/103 sent before the
final response.  Clients: the aioquic HTTP/3 client of tests/h3client.py, a raw h2 client
and curl over h2c."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import h2.events
import pytest
from h2util import RawH2
from h3client import h3_connect, wait_quic
from netutil import OriginServer, Response, free_port, pattern, run_hapx
from test_http3 import free_udp_tcp_port, pki  # noqa: F401 - the module's PKI fixture

_RAW = (b"HTTP/1.1 102 Processing\r\n\r\n"
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfinal")


def _cfg(port: int, origin: int, bind: str) -> str:
    return f"""
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind {bind}
    default_backend be
backend be
    server s1 127.0.0.1:{origin}
"""


def _h3_bind(pki, port: int) -> str:  # noqa: F811
    return f"quic4@127.0.0.1:{port} ssl crt {pki['www']} alpn h3"


def _origin() -> OriginServer:
    return OriginServer({"/proc": Response(action="raw", raw=_RAW)}, keep_body=1 << 20)


def test_h3_100_continue_and_102_103_relayed(pki):  # noqa: F811
    port = free_udp_tcp_port()
    with _origin() as origin, run_hapx(_cfg(port, origin.port, _h3_bind(pki, port)),
                                       ready_ports=[]):
        async def go():
            await wait_quic(port, pki["ca"])
            async with h3_connect(port, pki["ca"]) as c:
                up = await c.request("POST", "/up", body=pattern(50000), headers=[
                    ("expect", "100-continue"), ("content-length", "50000")])
                proc = await c.request("GET", "/proc")
                plain = await c.request("GET", "/plain")
                return up, proc, plain
        up, proc, plain = asyncio.run(go())
        assert [dict(h)[b":status"] for h in up.interim] == [b"100"]
        assert up.status == 200 and origin.requests[0].body_len == 50000
        assert origin.requests[0].header("expect") == "100-continue"
        assert [dict(h)[b":status"] for h in proc.interim] == [b"102", b"103"]
        assert dict(proc.interim[1])[b"link"] == b"</s.css>; rel=preload"
        assert proc.status == 200 and bytes(proc.body) == b"final"
        assert plain.interim == [] and plain.status == 200


def _h2_interim(cli: RawH2, sid: int) -> list[int]:
    return [int(dict(e.headers)[":status"]) for e in cli.events
            if isinstance(e, h2.events.InformationalResponseReceived) and e.stream_id == sid]


def test_h2_100_continue_and_102_103_relayed():
    port = free_port()
    with _origin() as origin, run_hapx(_cfg(port, origin.port, f"127.0.0.1:{port} proto h2"),
                                       ready_ports=[port]):
        cli = RawH2(port)
        sid = cli.request("POST", "/up", end=False, headers=[
            ("expect", "100-continue"), ("content-length", "5")])
        cli.wait(lambda evs: _h2_interim(cli, sid))
        cli.conn.send_data(sid, b"hello", end_stream=True)
        cli.flush()
        assert cli.response(sid)[0] == 200
        assert _h2_interim(cli, sid) == [100]
        proc = cli.request("GET", "/proc")
        status, _h, body = cli.response(proc)
        assert (status, body) == (200, b"final")
        assert _h2_interim(cli, proc) == [102, 103]
        cli.close()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_h2_curl_sees_interim_responses():
    port = free_port()
    with _origin() as origin, run_hapx(_cfg(port, origin.port, f"127.0.0.1:{port} proto h2"),
                                       ready_ports=[port]):
        out = subprocess.run(["curl", "-sv", "--max-time", "10", "--http2-prior-knowledge",
                              f"http://127.0.0.1:{port}/proc"],
                             capture_output=True, text=True, timeout=20)
        assert out.stdout == "final", out
        statuses = [ln.split()[2] for ln in out.stderr.splitlines()
                    if ln.startswith("< HTTP/2 ")]
        assert statuses == ["102", "103", "200"], out.stderr
